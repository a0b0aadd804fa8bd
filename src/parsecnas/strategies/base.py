"""The two small interfaces every strategy implements: weight-sharing (steps on batches) and black-box (ask/tell)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Self

import torch
from torch import nn

from ..optim import WeightOptimizer
from ..run.distributed import Distributed
from ..spaces.base import Space

Batch = tuple[torch.Tensor, torch.Tensor]


class Scheduled:
    """Mixin of a strategy config whose schedule (temperature annealing, wipeout, op-set shrinking, warm-up
    fractions) is laid out over the search: the search loop calls :meth:`with_schedule` with its own epochs
    and steps per epoch before it creates the strategy. A dataclass config lists the fields it has in
    ``schedule_fields``."""

    schedule_fields: ClassVar[tuple[str, ...]] = ("epochs", "steps_per_epoch")

    def with_schedule(self, epochs: int, steps_per_epoch: int) -> Self:
        """A copy with the schedule fields set to the search's ``epochs`` and ``steps_per_epoch``."""
        values = {"epochs": epochs, "steps_per_epoch": steps_per_epoch}
        return replace(self, **{k: values[k] for k in self.schedule_fields})  # type: ignore[type-var]


class WeightSharingStrategy(ABC):
    """A method that trains a supernet's shared weights and its own belief over architectures together.

    The strategy never owns the network or the data: the search loop hands it the supernet, the weight
    optimiser and one batch from each split per step, and reads back numbers and the derived architecture.
    """

    name: str = ""
    min_metrics: tuple[str, ...] = ()
    """Step statistics whose per-epoch minimum is logged too (as ``{key}_min``), beside the mean."""
    distributed: Distributed = Distributed()
    """The ranks this strategy's steps are spread over (rank 0 of 1 unless the loop calls :meth:`distribute`)."""

    def distribute(self, distributed: Distributed) -> None:
        """Spreads the steps over ``distributed``'s ranks. The default is data-parallel: every rank steps on its
        share of each batch (:attr:`shards_batches`), scales its losses by :meth:`share`, and the gradients of
        the weights (by the weight optimiser) and of the belief (:meth:`sum_over_ranks`) are summed, so every
        rank holds the same weights and the same belief after each step."""
        self.distributed = distributed

    @property
    def shards_batches(self) -> bool:
        """Whether the loop hands each rank only its share of every batch (data-parallel, the default)."""
        return True

    def share(self, batch: Batch) -> float:
        """This rank's part of the batch the ranks share (1 when alone): a rank's mean loss times its share is
        its term of the mean over the whole batch."""
        return self.distributed.share(len(batch[1]))

    def batch_accuracy(self, net: nn.Module, arch: Any, batch: Batch) -> float:
        """``arch``'s accuracy on ``batch`` with the shared weights, no gradient (over all ranks' shares): the
        score of the strategies that rank paths by it (ENAS's reward, SPOS's evolution)."""
        x, y = batch
        with torch.no_grad():
            hits = (net(x, arch).argmax(1) == y).sum().to(torch.float64)
        counts = self.sum_over_ranks([torch.stack([hits, torch.tensor(float(y.numel()), dtype=torch.float64)])])[0]
        return float(counts[0] / counts[1])

    def sum_over_ranks(self, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``tensors`` summed over ranks (gradients of the belief, each rank's term already scaled by its
        share); the tensors themselves when alone."""
        out = [t.detach().clone() for t in tensors] if self.distributed.active else list(tensors)
        self.distributed.sum_(out)
        return out

    @abstractmethod
    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> dict[str, float]:
        """One search step: updates the shared weights and the belief; returns scalars to log."""

    @abstractmethod
    def derive(self) -> Hashable:
        """The architecture the strategy would return now (PARSEC: the mode of its distribution)."""

    def epoch_metrics(self) -> dict[str, float]:
        """Scalars describing the belief (e.g. entropy), logged once per epoch."""
        return {}

    def progress_metrics(self) -> dict[str, float]:
        """A few cheap scalars for the progress bar, read every step (default: none)."""
        return {}

    def should_stop(self) -> bool:
        """Whether the search should end after this epoch (DARTS+ early stopping); default: never."""
        return False

    def most_probable(self, n: int) -> list[tuple[Hashable, float]]:
        """The ``n`` most probable architectures with their probabilities, for a belief that is a
        distribution (PARSEC); default: none (the summary then lists none)."""
        return []

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


@dataclass(frozen=True)
class StrategyEntry:
    """One registered weight-sharing strategy: how to make it, how it is configured, what spaces it runs on.

    Attributes:
        name: the registry key (``--strategy NAME``).
        factory: ``factory(space, config, seed) -> WeightSharingStrategy``.
        config_type: the frozen dataclass of its settings (``SearchConfig.settings``); ``None``: it has none.
        spaces: names of the spaces it supports; ``None``: any space offering the views in ``needs``.
        needs: protocols a space must satisfy (e.g. :class:`~parsecnas.spaces.base.RelaxedSpace`), checked
            before a run directory is made.
        summary: one line for ``--help`` and error messages.
    """

    name: str
    factory: StrategyFactory
    config_type: type | None = None
    spaces: tuple[str, ...] | None = None
    needs: tuple[type, ...] = ()
    summary: str = ""

    def default_config(self) -> Any:
        """The strategy's settings with every default (``None`` if it has no config type)."""
        return None if self.config_type is None else self.config_type()

    def missing(self, space: Space) -> str | None:
        """Why ``space`` cannot host this strategy, or ``None`` when it can."""
        if self.spaces is not None and space.name not in self.spaces:
            return f"it supports the spaces: {', '.join(self.spaces)}"
        for need in self.needs:
            if not isinstance(space, need):
                lacks = [m for m in vars(need) if not m.startswith("_") and not hasattr(space, m)]
                return f"it needs a {need.__name__}; the space lacks {', '.join(lacks) or 'its methods'}"
        return None


_REGISTRY: dict[str, StrategyEntry] = {}


def register_strategy(name: str, factory: StrategyFactory, config_type: type | None = None, *,
                      spaces: Sequence[str] | None = None, needs: Sequence[type] = (), summary: str = "") -> None:
    """Registers a weight-sharing strategy: ``factory(space, config, seed)`` configured by ``config_type``.

    A new strategy is one file that ends with this call, plus one import in ``strategies/__init__.py``; the
    search loop, ``SearchConfig.settings``, the CLI and the conformance tests find it here.

    Example:
        >>> register_strategy("parsec", lambda space, config, seed: Parsec(space, config, seed),
        ...                   ParsecConfig, summary="probabilistic NAS")  # doctest: +SKIP
    """
    _REGISTRY[name] = StrategyEntry(name, factory, config_type, None if spaces is None else tuple(spaces),
                                    tuple(needs), summary)


def strategy_entry(name: str) -> StrategyEntry:
    """The registry entry of ``name``; a ValueError lists the valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; valid strategies: {', '.join(sorted(_REGISTRY))}") from None


def strategy_config_type(name: str) -> type | None:
    """The config dataclass of registered strategy ``name`` (what ``SearchConfig.settings`` holds for it)."""
    return strategy_entry(name).config_type


def supports(name: str, space: Space) -> bool:
    """Whether registered strategy ``name`` can run on ``space``."""
    return strategy_entry(name).missing(space) is None


def strategies_for(space: Space) -> list[str]:
    """Registered strategies that can run on ``space``."""
    return sorted(n for n, entry in _REGISTRY.items() if entry.missing(space) is None)


def check_space(name: str, space: Space) -> None:
    """Raises a ValueError naming the space, what strategy ``name`` needs and the strategies that fit it."""
    why = strategy_entry(name).missing(space)
    if why is not None:
        raise ValueError(f"strategy {name!r} does not support the {space.name!r} space ({why}); "
                         f"strategies for {space.name!r}: {', '.join(strategies_for(space))}")


def create_strategy(name: str, space: Space, config: Any, seed: int) -> WeightSharingStrategy:
    """Creates a registered strategy, e.g. ``create_strategy("parsec", space, ParsecConfig(), seed=0)``;
    ``config=None`` takes the strategy's defaults."""
    entry = strategy_entry(name)
    check_space(name, space)
    if config is None:
        config = entry.default_config()
    elif entry.config_type is not None and not isinstance(config, entry.config_type):
        raise TypeError(f"strategy {name!r} is configured by {entry.config_type.__name__}, "
                        f"got {type(config).__name__}")
    return entry.factory(space, config, seed)


def list_strategies() -> list[str]:
    """Names of the registered weight-sharing strategies."""
    return sorted(_REGISTRY)
