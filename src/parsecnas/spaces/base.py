"""What every search space is: a list of named categorical decisions and a way to turn choices into networks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn


@dataclass(frozen=True)
class Decision:
    """One named categorical choice of a space, e.g. ``normal/node2/in0`` over (input, op) pairs.

    Attributes:
        name: unique name within the space; distributions match decisions by name when transferring.
        choices: a readable label per option, in index order.
    """

    name: str
    choices: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.choices) < 1:
            raise ValueError(f"decision {self.name!r} needs at least one choice")

    @property
    def size(self) -> int:
        return len(self.choices)


@dataclass(frozen=True)
class OpSite:
    """One op instance a network runs, as its cost depends on it: the op, its width, stride and input size.

    Attributes:
        op: the op's name in its space's op table.
        channels: input (and output) channels.
        stride: 1, or 2 where the op halves the resolution.
        height, width: spatial size of its input.
    """

    op: str
    channels: int
    stride: int
    height: int
    width: int

    @property
    def key(self) -> str:
        """A readable, unique key (``sep_conv_3x3/c16/s1/32x32``), e.g. for latency tables."""
        return f"{self.op}/c{self.channels}/s{self.stride}/{self.height}x{self.width}"


@dataclass(frozen=True)
class NetSetting:
    """A network configuration whose cost is measured: the space's build options and the input images.

    Attributes:
        name: what the space calls it (``cifar10``, ``imagenet``...).
        options: keyword arguments of :meth:`Space.build`.
        image_size: input height and width.
        in_channels: input channels.
    """

    name: str
    options: Mapping[str, Any]
    image_size: int
    in_channels: int = 3

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        return batch, self.in_channels, self.image_size, self.image_size

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(self.options), "image_size": self.image_size,
                "in_channels": self.in_channels}


def choice_op(label: str) -> str:
    """The op named by a choice label: labels are ``op`` (NB201) or ``input:op`` (PARSEC's DARTS view)."""
    return label.rsplit(":", 1)[-1]


class Space(ABC):
    """A search space. Architectures are frozen hashable values; networks are built from them.

    ``decisions`` are the space's categorical view (what PARSEC, REINFORCE and black-box strategies choose);
    ``from_choices``/``to_choices`` convert between one index per decision and an architecture. Besides the
    abstract methods, a space may override the hooks below, whose defaults serve any space: what a run writes
    about an architecture (:meth:`files`, :meth:`draw`), its encoding for predictors (:meth:`encode`), and
    whether ``parsecnas train`` can train its architectures from scratch (:attr:`trains_from_scratch`).
    """

    name: ClassVar[str] = ""
    trains_from_scratch: ClassVar[bool] = False
    """Whether ``parsecnas train RUN_DIR`` can train this space's architectures (the DARTS protocols)."""

    @property
    @abstractmethod
    def decisions(self) -> tuple[Decision, ...]: ...

    @abstractmethod
    def from_choices(self, choices: Sequence[int]) -> Hashable: ...

    @abstractmethod
    def to_choices(self, arch: Any) -> tuple[int, ...]: ...

    @abstractmethod
    def parse(self, text: str) -> Hashable:
        """The architecture whose :meth:`format` is ``text``."""

    @abstractmethod
    def format(self, arch: Any) -> str:
        """The canonical string form (``parse(format(a)) == a``)."""

    @abstractmethod
    def build(self, arch: Any, **net_options: Any) -> nn.Module:
        """A standalone network of ``arch``."""

    @abstractmethod
    def supernet(self, **net_options: Any) -> nn.Module:
        """The weight-sharing network: ``net(x, arch)`` runs only ``arch``'s ops."""

    def files(self, arch: Any) -> dict[str, str]:
        """What a run writes about its final architecture, by file name: ``architecture.txt`` (the string
        form, which :meth:`parse` reads back)."""
        return {"architecture.txt": self.format(arch) + "\n"}

    def to_plain(self, arch: Any) -> Any:
        """``arch`` as plain JSON data for the run's records (``metrics.jsonl``, ``top_architectures.json``);
        default: the string form. A space whose string form is itself JSON returns the parsed data instead."""
        return self.format(arch)

    def draw(self, arch: Any, path_prefix: Path) -> list[Path]:
        """Draws ``arch`` to files starting with ``path_prefix`` (needs matplotlib); default: no drawing."""
        return []

    encodings: ClassVar[tuple[str, ...]] = ("onehot",)
    """The encodings :meth:`encode` offers, the space's preferred one first."""

    def encode(self, arch: Any, encoding: str = "onehot") -> torch.Tensor:
        """A fixed-length float vector of ``arch`` for predictors; ``onehot``: each decision's choice."""
        if encoding != "onehot":
            raise ValueError(f"unknown encoding {encoding!r} for the {self.name!r} space; it offers: "
                             f"{', '.join(self.encodings)}")
        parts = [torch.nn.functional.one_hot(torch.tensor(c), d.size).float()
                 for c, d in zip(self.to_choices(arch), self.decisions)]
        return torch.cat(parts)

    def net_setting(self, name: str, **options: Any) -> NetSetting:
        """The network configuration called ``name`` (with build ``options`` overridden), for costing."""
        raise NotImplementedError(f"space {self.name!r} names no network settings to cost")

    def op_sites(self, setting: NetSetting) -> tuple[tuple[tuple[OpSite, ...], ...], ...]:
        """``sites[d][c]``: the ops that choice ``c`` of decision ``d`` puts into the network of ``setting``.

        A space that offers this has op-additive costs: a network's parameters, multiply-adds or latency are a
        fixed part plus the sum over decisions of its choices' ops (:mod:`parsecnas.estimators.cost`).
        """
        raise NotImplementedError(f"space {self.name!r} has no op-level view (op_sites) for additive costs")

    def build_op(self, site: OpSite) -> nn.Module:
        """The module of one op site, as the space's networks build it (it takes an input of the site's shape)."""
        raise NotImplementedError(f"space {self.name!r} has no op-level view (build_op) for additive costs")

    @property
    def size(self) -> int:
        """Number of architectures (choice combinations) in the space."""
        total = 1
        for d in self.decisions:
            total *= d.size
        return total


MixingWeights = dict[str, torch.Tensor]
"""What a supernet takes for a relaxed architecture: ``{cell: (num_edges, num_ops) op weights}`` per cell type
of the space's :class:`MixingLayout`, plus optional ``f"{cell}_active"`` bool masks of the ops to run (XNAS
wipeout, GDAS hard samples, P-DARTS shrinking); ops outside a mask do not compute."""


@dataclass(frozen=True)
class MixingLayout:
    """The relaxed view of a cell space that DARTS-family strategies optimise: per cell type, a matrix of op
    weights with one row per edge and one column per candidate op (``none`` included, as in DARTS).

    Attributes:
        cells: cell types that hold their own weights (DARTS: ``normal``, ``reduce``; NB201: one ``cell``).
        num_edges: edges per cell (DARTS 14, NB201 6).
        ops: op names, in column order.

    Example:
        >>> layout = MixingLayout(("cell",), 6, ("none", "skip_connect"))
        >>> layout.shape, layout.op_index("skip_connect"), layout.mask()["cell"].shape
        ((6, 2), 1, torch.Size([6, 2]))
    """

    cells: tuple[str, ...]
    num_edges: int
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.cells or self.num_edges < 1 or len(self.ops) < 2:
            raise ValueError(f"a mixing layout needs >= 1 cell type, >= 1 edge and >= 2 ops; got {self.cells}, "
                             f"{self.num_edges}, {self.ops}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(num_edges, num_ops)``: the shape of each cell type's weights."""
        return self.num_edges, len(self.ops)

    def op_index(self, name: str) -> int:
        """Column of op ``name``."""
        try:
            return self.ops.index(name)
        except ValueError:
            raise ValueError(f"unknown op {name!r}; valid ops: {', '.join(self.ops)}") from None

    def mask(self, exclude: Sequence[str] = ()) -> dict[str, torch.Tensor]:
        """All-true bool masks per cell type, except the columns of the ops in ``exclude``."""
        row = torch.tensor([op not in exclude for op in self.ops])
        return {c: row.expand(self.num_edges, -1).clone() for c in self.cells}


@runtime_checkable
class RelaxedSpace(Protocol):
    """A space with the relaxed view DARTS, GDAS and the other mixture strategies need.

    Its supernet accepts, besides an architecture, :data:`MixingWeights` shaped by :attr:`mixing_layout`.
    """

    name: str

    @property
    def mixing_layout(self) -> MixingLayout: ...

    def derive(self, weights: Mapping[str, torch.Tensor]) -> Hashable:
        """The discrete architecture the op weights (or logits) point to, by the space's derivation rule."""
        ...

    def mixing_from(self, arch: Any) -> MixingWeights:
        """Weights that select exactly ``arch``'s ops (1 per chosen op, counts where an op is chosen twice)."""
        ...


def as_relaxed(space: Space, strategy: str) -> RelaxedSpace:
    """``space`` as a :class:`RelaxedSpace`, or a clear error naming the strategy that needs the relaxed view."""
    if not isinstance(space, RelaxedSpace):
        raise TypeError(f"strategy {strategy!r} needs a space with a relaxed (edge x op) view; space "
                        f"{space.name!r} has none (it needs mixing_layout, derive and mixing_from)")
    return space


def sample_uniform(space: Space, generator: torch.Generator) -> Hashable:
    """Draws one architecture uniformly over each decision's choices.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> space = get_space("darts")
        >>> arch = sample_uniform(space, torch.Generator().manual_seed(0))
        >>> space.parse(space.format(arch)) == arch
        True
    """
    choices = [int(torch.randint(d.size, (1,), generator=generator)) for d in space.decisions]
    return space.from_choices(choices)


def mutate(space: Space, arch: Any, generator: torch.Generator) -> Hashable:
    """Returns a new architecture differing from ``arch`` in exactly one decision (uniform over the rest)."""
    choices = list(space.to_choices(arch))
    mutable = [i for i, d in enumerate(space.decisions) if d.size > 1]
    if not mutable:
        raise ValueError(f"space {space.name!r} has no decision with more than one choice to mutate")
    i = mutable[int(torch.randint(len(mutable), (1,), generator=generator))]
    shift = 1 + int(torch.randint(space.decisions[i].size - 1, (1,), generator=generator))
    choices[i] = (choices[i] + shift) % space.decisions[i].size
    return space.from_choices(choices)


_REGISTRY: dict[str, Callable[[], Space]] = {}


def register_space(name: str, factory: Callable[[], Space]) -> None:
    """Registers a space factory under ``name`` (used by the CLI and the conformance tests)."""
    _REGISTRY[name] = factory


def get_space(name: str) -> Space:
    """Creates a registered space by name, e.g. ``get_space("darts")``."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ValueError(f"unknown search space {name!r}; valid spaces: {', '.join(sorted(_REGISTRY))}") from None


def list_spaces() -> list[str]:
    """Names of the registered spaces."""
    return sorted(_REGISTRY)
