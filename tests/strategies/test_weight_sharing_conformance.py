"""Conformance suite over every registered weight-sharing strategy on every registered space it supports, on
tiny supernets; and every relaxed space's supernet gives every parameter a gradient."""

from __future__ import annotations

import pytest
import torch

from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search
from parsecnas.spaces import RelaxedSpace, get_space, list_spaces
from parsecnas.strategies import create_strategy, list_strategies
from parsecnas.strategies.base import supports

PAIRS = [(name, space) for space in list_spaces() for name in list_strategies() if supports(name, get_space(space))]


def tiny_supernet(space: str) -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return get_space(space).supernet(num_cells=3, channels=4, num_classes=3, in_channels=3)


def run_steps(name: str, space_name: str, seed: int, steps: int = 2):
    space = get_space(space_name)
    net = tiny_supernet(space_name)
    strategy = create_strategy(name, space, None, seed)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    gen = torch.Generator().manual_seed(7)
    for _ in range(steps):
        batch = (torch.randn(4, 3, 16, 16, generator=gen), torch.randint(0, 3, (4,), generator=gen))
        stats = strategy.step(net, weights, batch, batch)
        assert all(isinstance(v, float) for v in stats.values())
    return strategy, net


def test_every_registered_space_has_strategies_and_every_strategy_a_space() -> None:
    assert {space for _, space in PAIRS} == set(list_spaces())
    assert {name for name, _ in PAIRS} == set(list_strategies())


@pytest.mark.parametrize(("name", "space"), PAIRS)
def test_same_seed_gives_the_same_search(name: str, space: str) -> None:
    a, net_a = run_steps(name, space, seed=1)
    b, net_b = run_steps(name, space, seed=1)
    arch = a.derive()
    assert arch == b.derive() and get_space(space).parse(get_space(space).format(arch)) == arch
    assert all(torch.equal(p, q) for p, q in zip(net_a.parameters(), net_b.parameters()))


@pytest.mark.parametrize(("name", "space"), PAIRS)
def test_state_dict_round_trips_through_a_weights_only_checkpoint(name: str, space: str, tmp_path) -> None:
    a, _ = run_steps(name, space, seed=2)
    torch.save(a.state_dict(), tmp_path / "s.pt")
    b = create_strategy(name, get_space(space), None, seed=99)
    b.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    assert b.derive() == a.derive()
    assert b.epoch_metrics().keys() == a.epoch_metrics().keys()


@pytest.mark.parametrize("name", list_strategies())
def test_search_loop_runs_each_strategy_and_sets_its_schedule(name: str, tmp_path) -> None:
    space = "darts" if supports(name, get_space("darts")) else next(s for n, s in PAIRS if n == name)
    cfg = SearchConfig(strategy=name, space=space, epochs=2, steps_per_epoch=1,
                       net=NetConfig(num_cells=3, channels=4), data=DataConfig(batch_size=4, eval_examples=16))
    result = run_search(cfg, tmp_path / name, progress=False)
    files = get_space(space).files(result.architecture)
    assert all((tmp_path / name / f).is_file() for f in files) and len(result.metrics) >= 1
    for figure in result.strategy.figures(tmp_path / name):
        assert figure.stat().st_size > 0
    schedule = {k: getattr(cfg.settings, k) for k in ("epochs", "steps_per_epoch") if hasattr(cfg.settings, k)}
    for key in schedule:  # the loop sets the strategy's schedule fields to the search's own
        assert getattr(result.strategy.config, key) == {"epochs": 2, "steps_per_epoch": 1}[key]


@pytest.mark.parametrize("space", [s for s in list_spaces() if isinstance(get_space(s), RelaxedSpace)])
def test_every_supernet_parameter_gets_a_gradient_from_the_uniform_mixture(space: str) -> None:
    relaxed = get_space(space)
    assert isinstance(relaxed, RelaxedSpace)
    layout = relaxed.mixing_layout
    net = tiny_supernet(space)
    mixing = {c: torch.full(layout.shape, 1.0 / len(layout.ops)) for c in layout.cells}
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 3, (4,))
    torch.nn.functional.cross_entropy(net(x, mixing), y).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"parameters without a gradient: {missing[:5]}"
