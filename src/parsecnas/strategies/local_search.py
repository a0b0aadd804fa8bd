"""Local search (White et al. 2021, "Local search is state of the art for NAS benchmarks"), ask/tell form.

Start from the best of ``num_init`` uniform samples; evaluate the neighbourhood of the current centre (every
architecture one decision away, in random order); move to the best neighbour if it beats the centre, else the
centre is a local optimum and the search restarts from a fresh uniform sample.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import torch

from ..config import check_finite
from ..spaces.base import Space, sample_uniform
from .blackbox import BlackBoxStrategy, register_blackbox


@dataclass(frozen=True)
class LocalSearchConfig:
    """Attributes:
        num_init: uniform samples before the first centre is chosen (and after each restart: one).
    """

    num_init: int = 10

    def __post_init__(self) -> None:
        check_finite(self)
        if self.num_init < 1:
            raise ValueError(f"num_init must be >= 1, got {self.num_init}")


def neighbours(space: Space, arch: Hashable) -> list[Hashable]:
    """Every architecture that differs from ``arch`` in exactly one decision."""
    choices = space.to_choices(arch)
    out = []
    for d, decision in enumerate(space.decisions):
        for c in range(decision.size):
            if c != choices[d]:
                out.append(space.from_choices(choices[:d] + (c,) + choices[d + 1:]))
    return out


class LocalSearch(BlackBoxStrategy):
    """Best-improvement hill climbing with random restarts.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> space = get_space("nb201")
        >>> ls = LocalSearch(space, LocalSearchConfig(num_init=1), seed=0)
        >>> first = ls.ask(1); ls.tell(first, [0.0])
        >>> len(ls.ask(1)), len(ls._queue)
        (1, 23)
    """

    name = "local_search"

    def __init__(self, space: Space, config: LocalSearchConfig | None = None, seed: int = 0) -> None:
        super().__init__(space, seed)
        self.config = config or LocalSearchConfig()
        self.scores_: dict[Hashable, float] = {}
        self.center_: Hashable | None = None
        self._queue: list[Hashable] = []
        self._pending = 0
        self._random_left = self.config.num_init
        self._fresh: list[Hashable] = []  # uniform samples since the last restart; the next centre is among them

    def ask(self, n: int = 1) -> list[Hashable]:
        out = []
        for _ in range(n):
            if not self._queue and self._pending == 0 and self._random_left == 0:
                self._next_centre()
            if self._queue:
                out.append(self._queue.pop())
            else:  # initial samples, restarts, or waiting on pending results
                out.append(sample_uniform(self.space, self.generator))
                self._fresh.append(out[-1])
                self._random_left = max(0, self._random_left - 1)
            self._pending += 1
        return out

    def _next_centre(self) -> None:
        """Moves to the best known neighbour of the centre, or restarts when there is none better."""
        if self.center_ is None:
            best = max(self._fresh, key=lambda a: self.scores_[a])
            self._fresh = []
        else:
            around = [a for a in neighbours(self.space, self.center_) if a in self.scores_]
            best = max(around, key=lambda a: self.scores_[a], default=self.center_)
            if self.scores_[best] <= self.scores_[self.center_]:
                self.center_, self._random_left, self._fresh = None, 1, []  # local optimum: restart
                return
        self.center_ = best
        todo = [a for a in neighbours(self.space, best) if a not in self.scores_]
        order = torch.randperm(len(todo), generator=self.generator).tolist()
        self._queue = [todo[i] for i in order]

    def _update(self, archs: list[Hashable], scores: list[float]) -> None:
        self._pending = max(0, self._pending - len(archs))
        for arch, score in zip(archs, scores):
            self.scores_[arch] = max(score, self.scores_.get(arch, score))

    def state_dict(self) -> dict[str, Any]:
        fmt = self.space.format
        return {**super().state_dict(), "center": None if self.center_ is None else fmt(self.center_),
                "queue": [fmt(a) for a in self._queue], "fresh": [fmt(a) for a in self._fresh],
                "pending": self._pending, "random_left": self._random_left,
                "scores": [(fmt(a), s) for a, s in self.scores_.items()]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        parse = self.space.parse
        self.center_ = None if state["center"] is None else parse(state["center"])
        self._queue = [parse(a) for a in state["queue"]]
        self._fresh = [parse(a) for a in state["fresh"]]
        self._pending, self._random_left = int(state["pending"]), int(state["random_left"])
        self.scores_ = {parse(a): float(s) for a, s in state["scores"]}


register_blackbox("local_search", lambda space, config, seed: LocalSearch(space, config, seed), LocalSearchConfig)
