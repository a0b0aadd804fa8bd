"""Latency predictors learnt from measured networks recover known latency functions."""

from __future__ import annotations

import pytest
import torch

from parsecnas.estimators.latency_predictor import fit_additive_latency, fit_latency_mlp
from parsecnas.spaces import get_space, sample_uniform


def sample(n: int, seed: int = 0) -> list:
    space, generator = get_space("nb201"), torch.Generator().manual_seed(seed)
    return [sample_uniform(space, generator) for _ in range(n)]


def test_ridge_recovers_an_additive_latency_and_its_table() -> None:
    space = get_space("nb201")
    truth = [2.0 + sum(0.5 * c + (d == 0) * c for d, c in enumerate(space.to_choices(a))) for a in sample(80)]
    cost = fit_additive_latency(space, sample(80), truth, l2=1e-8)
    for arch in sample(10, seed=1):
        choices = space.to_choices(arch)
        assert cost(arch) == pytest.approx(2.0 + sum(0.5 * c + (d == 0) * c for d, c in enumerate(choices)), abs=1e-5)
    table = cost.table()
    differences = [table.values[0][c] - table.values[0][0] for c in range(5)]
    assert differences == pytest.approx([0.0, 1.5, 3.0, 4.5, 6.0], abs=1e-5)


def test_the_mlp_fits_an_interaction_the_additive_table_cannot() -> None:
    space = get_space("nb201")

    def latency(arch: object) -> float:  # a product of two decisions: not additive
        c = space.to_choices(arch)
        return 1.0 + c[0] * c[1]

    train, test = sample(300), sample(50, seed=2)
    truth = [latency(a) for a in train]
    mlp = fit_latency_mlp(space, train, truth, hidden=64, steps=800)
    ridge = fit_additive_latency(space, train, truth)

    def error(cost) -> float:
        return sum(abs(cost(a) - latency(a)) / latency(a) for a in test) / len(test)

    assert error(mlp) < 0.5 * error(ridge)


def test_predictors_need_matching_measurements() -> None:
    with pytest.raises(ValueError, match="as many latencies"):
        fit_additive_latency(get_space("nb201"), sample(3), [1.0, 2.0])
