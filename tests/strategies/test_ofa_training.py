"""OFA / BigNAS: the sandwich step, progressive shrinking, the budgeted search and exact resume."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from parsecnas.estimators.cost import count_multiply_adds
from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search
from parsecnas.spaces import get_space
from parsecnas.strategies import Ofa, OfaConfig
from parsecnas.strategies.ofa import PHASES

VOLATILE = {"time_s", "peak_rss_mb"}


def tiny(seed: int = 0, in_channels: int = 3):
    space = get_space("ofa")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = space.supernet(num_cells=2, channels=4, num_classes=3, in_channels=in_channels)
    return space, net


def test_sandwich_steps_reduce_every_subnetworks_loss_on_a_tiny_problem() -> None:
    space, net = tiny()
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 3, 16, 16, generator=gen), torch.randint(0, 3, (16,), generator=gen)
    ofa = Ofa(space, OfaConfig(epochs=1, steps_per_epoch=100, distill=False), seed=0)
    opt = WeightOptimizer(net.parameters(), WeightOptimConfig(lr=0.05, lr_min=0.05), epochs=1)

    def losses() -> list[float]:
        net.train()
        with torch.no_grad():
            return [F.cross_entropy(net(x, a), y).item() for a in (space.largest(), space.smallest())]

    before = losses()
    first = ofa.step(net, opt, (x, y), (x, y))
    assert set(first) >= {"loss", "loss_smallest", "loss_subnets", "grad_norm"}
    for _ in range(14):
        ofa.step(net, opt, (x, y), (x, y))
    after = losses()
    assert after[0] < before[0] - 0.2 and after[1] < before[1] - 0.2


def test_one_step_accumulates_the_gradients_of_every_sandwich_member() -> None:
    space, net = tiny()
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 3, (8,))
    ofa = Ofa(space, OfaConfig(epochs=1, steps_per_epoch=10, random_subnets=1), seed=4)
    members = ofa.sandwich(ofa.config.elastic(0))
    assert members[0] == space.largest() and members[1] == space.smallest() and len(members) == 3
    # in-place distillation: the others' loss is the cross-entropy to the largest's soft predictions
    ofa.generator.manual_seed(4)
    opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    stats = ofa.step(net, opt, (x, y), (x, y))
    assert stats["loss_smallest"] > 0 and stats["elastic_dimensions"] == 5.0


def test_progressive_shrinking_makes_dimensions_elastic_phase_by_phase() -> None:
    cfg = OfaConfig(epochs=1, steps_per_epoch=10, search_fraction=0.2, progressive=True)
    assert [cfg.elastic(s) for s in range(cfg.training_steps)] == [PHASES[i] for i in (0, 0, 1, 1, 2, 2, 3, 3)]
    ofa = Ofa(get_space("ofa"), cfg, seed=0)
    assert ofa.sandwich(()) == [get_space("ofa").largest()]
    kernel_phase = ofa.sandwich(PHASES[1])
    assert all(a.depths == (4,) * 4 and set(a.expands[0]) == {6} for a in kernel_phase)
    assert OfaConfig().elastic(0) == PHASES[-1]


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="cost_target"):
        OfaConfig(cost="params")
    with pytest.raises(ValueError, match="cost"):
        OfaConfig(cost="latency", cost_target=1.0)
    with pytest.raises(ValueError, match="search"):
        OfaConfig(search="bananas")
    with pytest.raises(TypeError, match="ofa space"):
        Ofa(get_space("nb201"))


def small_search(strategy_settings: OfaConfig, epochs: int = 3) -> SearchConfig:
    return SearchConfig(strategy="ofa", space="ofa", epochs=epochs, steps_per_epoch=3,
                        net=NetConfig(num_cells=2, channels=4), data=DataConfig(batch_size=8, eval_examples=32),
                        settings=strategy_settings)


def test_the_returned_subnetwork_respects_the_cost_budget(tmp_path) -> None:
    space, net = tiny(in_channels=1)  # the built-in data's images
    costs = {a: count_multiply_adds(net.extract(a), (1, a.resolution, a.resolution)) / 1e6
             for a in (space.smallest(), space.largest())}
    assert costs[space.smallest()] < costs[space.largest()]
    target = costs[space.smallest()] * 1.6
    cfg = small_search(OfaConfig(search_fraction=0.5, candidates_per_step=6, cost="madds", cost_target=target))
    result = run_search(cfg, tmp_path / "r", progress=False)
    built = space.build(result.architecture, num_cells=2, channels=4, in_channels=1)
    r = result.architecture.resolution
    assert count_multiply_adds(built, (1, r, r)) / 1e6 <= target
    assert any(s < 0 for _, s, _ in result.strategy.scored)  # some candidates were over it, and refused
    assert all(c <= target for _, s, c in result.strategy.scored if s >= 0)
    with pytest.raises(ValueError, match="below the smallest"):
        run_search(small_search(OfaConfig(cost="params", cost_target=1e-6)), tmp_path / "tiny", progress=False)


def test_killed_search_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch) -> None:
    cfg = small_search(OfaConfig(search_fraction=0.4, random_subnets=1, candidates_per_step=2))
    full = run_search(cfg, tmp_path / "full", progress=False)
    calls = {"n": 0}
    original = Ofa.step

    def dying_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # in epoch 2, after the epoch-1 checkpoint
            raise KeyboardInterrupt("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Ofa, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        run_search(cfg, tmp_path / "killed", progress=False)
    monkeypatch.setattr(Ofa, "step", original)
    resumed = run_search(cfg, tmp_path / "killed", resume=True, progress=False)
    stable = [[{k: v for k, v in m.items() if k not in VOLATILE} for m in r.metrics] for r in (full, resumed)]
    assert stable[0] == stable[1] and resumed.architecture == full.architecture
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(a["net"][k], b["net"][k]) for k in a["net"])
    assert a["strategy"]["scored"] == b["strategy"]["scored"]
