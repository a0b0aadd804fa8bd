"""The two small interfaces every strategy implements: weight-sharing (steps on batches) and black-box (ask/tell)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..optim import WeightOptimizer
from ..spaces.base import Space

Batch = tuple[torch.Tensor, torch.Tensor]


class WeightSharingStrategy(ABC):
    """A method that trains a supernet's shared weights and its own belief over architectures together.

    The strategy never owns the network or the data: the search loop hands it the supernet, the weight
    optimiser and one batch from each split per step, and reads back numbers and the derived architecture.
    """

    name: str = ""
    min_metrics: tuple[str, ...] = ()
    """Step statistics whose per-epoch minimum is logged too (as ``{key}_min``), beside the mean."""

    @abstractmethod
    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> dict[str, float]:
        """One search step: updates the shared weights and the belief; returns scalars to log."""

    @abstractmethod
    def derive(self) -> Hashable:
        """The architecture the strategy would return now (PARSEC: the mode of its distribution)."""

    def epoch_metrics(self) -> dict[str, float]:
        """Scalars describing the belief (e.g. entropy), logged once per epoch."""
        return {}

    def outputs(self) -> dict[str, Any]:
        """JSON-safe artefacts for the run directory, by file stem (e.g. ``{"distribution": {...}}``)."""
        return {}

    def figures(self, directory: Path) -> list[Path]:
        """Draws the strategy's own figures into ``directory`` (needs matplotlib); returns their paths."""
        return []

    def warm_start(self, exported: dict[str, Any]) -> list[str]:
        """Initialises the belief from an earlier run's exported distribution (``--init-from``); returns the
        names of the decisions it could not take (no decision of that name and size there).

        Raises:
            ValueError: the strategy holds no distribution over decisions to warm-start (the default).
        """
        raise ValueError(f"strategy {self.name!r} cannot be warm-started from an earlier run (--init-from): it "
                         f"holds no distribution over the space's decisions; drop --init-from, or search with "
                         f"parsec")

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly (tensors, numbers, strings, lists and dicts only)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


StrategyFactory = Callable[..., WeightSharingStrategy]
_REGISTRY: dict[str, StrategyFactory] = {}
_SPACES: dict[str, tuple[str, ...] | None] = {}


def register_strategy(name: str, factory: StrategyFactory, spaces: Sequence[str] | None = None) -> None:
    """Registers a weight-sharing strategy factory ``factory(space, config, seed)`` under ``name``.

    ``spaces`` names the spaces it supports; ``None`` (default): any space offering the views it uses (PARSEC:
    the decisions; DARTS and GDAS: the relaxed view, :class:`~parsecnas.spaces.base.RelaxedSpace`).
    """
    _REGISTRY[name] = factory
    _SPACES[name] = None if spaces is None else tuple(spaces)


def supports(name: str, space_name: str) -> bool:
    """Whether registered strategy ``name`` is declared for the space named ``space_name``."""
    allowed = _SPACES.get(name)
    return allowed is None or space_name in allowed


def strategies_for(space_name: str) -> list[str]:
    """Registered strategies that support the space named ``space_name``."""
    return sorted(n for n in _REGISTRY if supports(n, space_name))


def check_space(name: str, space: Space) -> None:
    """Raises a ValueError naming the space, the spaces ``name`` supports and the strategies that support it."""
    if not supports(name, space.name):
        allowed = ", ".join(_SPACES[name] or ())
        raise ValueError(f"strategy {name!r} does not support the {space.name!r} space (it supports: {allowed}); "
                         f"strategies for {space.name!r}: {', '.join(strategies_for(space.name))}")


def create_strategy(name: str, space: Space, config: Any, seed: int) -> WeightSharingStrategy:
    """Creates a registered strategy, e.g. ``create_strategy("parsec", space, ParsecConfig(), seed=0)``."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; valid strategies: {', '.join(sorted(_REGISTRY))}") from None
    check_space(name, space)
    return factory(space, config, seed)


def list_strategies() -> list[str]:
    return sorted(_REGISTRY)
