"""PARSEC with a cost budget: the exact expected cost, its gradient, and the budget moving pi to cheap ops."""

from __future__ import annotations

import json

import pytest
import torch

from parsecnas.distributions import CategoricalProduct
from parsecnas.estimators.cost import AdditiveCost, AdditiveTable, FunctionCost
from parsecnas.estimators.cost_specs import make_cost
from parsecnas.spaces import get_space
from parsecnas.strategies.cost_budget import CostBudget
from parsecnas.strategies.parsec import Parsec, ParsecConfig


def random_belief(space_name: str, seed: int) -> tuple[CategoricalProduct, torch.Tensor]:
    dist = CategoricalProduct(get_space(space_name).decisions).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        dist.logits.copy_(2 * torch.randn(dist.logits.shape, generator=generator, dtype=torch.float64))
    table = torch.rand(dist.logits.shape, generator=generator, dtype=torch.float64).masked_fill(~dist.valid, 0.0)
    return dist, table


@pytest.mark.parametrize("space_name", ["nb201", "darts"])
def test_expected_cost_equals_the_monte_carlo_mean_of_sampled_costs(space_name: str) -> None:
    dist, table = random_belief(space_name, 0)
    budget = CostBudget(table, offset=2.0, target=1.0)
    costs = budget.costs(dist.sample(20000, torch.Generator().manual_seed(1)))
    standard_error = float(costs.std()) / len(costs) ** 0.5
    assert abs(float(budget.expected(dist).detach()) - float(costs.mean())) < 5 * standard_error


def test_expected_cost_gradient_equals_the_closed_form_and_finite_differences() -> None:
    dist, table = random_belief("darts", 2)
    expected = dist.expectation(table)
    (grad,) = torch.autograd.grad(expected, dist.logits)
    probs = dist.probs().detach()
    per_decision = (probs * table).sum(dim=1, keepdim=True)
    assert torch.allclose(grad, (probs * (table - per_decision)).masked_fill(~dist.valid, 0.0), atol=1e-12)
    eps = 1e-6
    for d, c in [(0, 3), (5, 20), (15, 34)]:
        with torch.no_grad():
            dist.logits[d, c] += eps
            up = float(dist.expectation(table))
            dist.logits[d, c] -= 2 * eps
            down = float(dist.expectation(table))
            dist.logits[d, c] += eps
        assert (up - down) / (2 * eps) == pytest.approx(float(grad[d, c]), abs=1e-7)


def synthetic_cost(space_name: str = "nb201") -> AdditiveCost:
    """Each op costs its index in the decision (choice 0 is free), plus a fixed part of 1."""
    space = get_space(space_name)
    return AdditiveCost(space, AdditiveTable(tuple(tuple(float(c) for c in range(d.size)) for d in space.decisions),
                                             1.0), "synthetic")


def run_updates(parsec: Parsec, steps: int = 150) -> None:
    """pi's updates with equal importance weights: only the budget prefers any architecture."""
    for _ in range(steps):
        choices, _ = parsec.sample(8)
        parsec.update_distribution(choices, torch.full((8,), 1 / 8))


@pytest.mark.parametrize("method", ["penalty", "lagrangian"])
def test_the_budget_moves_pi_to_cheaper_ops(method: str) -> None:
    cost = synthetic_cost()
    config = ParsecConfig(samples=8, arch_lr=0.05, cost="synthetic", cost_target=7.0, cost_method=method,
                          cost_weight=2.0 if method == "penalty" else 0.5)
    parsec = Parsec(get_space("nb201"), config, seed=0, cost=cost)
    start = float(parsec.budget.expected(parsec.distribution))
    assert start == pytest.approx(1.0 + 6 * 2.0)  # uniform over 5 choices: mean index 2
    run_updates(parsec)
    metrics = parsec.epoch_metrics()
    assert metrics["cost_expected"] < 7.5 and metrics["cost_mode"] <= 7.0
    assert metrics["cost_mode"] == cost(parsec.derive())
    assert float(parsec.distribution.probs()[:, 0].mean()) > 0.3  # the free choice gained (from 0.2)


def test_without_a_budget_equal_weights_leave_pi_where_it_was_on_average() -> None:
    parsec = Parsec(get_space("nb201"), ParsecConfig(samples=8, arch_lr=0.05), seed=0)
    run_updates(parsec)
    assert parsec.budget is None and "cost_expected" not in parsec.epoch_metrics()
    assert float(parsec.distribution.probs()[:, 0].mean()) < 0.3


def test_metrics_report_the_sampled_cost_distribution_and_the_state_keeps_the_multiplier() -> None:
    config = ParsecConfig(cost="synthetic", cost_target=5.0, cost_method="lagrangian")
    parsec = Parsec(get_space("nb201"), config, seed=0, cost=synthetic_cost())
    run_updates(parsec, 5)
    metrics = parsec.epoch_metrics()
    assert metrics["cost_sampled_p10"] <= metrics["cost_sampled_p50"] <= metrics["cost_sampled_p90"]
    assert 0 <= metrics["cost_within_target"] <= 1 and abs(metrics["cost_sampled_mean"] - 13) < 1
    other = Parsec(get_space("nb201"), config, seed=0, cost=synthetic_cost())
    other.load_state_dict(parsec.state_dict())
    assert other.budget.multiplier_ == parsec.budget.multiplier_ > 0
    assert parsec.outputs()["cost_budget"]["cost_target"] == 5.0


def test_a_named_cost_is_made_from_the_config_and_a_non_additive_one_is_refused() -> None:
    parsec = Parsec(get_space("nb201"), ParsecConfig(cost="params", cost_target=0.5), seed=0)
    assert 0.2 < parsec.epoch_metrics()["cost_expected"] < 1.5
    with pytest.raises(TypeError, match="not additive"):
        Parsec(get_space("nb201"), ParsecConfig(cost="x", cost_target=1.0), cost=FunctionCost(len, "x"))
    with pytest.raises(ValueError, match="cost_target > 0"):
        ParsecConfig(cost="params")


def test_a_budgeted_search_logs_costs_each_epoch_and_writes_the_final_budget(tmp_path) -> None:
    from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search

    config = SearchConfig(space="nb201", strategy="parsec", epochs=2, steps_per_epoch=2,
                          net=NetConfig(num_cells=1, channels=4), data=DataConfig(batch_size=8, eval_examples=32),
                          settings=ParsecConfig(samples=2, cost="params", cost_target=0.5,
                                                cost_method="lagrangian"))
    result = run_search(config, tmp_path / "run", progress=False)
    assert all({"cost_expected", "cost_mode", "cost_sampled_p50", "cost_multiplier"} <= set(m)
               for m in result.metrics)
    final = json.loads((tmp_path / "run" / "cost_budget.json").read_text())
    assert final["cost"] == "params" and final["cost_target"] == 0.5
    assert final["cost_mode"] == pytest.approx(make_cost("params", get_space("nb201"))(result.architecture))
