"""NSGA-II on a toy two-objective problem whose front is known; its front, resume and the cost it minimises."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from parsecnas.estimators.cost import AdditiveCost, AdditiveTable
from parsecnas.pareto import hypervolume, pareto_front
from parsecnas.spaces import get_space
from parsecnas.strategies import create_blackbox, run_blackbox
from parsecnas.strategies.nsga2 import NsgaII, NsgaIIConfig

pytest.importorskip("optuna")
pytest.importorskip("moocore")

SPACE = get_space("nb201")
SQUARES = AdditiveCost(SPACE, AdditiveTable(tuple(tuple(float(c * c) for c in range(5)) for _ in range(6)), 0.0),
                       "squares")
"""Toy problem: maximise the sum of the six choice indices, minimise the sum of their squares. The front is,
for each sum s in 0..24, the most even split of s over the six decisions."""


def score(arch: object) -> float:
    return float(sum(SPACE.to_choices(arch)))


def true_front() -> np.ndarray:
    points = [(sum(c), sum(x * x for x in c)) for c in itertools.product(range(5), repeat=6)]
    return pareto_front(points)


def test_the_toy_front_is_the_even_splits() -> None:
    front = true_front()
    assert len(front) == 25 and front[:, 0].tolist() == list(range(25))
    assert front[7].tolist() == [7, 1 + 1 + 1 + 1 + 1 + 4]  # 7 = 2 + 1 * 5


def test_nsga2_covers_the_known_front_better_than_random_search() -> None:
    reference, best = (-1.0, 97.0), hypervolume(true_front(), (-1.0, 97.0))
    found, uniform = [], []
    for seed in range(3):
        nsga = NsgaII(SPACE, NsgaIIConfig(population_size=20), seed=seed, cost=SQUARES)
        run_blackbox(nsga, score, budget=300)
        front = nsga.front()
        assert all(s == score(a) and c == SQUARES(a) for a, s, c in front)
        found.append(hypervolume([(s, c) for _, s, c in front], reference) / best)
        rs = run_blackbox(create_blackbox("random", SPACE, seed=seed), score, budget=300)
        uniform.append(hypervolume([(s, SQUARES(a)) for a, s in zip(rs.archs, rs.scores)], reference) / best)
    assert min(found) > 0.95 and np.mean(found) > np.mean(uniform)


def test_the_front_holds_only_non_dominated_architectures() -> None:
    nsga = NsgaII(SPACE, NsgaIIConfig(population_size=4), seed=0, cost=SQUARES)
    run_blackbox(nsga, score, budget=12)
    front = {(s, c) for _, s, c in nsga.front()}
    told = [(s, SQUARES(a)) for a, s in nsga.history_]
    assert front == {tuple(p) for p in pareto_front(told).tolist()}
    assert len(nsga.costs_) == 12


def test_an_architecture_told_without_being_asked_joins_the_study() -> None:
    nsga = NsgaII(SPACE, NsgaIIConfig(population_size=4), seed=0, cost=SQUARES)
    arch = SPACE.from_choices([1] * 6)
    nsga.tell([arch], [6.0])
    assert len(nsga.study.trials) == 1 and nsga.study.trials[0].values == [6.0, 6.0]


def test_without_a_cost_it_is_a_genetic_algorithm_on_the_score() -> None:
    nsga = NsgaII(SPACE, NsgaIIConfig(population_size=4), seed=0)
    run_blackbox(nsga, score, budget=12)
    assert nsga.cost is None and nsga.costs_ == [] and len(nsga.study.directions) == 1
    assert {s for _, s, _ in nsga.front()} == {nsga.best_score_}


def test_a_named_cost_is_made_from_the_config() -> None:
    nsga = NsgaII(SPACE, NsgaIIConfig(population_size=4, cost="params"), seed=0)
    run_blackbox(nsga, score, budget=4)
    assert nsga.cost.name == "params" and len(nsga.costs_) == 4 and len(nsga.study.directions) == 2


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="population_size must be >= 2"):
        NsgaIIConfig(population_size=1)
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        NsgaIIConfig(crossover_prob=1.5)


def test_a_bench_run_writes_the_front_and_its_plot(tmp_path) -> None:
    from parsecnas.blackbox_run import BlackBoxConfig, run_blackbox_search
    from parsecnas.estimators.tabular import find_benchmark_file

    try:
        find_benchmark_file("nb201-latency-help", "nb201_latency_help.csv")
    except FileNotFoundError:
        pytest.skip("NB201 tables not installed")
    config = BlackBoxConfig(strategy="nsga2", settings=NsgaIIConfig(population_size=8, cost="nb201:raspi4"),
                            budget=24)
    run_blackbox_search(config, tmp_path / "run")
    front = json.loads((tmp_path / "run" / "pareto_front.json").read_text())
    assert front["objectives"] == ["score", "latency[raspi4]"] and front["unit"] == "ms" and front["front"]
    scores = [row["score"] for row in front["front"]]
    latencies = [row["latency[raspi4]"] for row in front["front"]]
    assert scores == sorted(scores, reverse=True) and latencies == sorted(latencies, reverse=True)
    pytest.importorskip("matplotlib")
    assert (tmp_path / "run" / "pareto_front.png").stat().st_size > 1000
