"""Successive halving and Hyperband, on synthetic objectives and on the NB201 12-epoch / 200-epoch tables."""

from __future__ import annotations

import os

import numpy as np
import pytest

from parsecnas.estimators.multifidelity import Hyperband, NB201Fidelity, SuccessiveHalving
from parsecnas.spaces.nb201 import NB201Space
from parsecnas.strategies.random_search import RandomSearch


def test_successive_halving_keeps_a_third_per_rung_and_charges_each_evaluation() -> None:
    calls: list[tuple[int, float]] = []

    def estimator(arch: int, fidelity: float) -> float:
        calls.append((arch, fidelity))
        return arch + fidelity * np.sin(arch)  # noisy at low fidelity; arch 26 wins at the top

    result = SuccessiveHalving((1, 2, 3), eta=3).run(list(range(27)), estimator)
    assert [sum(1 for _, f in calls if f == r) for r in (1, 2, 3)] == [27, 9, 3]
    assert result.cost == 27 * 1 + 9 * 2 + 3 * 3
    assert result.best_arch == max({a for a, f in calls if f == 3}, key=lambda a: a + 3 * np.sin(a))


def test_hyperband_brackets_trade_many_cheap_starts_for_few_full_runs() -> None:
    hb = Hyperband((12, 200), eta=3, scale=10)
    assert hb.bracket_sizes() == [30, 20]
    counter = iter(range(10 ** 6))
    result = hb.run(lambda n: [next(counter) for _ in range(n)], lambda a, f: -abs(a - 7) if f == 200 else 0.0)
    assert result.best_arch == 7 and result.cost == 30 * 12 + 10 * 200 + 20 * 200


@pytest.mark.skipif(not os.environ.get("PARSECNAS_DATA"), reason="PARSECNAS_DATA is not set")
def test_successive_halving_on_nb201_beats_the_average_candidate() -> None:
    estimator = NB201Fidelity("cifar10")
    candidates = RandomSearch(NB201Space(), seed=0).ask(90)
    result = SuccessiveHalving(NB201Fidelity.FIDELITIES, eta=3).run(candidates, estimator)
    full = [estimator(a, 200).test_accuracy for a in candidates]
    assert result.best_result.epochs == 200 and result.cost == 90 * 12 + 30 * 200
    assert result.best_result.test_accuracy > np.percentile(full, 90)
    with pytest.raises(ValueError, match="fidelities are"):
        estimator(candidates[0], 50)


def test_fidelities_must_increase() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        SuccessiveHalving((200, 12))
