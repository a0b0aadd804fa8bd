from __future__ import annotations

import io

import pytest
import torch
from _tiny import batch, tiny_net
from torch import nn

from parsecnas.nets.cells import SearchCell
from parsecnas.ops import PRIMITIVES
from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.spaces import Genotype, get_space
from parsecnas.strategies.base import create_strategy
from parsecnas.strategies.gumbel import (
    Gdas,
    GdasConfig,
    Snas,
    SnasConfig,
    gumbel_max,
    hard_gumbel_sample,
    op_parameter_counts,
    temperature,
)


def test_gumbel_max_frequencies_match_the_softmax_probabilities() -> None:
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0, 0.5, -0.5, 0.0, 1.5])
    n = 40000
    draws = gumbel_max(logits.expand(n, 8), torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=8).float() / n
    p = logits.softmax(0)
    assert ((freq - p).abs() < 4 * (p * (1 - p) / n).sqrt() + 1e-3).all()


def test_hard_sample_is_one_hot_with_the_gradient_of_the_tempered_softmax() -> None:
    alpha = torch.randn(14, 8, generator=torch.Generator().manual_seed(1)).requires_grad_()
    weights, active = hard_gumbel_sample(alpha, 0.5, torch.Generator().manual_seed(2))
    assert active.sum(dim=1).tolist() == [1] * 14
    assert torch.allclose(weights.detach(), active.float(), atol=1e-6)
    (weights * torch.arange(8.0)).sum().backward()
    assert alpha.grad is not None and float(alpha.grad.abs().sum()) > 0


def test_temperature_schedule_endpoints() -> None:
    assert temperature(0, 100, 10.0, 0.1) == 10.0
    assert temperature(99, 100, 10.0, 0.1) == pytest.approx(0.1)
    assert temperature(500, 100, 10.0, 0.1) == pytest.approx(0.1)
    assert temperature(33, 67, 10.0, 0.1) == pytest.approx(5.05)  # linear: halfway
    assert temperature(0, 10, 1.0, 0.01, "exponential") == 1.0
    assert temperature(9, 10, 1.0, 0.01, "exponential") == pytest.approx(0.01)
    gdas = Gdas(get_space("darts"), GdasConfig(epochs=2, steps_per_epoch=3))
    assert gdas.tau == 10.0
    gdas.steps = 5
    assert gdas.tau == pytest.approx(0.1)


def count_op_calls(net: nn.Module) -> dict[int, int]:
    """Forward calls of candidate ops per search cell."""
    calls: dict[int, int] = {}
    for i, cell in enumerate(m for m in net.modules() if isinstance(m, SearchCell)):
        for edge in cell.edges:
            assert isinstance(edge, nn.ModuleDict)
            for op in edge.values():
                op.register_forward_hook(lambda *_, i=i: calls.__setitem__(i, calls.get(i, 0) + 1))
    return calls


def test_gdas_runs_at_most_one_op_per_edge_and_updates_alpha() -> None:
    net = tiny_net()
    calls = count_op_calls(net)
    gdas = Gdas(get_space("darts"), GdasConfig(epochs=1, steps_per_epoch=2), seed=0)
    before = {c: a.detach().clone() for c, a in gdas.alpha.items()}
    opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    stats = gdas.step(net, opt, batch(1), batch(2))
    assert stats["tau"] == 10.0
    assert all(0 < n <= 2 * 14 for n in calls.values())  # two forwards (train, search), <= 14 ops each
    assert all(not torch.equal(before[c], gdas.alpha[c].detach()) for c in before)


@pytest.mark.parametrize("name, config", [("gdas", GdasConfig(epochs=1, steps_per_epoch=3)),
                                          ("snas", SnasConfig(epochs=1, steps_per_epoch=3, resource_weight=0.1))])
def test_same_seed_same_result_and_state_round_trips(name: str, config: GdasConfig | SnasConfig) -> None:
    runs = []
    for _ in range(2):
        net, strategy = tiny_net(), create_strategy(name, get_space("darts"), config, seed=4)
        opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        runs.append(([strategy.step(net, opt, batch(1), batch(2)) for _ in range(2)], strategy))
    assert runs[0][0] == runs[1][0]
    a = runs[0][1]
    assert isinstance(a, Gdas | Snas)
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    b = create_strategy(name, get_space("darts"), config, seed=99)
    assert isinstance(b, Gdas | Snas)
    b.load_state_dict(torch.load(buffer, weights_only=True))
    assert all(torch.equal(a.alpha[c], b.alpha[c]) for c in a.alpha) and a.tau == b.tau
    assert isinstance(b.derive(), Genotype) and b.derive() == a.derive()
    assert torch.equal(a.generator.get_state(), b.generator.get_state())
    net_a, net_b = tiny_net(), tiny_net()
    opt_a = WeightOptimizer(net_a.parameters(), WeightOptimConfig(), epochs=1)
    opt_b = WeightOptimizer(net_b.parameters(), WeightOptimConfig(), epochs=1)
    assert a.step(net_a, opt_a, batch(3), batch(4)) == b.step(net_b, opt_b, batch(3), batch(4))


def test_snas_resource_penalty_favours_parameter_free_ops() -> None:
    net = tiny_net()
    counts = op_parameter_counts(net)
    normal = counts["normal"]
    assert float(normal[:, PRIMITIVES.index("skip_connect")].abs().max()) == 0.0
    assert bool((normal[:, PRIMITIVES.index("sep_conv_5x5")] > normal[:, PRIMITIVES.index("sep_conv_3x3")]).all())
    snas = Snas(get_space("darts"), SnasConfig(epochs=1, steps_per_epoch=5, resource_weight=1e4, arch_lr=0.05))
    opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    for step in range(3):
        snas.step(net, opt, batch(step), batch(step))
    p = snas.probabilities()["normal"]
    assert bool((p[:, PRIMITIVES.index("sep_conv_5x5")] < p[:, PRIMITIVES.index("skip_connect")]).all())
