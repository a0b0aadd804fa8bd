"""Compound scaling's maths and its one interface: coefficients, the feasible grid, rounding, ``ScalableNet``.

EfficientNet (Tan & Le 2019) scales a network's depth by ``d = alpha^phi``, its width by ``w = beta^phi`` and its
input resolution by ``r = gamma^phi``. Multiply-adds grow about linearly in depth and quadratically in width and
in resolution, so under ``alpha * beta^2 * gamma^2 ~ 2`` they grow about ``2^phi``. The coefficients are found
once, by a small grid search at ``phi = 1`` (:mod:`parsecnas.scaling.search`); any ``phi`` then follows.

A network family takes part through :class:`ScalableNet`: its base depth, width and resolution, how multipliers
round to a valid network (:meth:`ScalableNet.scaled`), what that network costs, and a short training that scores
it on held-out images. Families are registered by name with their config type (:func:`register_scalable`), so a
new one (the elastic sub-networks of a Once-for-All space) plugs in without changing the search.

Example:
    >>> grid = feasible_grid((1.0, 1.2, 2.0), (1.0, 1.1), (1.0, 1.15), tolerance=0.05)
    >>> [(c.alpha, c.beta, c.gamma) for c in grid]
    [(1.2, 1.1, 1.15), (2.0, 1.0, 1.0)]
    >>> round(grid[0].product, 3), round_to_multiple(36 * 1.1 ** 2, 4)
    (1.92, 44)
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Coefficients", "Dims", "NetCost", "Rounding", "ScalableEntry", "ScalableNet", "feasible_grid",
           "list_scalable", "register_scalable", "round_to_multiple", "scalable_config_type", "scalable_entry"]


@dataclass(frozen=True)
class Coefficients:
    """EfficientNet's per-unit-of-phi factors of depth (``alpha``), width (``beta``) and resolution (``gamma``)."""

    alpha: float
    beta: float
    gamma: float

    @property
    def product(self) -> float:
        """``alpha * beta^2 * gamma^2``: the predicted growth of multiply-adds per unit of phi."""
        return self.alpha * self.beta ** 2 * self.gamma ** 2

    def multipliers(self, phi: float) -> tuple[float, float, float]:
        """``(alpha^phi, beta^phi, gamma^phi)``: depth, width and resolution multipliers at ``phi``."""
        return self.alpha ** phi, self.beta ** phi, self.gamma ** phi

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def feasible_grid(alphas: Sequence[float], betas: Sequence[float], gammas: Sequence[float], target: float = 2.0,
                  tolerance: float = 0.05) -> list[Coefficients]:
    """Every ``(alpha, beta, gamma)`` of the grid with ``|alpha * beta^2 * gamma^2 / target - 1| <= tolerance``,
    in grid order (alpha, then beta, then gamma, each ascending; repeated values once).

    Raises:
        ValueError: a value below 1 (the paper's ``alpha, beta, gamma >= 1``: scaling never shrinks a
            dimension), or no point of the grid is feasible (the message names the nearest).
    """
    axes = [sorted(set(float(v) for v in values)) for values in (alphas, betas, gammas)]
    for name, values in zip(("alphas", "betas", "gammas"), axes, strict=True):
        if not values or values[0] < 1:
            raise ValueError(f"{name} must be a non-empty list of values >= 1 (scaling never shrinks a "
                             f"dimension), got {values}")
    points = [Coefficients(*p) for p in itertools.product(*axes)]
    feasible = [c for c in points if abs(c.product / target - 1) <= tolerance + 1e-12]
    if not feasible:
        near = min(points, key=lambda c: abs(c.product / target - 1))
        raise ValueError(f"no point of the grid has alpha * beta^2 * gamma^2 within {tolerance:.0%} of {target:g} "
                         f"(the nearest: {near.alpha:g} * {near.beta:g}^2 * {near.gamma:g}^2 = {near.product:.3f}); "
                         "add grid values or widen tolerance")
    return feasible


def round_to_multiple(value: float, divisor: int, floor_fraction: float = 0.9) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``), one multiple higher when
    that would lose more than ``1 - floor_fraction`` of it (EfficientNet's rule for channel counts)."""
    if divisor < 1:
        raise ValueError(f"divisor must be >= 1, got {divisor}")
    rounded = max(divisor, int(math.floor(value / divisor + 0.5)) * divisor)
    return rounded + divisor if rounded < floor_fraction * value else rounded


@dataclass(frozen=True)
class Dims:
    """A network's size on the three axes, in the family's own units.

    Attributes:
        depth: e.g. the cells of a DARTS stack.
        width: e.g. the initial channels C.
        resolution: the input image side in pixels.
    """

    depth: int
    width: int
    resolution: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Rounding:
    """How scaled widths and resolutions round: to multiples of these."""

    channel_divisor: int = 4
    resolution_divisor: int = 4


@dataclass(frozen=True)
class NetCost:
    """Parameters and multiply-adds (one image) of a network."""

    params: int
    madds: int


class ScalableNet(ABC):
    """A network family with depth, width and resolution knobs: what compound scaling needs of a network.

    Implementations hold the base network and its training recipe; the constructor does no I/O.
    """

    @abstractmethod
    def base(self) -> Dims:
        """The unscaled network's size (ValueError when it cannot be scaled, naming what would be valid)."""

    @abstractmethod
    def scaled(self, depth: float, width: float, resolution: float, rounding: Rounding) -> Dims:
        """The valid network nearest the base times these multipliers (multipliers of 1 give the base)."""

    @abstractmethod
    def cost(self, dims: Dims) -> NetCost:
        """Parameters and multiply-adds of the network of size ``dims``."""

    @abstractmethod
    def train(self, dims: Dims, run_dir: Path, epochs: int, steps_per_epoch: int | None,
              resume: bool) -> dict[str, Any]:
        """Trains the network of size ``dims`` briefly into ``run_dir`` (resuming it when ``resume``) and returns
        its result, whose ``val_accuracy`` (held-out training images, never the test set) ranks candidates."""

    @abstractmethod
    def settings(self, dims: Dims) -> dict[str, Any]:
        """The family's config fields that give size ``dims`` (e.g. ``num_cells``, ``channels``, ``image_size``)."""

    def describe(self) -> dict[str, Any]:
        """What the run directory records of the base network (compared when a search resumes)."""
        return {}

    def command(self, dims: Dims) -> str | None:
        """The shell command that trains the network of size ``dims`` with the full recipe, if there is one."""
        return None


@dataclass(frozen=True)
class ScalableEntry:
    """A registered family: ``factory(source, config)`` builds its :class:`ScalableNet` from what the user names
    (a genotype, a sub-network) and its config (of ``config_type``); ``defaults(source)``, when given, is the config
    a command starts from for that source (e.g. the dataset a search ran on)."""

    factory: Callable[[str, Any], ScalableNet]
    config_type: type
    summary: str = ""
    defaults: Callable[[str], Any] | None = None

    def default_config(self, source: str) -> Any:
        """The config the family starts from for ``source``: ``defaults(source)``, else the type's defaults."""
        return self.defaults(source) if self.defaults is not None else self.config_type()


_REGISTRY: dict[str, ScalableEntry] = {}


def register_scalable(name: str, factory: Callable[[str, Any], ScalableNet], config_type: type,
                      summary: str = "", defaults: Callable[[str], Any] | None = None) -> None:
    """Makes a family available as ``ScaleConfig(kind=name)`` / ``parsecnas scale --kind name``."""
    _REGISTRY[name] = ScalableEntry(factory, config_type, summary, defaults)


def list_scalable() -> list[str]:
    """The registered families, sorted."""
    return sorted(_REGISTRY)


def scalable_entry(name: str) -> ScalableEntry:
    """The entry of family ``name`` (ValueError listing the valid ones)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown kind {name!r} of scalable network; valid: {', '.join(list_scalable())}")
    return _REGISTRY[name]


def scalable_config_type(name: Any) -> type:
    """The config type of family ``name`` (what ``ScaleConfig.net`` holds)."""
    return scalable_entry(str(name)).config_type
