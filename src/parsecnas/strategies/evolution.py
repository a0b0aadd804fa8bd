"""Regularized (aging) evolution, Real et al. 2019: tournament selection, one-decision mutation, oldest dies."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import torch

from ..config import check_finite
from ..spaces.base import Space, mutate, sample_uniform
from .blackbox import BlackBoxStrategy, register_blackbox


@dataclass(frozen=True)
class EvolutionConfig:
    """Attributes:
        population_size: P, architectures alive at once; the first P asks are uniform samples.
        sample_size: S, tournament size; the best of S members drawn uniformly (without replacement) is mutated.
    """

    population_size: int = 20
    sample_size: int = 5

    def __post_init__(self) -> None:
        check_finite(self)
        if not 1 <= self.sample_size <= self.population_size:
            raise ValueError(f"need 1 <= sample_size <= population_size; got {self.sample_size}, "
                             f"{self.population_size}")


class RegularizedEvolution(BlackBoxStrategy):
    """Aging evolution: the population is a queue; each told child joins it and the oldest member leaves.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> evo = RegularizedEvolution(get_space("nb201"), EvolutionConfig(population_size=4, sample_size=2))
        >>> archs = evo.ask(4)
        >>> evo.tell(archs, [1.0, 2.0, 3.0, 4.0])
        >>> len(evo.population_), evo.ask(1)[0] != archs[-1]
        (4, True)
    """

    name = "evolution"

    def __init__(self, space: Space, config: EvolutionConfig | None = None, seed: int = 0) -> None:
        super().__init__(space, seed)
        self.config = config or EvolutionConfig()
        self.population_: deque[tuple[Hashable, float]] = deque()
        self._asked = 0

    def ask(self, n: int = 1) -> list[Hashable]:
        out = []
        for _ in range(n):
            if self._asked < self.config.population_size or not self.population_:
                out.append(sample_uniform(self.space, self.generator))
            else:
                out.append(mutate(self.space, self._tournament(), self.generator))
            self._asked += 1
        return out

    def _tournament(self) -> Hashable:
        size = min(self.config.sample_size, len(self.population_))
        picks = torch.randperm(len(self.population_), generator=self.generator)[:size].tolist()
        return max((self.population_[i] for i in picks), key=lambda member: member[1])[0]

    def _update(self, archs: list[Hashable], scores: list[float]) -> None:
        for arch, score in zip(archs, scores):
            self.population_.append((arch, score))
            if len(self.population_) > self.config.population_size:
                self.population_.popleft()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "asked": self._asked,
                "population": [(self.space.format(a), s) for a, s in self.population_]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._asked = int(state["asked"])
        self.population_ = deque((self.space.parse(a), float(s)) for a, s in state["population"])


register_blackbox("evolution", lambda space, config, seed: RegularizedEvolution(space, config, seed), EvolutionConfig)
