"""What each black-box strategy should achieve: real search outcomes on synthetic objectives and the NB201 table."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from parsecnas.spaces.nb201 import NB201Space, nb201_path_encoding
from parsecnas.strategies.bananas import Bananas, BananasConfig
from parsecnas.strategies.blackbox import create_blackbox, run_blackbox
from parsecnas.strategies.evolution import EvolutionConfig, RegularizedEvolution
from parsecnas.strategies.local_search import LocalSearch, neighbours
from parsecnas.strategies.reinforce import Reinforce, ReinforceConfig

SPACE = NB201Space()
WEIGHTS = torch.rand(6, 5, generator=torch.Generator().manual_seed(0))
OPTIMUM = SPACE.from_choices(WEIGHTS.argmax(1).tolist())


def additive(arch) -> float:
    return float(sum(WEIGHTS[e, c] for e, c in enumerate(SPACE.to_choices(arch))))


def test_evolution_finds_the_optimum_of_an_additive_objective() -> None:
    strategy = RegularizedEvolution(SPACE, EvolutionConfig(population_size=10, sample_size=3), seed=0)
    run_blackbox(strategy, additive, budget=300)
    assert strategy.best_arch_ == OPTIMUM


def test_local_search_climbs_to_the_optimum_of_an_additive_objective() -> None:
    strategy = LocalSearch(SPACE, seed=0)
    run_blackbox(strategy, additive, budget=150)
    assert strategy.best_arch_ == OPTIMUM
    assert len(neighbours(SPACE, OPTIMUM)) == 6 * 4


def test_reinforce_concentrates_on_the_best_choice() -> None:
    target = SPACE.to_choices(OPTIMUM)
    strategy = Reinforce(SPACE, ReinforceConfig(lr=0.1), seed=0)
    run_blackbox(strategy, lambda a: sum(c == t for c, t in zip(SPACE.to_choices(a), target)), 300, batch_size=4)
    assert strategy.mode() == OPTIMUM
    probs = strategy.distribution.probs().detach()
    assert (probs.gather(1, torch.tensor(target)[:, None]) > 0.5).all()


def test_bananas_beats_random_search_on_average_at_equal_budget() -> None:
    config = BananasConfig(num_init=10, proposals_per_fit=5, num_candidates=50, epochs=60)
    gaps = []
    for seed in range(3):
        bananas = Bananas(SPACE, config, seed=seed)
        random = create_blackbox("random", SPACE, seed=seed)
        gaps.append(run_blackbox(bananas, additive, 40).best_scores[-1]
                    - run_blackbox(random, additive, 40).best_scores[-1])
    assert np.mean(gaps) > 0


def test_path_encoding_counts_only_paths_without_none() -> None:
    arch = SPACE.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert nb201_path_encoding(arch).sum() == 1  # only the direct 0 -> 3 edge survives
    assert nb201_path_encoding(SPACE.from_choices([3] * 6)).sum() == 3  # conv3, conv3-conv3, conv3-conv3-conv3


@pytest.mark.skipif(not os.environ.get("PARSECNAS_DATA"), reason="PARSECNAS_DATA is not set")
def test_evolution_beats_random_on_the_nb201_table() -> None:
    from parsecnas.estimators.tabular import NB201Benchmark

    bench = NB201Benchmark("cifar10")
    final = {name: [run_blackbox(create_blackbox(name, SPACE, seed=s), bench, 150).incumbent_result(150).test_accuracy
                    for s in range(8)] for name in ("evolution", "random")}
    assert np.mean(final["evolution"]) > np.mean(final["random"])
