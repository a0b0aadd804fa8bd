"""Random search: uniform samples over the space's decisions, without repeating an architecture already asked."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from ..config import check_finite
from ..spaces.base import Space, sample_uniform
from .blackbox import BlackBoxStrategy, register_blackbox


@dataclass(frozen=True)
class RandomSearchConfig:
    """Attributes:
        max_tries: uniform draws per proposal before accepting a repeat (small spaces can be exhausted).
    """

    max_tries: int = 100

    def __post_init__(self) -> None:
        check_finite(self)
        if self.max_tries < 1:
            raise ValueError(f"max_tries must be >= 1, got {self.max_tries}")


class RandomSearch(BlackBoxStrategy):
    """Uniform random search (Li & Talwalkar 2019's baseline).

    Example:
        >>> from parsecnas.spaces import get_space
        >>> rs = RandomSearch(get_space("nb201"), seed=0)
        >>> len(set(rs.ask(10)))
        10
    """

    name = "random"

    def __init__(self, space: Space, config: RandomSearchConfig | None = None, seed: int = 0) -> None:
        super().__init__(space, seed)
        self.config = config or RandomSearchConfig()
        self._asked: set[Hashable] = set()

    def ask(self, n: int = 1) -> list[Hashable]:
        out = []
        for _ in range(n):
            for _ in range(self.config.max_tries):
                arch = sample_uniform(self.space, self.generator)
                if arch not in self._asked:
                    break
            self._asked.add(arch)
            out.append(arch)
        return out

    def _update(self, archs: list[Hashable], scores: list[float]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "asked": sorted(self.space.format(a) for a in self._asked)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._asked = {self.space.parse(a) for a in state["asked"]}


register_blackbox("random", lambda space, config, seed: RandomSearch(space, config, seed), RandomSearchConfig)
