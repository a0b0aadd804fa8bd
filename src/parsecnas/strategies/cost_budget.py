"""Costs in the strategies' losses: a budget on a product-of-categoricals belief (PARSEC) and FBNet's latency
loss on a relaxed architecture (DARTS, GDAS).

A budget holds the exact expected additive cost toward a target and reports what the belief's architectures
cost.

p(alpha | pi) factorises over decisions and an additive cost is a sum of per-decision terms, so
E[cost] = offset + sum_d sum_c p_d(c) t_d(c) exactly, with gradient dE/dlogit_{d,c} = p_d(c) (t_d(c) - E_d[t_d]):
no sampling, no variance. Two ways to hold it to a target T, on the relative excess g = E / T - 1:

* ``penalty``: add ``weight * max(0, g)`` to the belief's loss (an exact penalty: nothing below the target);
* ``lagrangian``: add ``lambda * g`` and raise lambda by dual ascent after each step,
  lambda <- max(0, lambda + weight * g), so it grows while the budget is exceeded and relaxes once met.

Example:
    >>> from parsecnas.spaces import Decision
    >>> from parsecnas.distributions import CategoricalProduct
    >>> budget = CostBudget(torch.tensor([[1.0, 3.0]]), offset=0.0, target=1.5)
    >>> float(budget.expected(CategoricalProduct([Decision("d", ("a", "b"))])))
    2.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ..distributions import CategoricalProduct
from ..estimators.cost import AdditiveTable, Cost
from ..estimators.cost_specs import check_additive_spec, make_cost
from ..spaces.base import Space, as_relaxed

METHODS = ("penalty", "lagrangian")


class CostBudget:
    """A target on the expected additive cost of a :class:`~parsecnas.distributions.CategoricalProduct`.

    Args:
        table: (D, M) per-(decision, choice) cost terms, padded like the distribution.
        offset: the fixed part every architecture costs.
        target: T, in the cost's unit (> 0).
        method: ``penalty`` or ``lagrangian`` (see the module).
        weight: the penalty's weight, or the multiplier's step size.
    """

    def __init__(self, table: torch.Tensor, offset: float, target: float,
                 method: Literal["penalty", "lagrangian"] = "penalty", weight: float = 1.0) -> None:
        if not target > 0 or method not in METHODS or not weight >= 0:
            raise ValueError(f"need target > 0, method in {METHODS} and weight >= 0; got {target}, {method!r}, "
                             f"{weight}")
        self.table, self.offset, self.target = table.double(), float(offset), float(target)
        self.method, self.weight = method, float(weight)
        self.multiplier_ = 0.0

    def expected(self, distribution: CategoricalProduct) -> torch.Tensor:
        """E[cost] under the distribution, differentiable in its logits."""
        return self.offset + distribution.expectation(self.table)

    def loss(self, distribution: CategoricalProduct) -> torch.Tensor:
        """The term added to the belief's loss this step."""
        excess = self.expected(distribution) / self.target - 1.0
        if self.method == "penalty":
            return self.weight * excess.clamp_min(0.0)
        return self.multiplier_ * excess

    def after_step(self, distribution: CategoricalProduct) -> None:
        """Dual ascent on the multiplier (``lagrangian``); nothing for ``penalty``."""
        if self.method == "lagrangian":
            with torch.no_grad():
                excess = float(self.expected(distribution)) / self.target - 1.0
            self.multiplier_ = max(0.0, self.multiplier_ + self.weight * excess)

    def costs(self, choices: torch.Tensor) -> torch.Tensor:
        """(n,) costs of architectures given as an (n, D) tensor of choice indices."""
        return self.offset + self.table.gather(1, choices.t().to(torch.long)).sum(dim=0)

    def metrics(self, distribution: CategoricalProduct, samples: int = 512, seed: int = 0) -> dict[str, float]:
        """Expected cost, the mode's cost, the target, the multiplier and the distribution of sampled costs
        (``samples`` draws from a generator of its own, so the search's draws are not disturbed)."""
        with torch.no_grad():
            drawn = self.costs(distribution.sample(samples, torch.Generator().manual_seed(seed)))
            quantiles = torch.quantile(drawn, torch.tensor([0.1, 0.5, 0.9], dtype=drawn.dtype)).tolist()
            return {"cost_expected": float(self.expected(distribution)),
                    "cost_mode": float(self.costs(distribution.mode()[None])[0]), "cost_target": self.target,
                    "cost_multiplier": self.multiplier_, "cost_sampled_mean": float(drawn.mean()),
                    "cost_sampled_std": float(drawn.std()), "cost_sampled_p10": quantiles[0],
                    "cost_sampled_p50": quantiles[1], "cost_sampled_p90": quantiles[2],
                    "cost_within_target": float((drawn <= self.target).double().mean())}

    def state_dict(self) -> dict[str, Any]:
        return {"multiplier": self.multiplier_}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.multiplier_ = float(state["multiplier"])


def mixing_terms(space: Space, table: AdditiveTable) -> dict[str, torch.Tensor]:
    """An additive cost's terms on a relaxed space's (cell, edge, op) view: the term of the choice that puts that
    op on that edge (each choice puts exactly one; ops no choice reaches, such as DARTS's ``none``, cost 0), so
    ``offset + sum <mixing_from(arch), terms>`` is the cost of ``arch``."""
    relaxed = as_relaxed(space, "a latency loss")
    terms = {c: torch.zeros(relaxed.mixing_layout.shape, dtype=torch.float64) for c in relaxed.mixing_layout.cells}
    base = [0] * len(table.values)

    def placed(d: int, c: int) -> dict[str, torch.Tensor]:
        return relaxed.mixing_from(space.from_choices([*base[:d], c, *base[d + 1:]]))

    for d, row in enumerate(table.values):
        if len(row) < 2:
            raise ValueError(f"decision {d} of space {space.name!r} has one choice; its term belongs in the offset")
        for c, value in enumerate(row):
            now, before = placed(d, c), placed(d, 1 if c == 0 else 0)  # differ only where choice c puts its op
            for cell in terms:
                terms[cell][(now[cell] - before[cell]) > 0] = value
    return terms


class LatencyLoss:
    """FBNet's latency-aware loss (Wu et al. 2019, eq. 2): CE * alpha * log(LAT)^beta, LAT the expected cost of
    the relaxed architecture, offset + sum over cells, edges and ops of weight x term.

    LAT must exceed 1 in the cost's unit (ms for networks; it is clamped just above 1, where the factor is 0).

    Args:
        space: a relaxed space; ``cost``: an additive cost over its decisions.
        alpha, beta: FBNet's 0.2 and 0.6 by default.
    """

    def __init__(self, space: Space, cost: Cost, alpha: float = 0.2, beta: float = 0.6) -> None:
        if not alpha > 0 or not beta > 0:
            raise ValueError(f"need alpha > 0 and beta > 0; got {alpha}, {beta}")
        table = cost.table()
        self.terms, self.offset, self.alpha, self.beta = mixing_terms(space, table), table.offset, alpha, beta

    def expected(self, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """LAT of op weights ``{cell: (E, O)}`` (softmax mixtures or Gumbel samples), differentiable in them."""
        return self.offset + torch.stack([(weights[c].double() * t).sum() for c, t in self.terms.items()]).sum()

    def metrics(self, weights: Mapping[str, torch.Tensor], derived: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """The relaxed cell's expected cost and the derived architecture's cost (``derived``: its mixing)."""
        with torch.no_grad():
            return {"cost_expected": float(self.expected(weights)), "cost_derived": float(self.expected(derived))}

    def factor(self, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """alpha * log(LAT)^beta, what the cross-entropy is multiplied by."""
        return self.alpha * self.expected(weights).clamp_min(1 + 1e-6).log().pow(self.beta)


@dataclass(frozen=True)
class LatencyLossFields:
    """The latency-loss settings DARTS and GDAS share (FBNet's loss; :class:`LatencyLoss`).

    Attributes:
        cost: an additive cost (``lut:<file.json>``, ``params``, ``madds``); ``None``: no latency loss.
        cost_setting: the network setting ``params`` / ``madds`` count (the space's default when ``None``).
        latency_alpha, latency_beta: FBNet's alpha and beta.
    """

    cost: str | None = None
    cost_setting: str | None = None
    latency_alpha: float = 0.2
    latency_beta: float = 0.6

    def check_latency_fields(self) -> None:
        if self.cost is not None:
            check_additive_spec(str(self.cost), "FBNet's latency loss (expected cost of the relaxed cell)")
        if not self.latency_alpha > 0 or not self.latency_beta > 0:
            raise ValueError(f"need latency_alpha > 0 and latency_beta > 0; got {self.latency_alpha}, "
                             f"{self.latency_beta}")

    def latency_loss(self, space: Space, cost: Cost | None = None) -> LatencyLoss | None:
        """The loss for ``space`` (with ``cost``, else the one ``cost`` names), or ``None`` without a cost."""
        if cost is None and self.cost is None:
            return None
        cost = cost or make_cost(str(self.cost), space, self.cost_setting)
        return LatencyLoss(space, cost, self.latency_alpha, self.latency_beta)
