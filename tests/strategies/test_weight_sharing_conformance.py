"""Conformance suite over every registered weight-sharing strategy, on a tiny supernet."""

from __future__ import annotations

import pytest
import torch

from parsecnas.nets import SuperNet
from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search
from parsecnas.spaces import Genotype, get_space
from parsecnas.strategies import create_strategy, list_strategies

STRATEGIES = list_strategies()


def run_steps(name: str, seed: int, steps: int = 2):
    space = get_space("darts")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = SuperNet(num_cells=3, channels=4, num_classes=3)
    config = getattr(SearchConfig(), name)
    strategy = create_strategy(name, space, config, seed)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    gen = torch.Generator().manual_seed(7)
    for _ in range(steps):
        batch = (torch.randn(4, 3, 32, 32, generator=gen), torch.randint(0, 3, (4,), generator=gen))
        stats = strategy.step(net, weights, batch, batch)
        assert all(isinstance(v, float) for v in stats.values())
    return strategy, net


@pytest.mark.parametrize("name", STRATEGIES)
def test_same_seed_gives_the_same_search(name: str) -> None:
    a, net_a = run_steps(name, seed=1)
    b, net_b = run_steps(name, seed=1)
    assert isinstance(a.derive(), Genotype) and a.derive() == b.derive()
    assert all(torch.equal(p, q) for p, q in zip(net_a.parameters(), net_b.parameters()))


@pytest.mark.parametrize("name", STRATEGIES)
def test_state_dict_round_trips_through_a_weights_only_checkpoint(name: str, tmp_path) -> None:
    a, _ = run_steps(name, seed=2)
    torch.save(a.state_dict(), tmp_path / "s.pt")
    b = create_strategy(name, get_space("darts"), getattr(SearchConfig(), name), seed=99)
    b.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    assert b.derive() == a.derive()
    assert b.epoch_metrics().keys() == a.epoch_metrics().keys()


@pytest.mark.parametrize("name", STRATEGIES)
def test_search_loop_runs_each_strategy_and_sets_its_schedule(name: str, tmp_path) -> None:
    cfg = SearchConfig(strategy=name, epochs=2, steps_per_epoch=1, net=NetConfig(num_cells=3, channels=4),
                       data=DataConfig(batch_size=4, eval_examples=16))
    result = run_search(cfg, tmp_path / name, progress=False)
    assert (tmp_path / name / "genotype.json").is_file() and len(result.metrics) >= 1
    for figure in result.strategy.figures(tmp_path / name):
        assert figure.stat().st_size > 0
    strategy_config = getattr(result.strategy, "config", None)
    if strategy_config is not None and hasattr(strategy_config, "epochs"):
        assert strategy_config.epochs == 2 and strategy_config.steps_per_epoch == 1
