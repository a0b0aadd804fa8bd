"""FBNet's latency loss in DARTS and GDAS: the relaxed view's cost terms and the loss moving alpha to cheap ops."""

from __future__ import annotations

import pytest
import torch

from parsecnas.estimators.cost import AdditiveCost, AdditiveTable, parameter_cost
from parsecnas.nets.nb201 import NB201SuperNet
from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.spaces import get_space, sample_uniform
from parsecnas.strategies.cost_budget import LatencyLoss, mixing_terms
from parsecnas.strategies.darts import Darts, DartsConfig
from parsecnas.strategies.gumbel import Gdas, GdasConfig


@pytest.mark.parametrize("space_name", ["nb201", "darts"])
def test_mixing_terms_give_each_architecture_its_cost(space_name: str) -> None:
    space = get_space(space_name)
    cost = parameter_cost(space, space.net_setting("cifar10", num_cells=4 if space_name == "darts" else 1))
    table = cost.table()
    terms = mixing_terms(space, table)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        arch = sample_uniform(space, generator)
        mixing = space.mixing_from(arch)
        assert table.offset + sum(float((mixing[c] * t).sum()) for c, t in terms.items()) == pytest.approx(cost(arch))


def cheap_none_cost() -> AdditiveCost:
    """NB201: ``none`` costs 1 ms per edge, every other op 20 ms, plus 2 ms."""
    space = get_space("nb201")
    row = tuple(1.0 if op == "none" else 20.0 for op in space.decisions[0].choices)
    return AdditiveCost(space, AdditiveTable((row,) * 6, 2.0), "toy latency", "ms")


def test_the_fbnet_factor_is_alpha_log_lat_to_the_beta() -> None:
    loss = LatencyLoss(get_space("nb201"), cheap_none_cost())
    uniform = {"cell": torch.full((6, 5), 0.2)}
    lat = 2.0 + 6 * (0.2 * 1 + 0.8 * 20)
    assert float(loss.expected(uniform)) == pytest.approx(lat)
    assert float(loss.factor(uniform)) == pytest.approx(0.2 * torch.tensor(lat).log().item() ** 0.6)


def search(strategy_cls, config, cost=None, steps: int = 25) -> float:
    """The relaxed cell's expected toy latency after a few search steps on a tiny NB201 supernet."""
    torch.manual_seed(0)
    net = NB201SuperNet(num_cells=1, channels=4)
    strategy = strategy_cls(get_space("nb201"), config, seed=0, cost=cost)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        batch = (torch.randn(8, 3, 16, 16, generator=generator), torch.randint(0, 10, (8,), generator=generator))
        strategy.step(net, weights, batch, batch)
    return LatencyLoss(get_space("nb201"), cheap_none_cost()).metrics(
        {c: torch.softmax(a.detach(), -1) for c, a in strategy.alpha.items()}, {"cell": torch.zeros(6, 5)}
    )["cost_expected"]


@pytest.mark.parametrize("strategy_cls, config_cls", [(Darts, DartsConfig), (Gdas, GdasConfig)])
def test_the_latency_loss_moves_alpha_to_cheaper_ops(strategy_cls, config_cls) -> None:
    plain = search(strategy_cls, config_cls(arch_lr=0.05, steps_per_epoch=25, **(
        {"epochs": 1} if config_cls is GdasConfig else {})))
    aware = search(strategy_cls, config_cls(arch_lr=0.05, steps_per_epoch=25, cost="toy", latency_alpha=5.0,
                                            **({"epochs": 1} if config_cls is GdasConfig else {})),
                   cost=cheap_none_cost())
    assert aware < plain


def test_latency_loss_settings_are_validated_and_reported() -> None:
    with pytest.raises(ValueError, match="latency_alpha > 0"):
        DartsConfig(latency_alpha=0.0)
    darts = Darts(get_space("nb201"), DartsConfig(cost="toy"), seed=0, cost=cheap_none_cost())
    assert {"cost_expected", "cost_derived"} <= set(darts.epoch_metrics())
    assert "cost_expected" not in Darts(get_space("nb201"), DartsConfig(), seed=0).epoch_metrics()
