"""The MnasNet reward folds a cost into the score that single-objective strategies maximise."""

from __future__ import annotations

import pytest

from parsecnas.estimators.cost import FunctionCost
from parsecnas.estimators.rewards import MnasReward
from parsecnas.spaces import get_space
from parsecnas.strategies import create_blackbox, run_blackbox


def test_soft_and_hard_rewards_follow_the_mnasnet_formula() -> None:
    cost = FunctionCost(lambda arch: arch, "latency")
    soft = MnasReward(lambda arch: 80.0, cost, target=10.0)
    hard = MnasReward(lambda arch: 80.0, cost, target=10.0, constraint="hard")
    assert soft(20.0).score == pytest.approx(80.0 * 2 ** -0.07) and soft(5.0).score == pytest.approx(80 * 0.5 ** -0.07)
    assert hard(5.0).score == 80.0 and hard(20.0).score == 40.0
    result = hard(20.0)
    assert (result.accuracy, result.cost, result.result) == (80.0, 20.0, 80.0)
    with pytest.raises(ValueError, match="target > 0"):
        MnasReward(lambda arch: 1.0, cost, target=0.0)


@pytest.mark.parametrize("name", ["evolution", "reinforce"])
def test_a_hard_reward_steers_search_to_architectures_within_the_target(name: str) -> None:
    space = get_space("nb201")
    size = FunctionCost(lambda arch: 1.0 + sum(space.to_choices(arch)), "size")  # bigger choices cost more
    reward = MnasReward(lambda arch: 80.0 + sum(space.to_choices(arch)), size, target=13.0, constraint="hard")
    trajectory = run_blackbox(create_blackbox(name, space, seed=0), reward, budget=200)
    best = trajectory.incumbent_result(200)
    assert best.cost <= 13.0 and best.accuracy >= 90  # accurate, yet within the budget (unconstrained: 104 at 25)
