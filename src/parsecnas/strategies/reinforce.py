"""REINFORCE (Williams 1992) over a product of categoricals, with a moving-average baseline.

The belief is :class:`~parsecnas.distributions.CategoricalProduct` over the space's decisions; each told
architecture contributes ``-(score - baseline) * log p(arch)`` to an Adam step on the logits, and the baseline is
an exponential moving average of scores (updated after each advantage is taken).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import torch

from ..config import check_finite
from ..distributions import CategoricalProduct
from ..spaces.base import Space
from .blackbox import BlackBoxStrategy, register_blackbox


@dataclass(frozen=True)
class ReinforceConfig:
    """Attributes:
        lr: Adam learning rate of the logits.
        baseline_decay: weight of the old baseline in its moving average (0 means the last score).
        entropy_weight: bonus on the distribution's entropy per step (0 for plain REINFORCE).
    """

    lr: float = 0.05
    baseline_decay: float = 0.9
    entropy_weight: float = 0.0

    def __post_init__(self) -> None:
        check_finite(self)
        if self.lr <= 0 or not 0 <= self.baseline_decay < 1 or self.entropy_weight < 0:
            raise ValueError(f"need lr > 0, 0 <= baseline_decay < 1, entropy_weight >= 0; got {self}")


class Reinforce(BlackBoxStrategy):
    """Policy-gradient search over the space's decisions.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> rl = Reinforce(get_space("nb201"), seed=0)
        >>> archs = rl.ask(2)
        >>> rl.tell(archs, [1.0, 0.0]); rl.tell(archs, [1.0, 0.0])
        >>> bool(rl.distribution.log_prob(torch.tensor(rl.space.to_choices(archs[0]))) > -6 * 1.6094)
        True
    """

    name = "reinforce"

    def __init__(self, space: Space, config: ReinforceConfig | None = None, seed: int = 0) -> None:
        super().__init__(space, seed)
        self.config = config or ReinforceConfig()
        self.distribution = CategoricalProduct(space.decisions)
        self.optimizer = torch.optim.Adam(self.distribution.parameters(), lr=self.config.lr)
        self.baseline_: float | None = None

    def ask(self, n: int = 1) -> list[Hashable]:
        draws = self.distribution.sample(n, self.generator)
        return [self.space.from_choices(row.tolist()) for row in draws]

    def _update(self, archs: list[Hashable], scores: list[float]) -> None:
        advantages = []
        for score in scores:
            baseline = score if self.baseline_ is None else self.baseline_
            advantages.append(score - baseline)
            decay = self.config.baseline_decay
            self.baseline_ = score if self.baseline_ is None else decay * self.baseline_ + (1 - decay) * score
        choices = torch.tensor([self.space.to_choices(a) for a in archs], dtype=torch.long)
        log_p = self.distribution.log_prob(choices)
        loss = -(torch.tensor(advantages) * log_p).mean() - self.config.entropy_weight * self.distribution.entropy()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def mode(self) -> Hashable:
        """The most probable architecture under the current belief."""
        return self.space.from_choices(self.distribution.mode().tolist())

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "distribution": self.distribution.state_dict(),
                "optimizer": self.optimizer.state_dict(), "baseline": self.baseline_}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.distribution.load_state_dict(state["distribution"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline_ = state["baseline"]


register_blackbox("reinforce", lambda space, config, seed: Reinforce(space, config, seed), ReinforceConfig)
