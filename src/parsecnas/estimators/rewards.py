"""Rewards that fold a cost into one score, so any single-objective strategy (REINFORCE, evolution, random
search) searches for accurate *and* cheap architectures.

MnasNet (Tan et al. 2019, eq. 2): reward = accuracy * (cost / target)^w, with w = alpha where the cost is
within the target and w = beta beyond it. The paper's soft constraint is alpha = beta = -0.07 (each doubling
of the cost costs about 5% of the reward); its hard constraint is alpha = 0, beta = -1 (free within the target,
steeply penalised beyond).

Example:
    >>> from parsecnas.estimators.cost import FunctionCost
    >>> reward = MnasReward(lambda arch: 90.0, FunctionCost(lambda arch: 20.0, "latency"), target=10.0,
    ...                     constraint="hard")
    >>> reward("any").score, reward("any").accuracy
    (45.0, 90.0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .cost import Cost

EXPONENTS = {"soft": (-0.07, -0.07), "hard": (0.0, -1.0)}
"""MnasNet's (alpha, beta) for its soft and hard latency constraints."""


@dataclass(frozen=True)
class CostedResult:
    """What a cost-aware estimator returns.

    Attributes:
        score: the reward a search maximises.
        accuracy: the wrapped estimator's own score.
        cost: the architecture's cost.
        result: the wrapped estimator's result.
    """

    score: float
    accuracy: float
    cost: float
    result: Any = None


class MnasReward:
    """Wraps an estimator: ``reward(arch)`` scores accuracy * (cost / target)^w (see the module).

    Args:
        estimator: ``arch -> result`` (a number or a record with ``score``), e.g. an NB201 benchmark.
        cost: the cost, e.g. ``make_cost("nb201:pixel3", space)``.
        target: the cost target T (> 0), in the cost's unit.
        constraint: ``soft`` or ``hard`` (MnasNet's exponents), unless ``alpha`` and ``beta`` are given.
    """

    def __init__(self, estimator: Callable[[Any], Any], cost: Cost, target: float,
                 constraint: Literal["soft", "hard"] = "soft", alpha: float | None = None,
                 beta: float | None = None) -> None:
        if not target > 0 or constraint not in EXPONENTS:
            raise ValueError(f"need target > 0 and constraint in {tuple(EXPONENTS)}; got {target}, {constraint!r}")
        default_alpha, default_beta = EXPONENTS[constraint]
        self.estimator, self.cost, self.target = estimator, cost, float(target)
        self.alpha = default_alpha if alpha is None else float(alpha)
        self.beta = default_beta if beta is None else float(beta)

    def __call__(self, arch: Any) -> CostedResult:
        result = self.estimator(arch)
        accuracy = float(result) if isinstance(result, (int, float)) else float(result.score)
        cost = float(self.cost(arch))
        w = self.alpha if cost <= self.target else self.beta
        return CostedResult(accuracy * (cost / self.target) ** w, accuracy, cost, result)
