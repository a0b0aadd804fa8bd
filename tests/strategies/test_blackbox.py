"""Conformance suite over every registered black-box strategy, on the NB201 and DARTS spaces."""

from __future__ import annotations

import pytest
import torch

import parsecnas.spaces.nb201  # noqa: F401 - registers the space
from parsecnas.spaces import get_space
from parsecnas.strategies.bananas import BananasConfig
from parsecnas.strategies.blackbox import create_blackbox, list_blackbox, run_blackbox

STRATEGIES = list_blackbox()
FAST = {"bananas": BananasConfig(num_init=5, proposals_per_fit=5, num_candidates=20, epochs=20)}


def objective(space_name: str):
    """A fixed random additive objective over the space's choices (optimum: the argmax of each decision)."""
    space = get_space(space_name)
    weights = [torch.rand(d.size, generator=torch.Generator().manual_seed(k)) for k, d in enumerate(space.decisions)]
    return lambda arch: float(sum(w[c] for w, c in zip(weights, space.to_choices(arch))))


def make(name: str, space_name: str, seed: int):
    return create_blackbox(name, get_space(space_name), FAST.get(name), seed=seed)


def test_registry_names_the_five_strategies_and_rejects_unknown_ones() -> None:
    assert STRATEGIES == ["bananas", "evolution", "local_search", "nsga2", "random", "reinforce"]
    with pytest.raises(ValueError, match="valid: bananas, evolution"):
        create_blackbox("hill_climbing", get_space("nb201"))


@pytest.mark.parametrize("space_name", ["nb201", "darts"])
@pytest.mark.parametrize("name", STRATEGIES)
def test_same_seed_gives_the_same_trajectory(name: str, space_name: str) -> None:
    f = objective(space_name)
    a = run_blackbox(make(name, space_name, 0), f, budget=16, batch_size=3)
    b = run_blackbox(make(name, space_name, 0), f, budget=16, batch_size=3)
    c = run_blackbox(make(name, space_name, 1), f, budget=16, batch_size=3)
    assert a.archs == b.archs and a.archs != c.archs
    space = get_space(space_name)
    assert all(space.parse(space.format(arch)) == arch for arch in a.archs)


@pytest.mark.parametrize("name", STRATEGIES)
def test_state_dict_round_trip_resumes_exactly(name: str) -> None:
    f = objective("nb201")
    strategy = make(name, "nb201", 0)
    run_blackbox(strategy, f, budget=12)
    resumed = make(name, "nb201", 7)
    resumed.load_state_dict(strategy.state_dict())
    for _ in range(6):
        archs, again = strategy.ask(2), resumed.ask(2)
        assert archs == again
        strategy.tell(archs, [f(a) for a in archs])
        resumed.tell(again, [f(a) for a in again])
    assert resumed.best_arch_ == strategy.best_arch_ and resumed.best_score_ == strategy.best_score_


@pytest.mark.parametrize("name", STRATEGIES)
def test_best_attributes_match_the_trajectory(name: str) -> None:
    f = objective("nb201")
    strategy = make(name, "nb201", 2)
    trajectory = run_blackbox(strategy, f, budget=20)
    assert len(trajectory.archs) == 20 and strategy.best_score_ == max(trajectory.scores)
    assert strategy.best_arch_ == trajectory.archs[trajectory.incumbents[-1]]
    assert list(trajectory.best_scores) == sorted(trajectory.best_scores)
    assert trajectory.incumbent_result(5) == max(trajectory.scores[:5])


def test_tell_rejects_results_without_scores() -> None:
    strategy = make("random", "nb201", 0)
    with pytest.raises(TypeError, match="'score'"):
        strategy.tell(strategy.ask(1), [object()])
