"""A cost budget on a product-of-categoricals belief: the exact expected additive cost, penalised or
constrained toward a target, and what the belief's architectures cost.

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

from typing import Any, Literal

import torch

from ..distributions import CategoricalProduct

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
