"""The NAS-Bench-201 cell space (Dong & Yang 2020): 4 nodes, 6 edges, 5 ops per edge, 5^6 = 15,625 cells.

Node 0 is the cell input; node i = 1..3 sums one op applied to each earlier node j < i. The six edges, in the
order of the standard string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, are (1<-0), (2<-0), (2<-1), (3<-0),
(3<-1), (3<-2). Each edge is one decision over :data:`NB201_OPS`.

The benchmark's index of a cell (row i of its tables) is not an enumeration order of the ops: it comes from the
benchmark's files, so :class:`~parsecnas.estimators.tabular.NB201Table` owns index <-> architecture.
:meth:`NB201Arch.ordinal` is this space's own base-5 enumeration (0 .. 15,624), useful for arrays.

The relaxed view (DARTS, GDAS) is one (6 edges, 5 ops) weight matrix shared by every cell, as in the NB201 code;
an architecture is derived from it by the argmax op of each edge, ``none`` included, as the NB201 code does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .base import Decision, MixingLayout, MixingWeights, Space, register_space

if TYPE_CHECKING:
    from ..estimators.tabular import NB201Table

NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The five candidate ops, in NAS-Bench-201's order."""

NUM_NODES = 4
EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(1, NUM_NODES) for j in range(i))
"""``(node, source)`` of the six edges, in the order of the standard string."""

MIXING_LAYOUT = MixingLayout(("cell",), len(EDGES), NB201_OPS)
"""The relaxed view: one (6, 5) weight matrix, rows in :data:`EDGES` order, shared by all cells."""


@dataclass(frozen=True)
class NB201Arch:
    """One NAS-Bench-201 cell: the op on each of the six edges, in :data:`EDGES` order.

    Example:
        >>> arch = NB201Arch.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|"
        ...                        "nor_conv_3x3~1|nor_conv_3x3~2|")
        >>> arch.op(3, 0), NB201Arch.parse(str(arch)) == arch
        ('skip_connect', True)
    """

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        ops = tuple(self.ops)
        object.__setattr__(self, "ops", ops)
        if len(ops) != len(EDGES):
            raise ValueError(f"an NB201 cell has {len(EDGES)} edges; got {len(ops)} ops: {list(ops)}")
        for op in ops:
            if op not in NB201_OPS:
                raise ValueError(f"unknown op {op!r} in NB201 cell; valid ops: {', '.join(NB201_OPS)}")

    def op(self, node: int, source: int) -> str:
        """The op on the edge from ``source`` into ``node``."""
        try:
            return self.ops[EDGES.index((node, source))]
        except ValueError:
            raise ValueError(f"no edge {source}->{node}; edges: {EDGES}") from None

    @property
    def ordinal(self) -> int:
        """Base-5 number of the op indices (first edge most significant); not the benchmark's index."""
        value = 0
        for op in self.ops:
            value = value * len(NB201_OPS) + NB201_OPS.index(op)
        return value

    def __str__(self) -> str:
        nodes = []
        for i in range(1, NUM_NODES):
            nodes.append("|" + "|".join(f"{self.op(i, j)}~{j}" for j in range(i)) + "|")
        return "+".join(nodes)

    @classmethod
    def parse(cls, text: str) -> NB201Arch:
        """Inverse of ``str``: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        nodes = text.strip().split("+")
        if len(nodes) != NUM_NODES - 1:
            raise ValueError(f"an NB201 string has {NUM_NODES - 1} '+'-separated nodes; got {text!r}")
        ops = []
        for i, node in enumerate(nodes, start=1):
            items = [item for item in node.strip("|").split("|")]
            if len(items) != i:
                raise ValueError(f"node {i} of {text!r} needs {i} inputs, got {len(items)}")
            for j, item in enumerate(items):
                op, _, source = item.partition("~")
                if source != str(j):
                    raise ValueError(f"node {i} of {text!r}: expected input {j}, got {item!r}")
                ops.append(op)
        return cls(tuple(ops))


def nb201_decisions() -> tuple[Decision, ...]:
    """One decision per edge, named ``node{i}/in{j}``, over :data:`NB201_OPS`."""
    return tuple(Decision(f"node{i}/in{j}", NB201_OPS) for i, j in EDGES)


class NB201Space(Space):
    """The NAS-Bench-201 space. Architectures are :class:`NB201Arch` values.

    ``build`` and ``supernet`` options: ``num_cells`` (cells per stage, 5), ``channels`` (16), ``num_classes``
    (10), ``in_channels`` (3); ``auxiliary`` is accepted only as ``False`` (the benchmark's network has no such
    head). :meth:`lookup` reads the benchmark table lazily (once per ``data_dir``) on first use.

    Example:
        >>> space = NB201Space()
        >>> arch = space.from_choices([3, 3, 3, 1, 3, 3])
        >>> space.format(arch)
        '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
    """

    name = "nb201"

    def __init__(self) -> None:
        self._tables: dict[str | None, NB201Table] = {}

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return nb201_decisions()

    def from_choices(self, choices: Sequence[int]) -> NB201Arch:
        if len(choices) != len(EDGES):
            raise ValueError(f"expected {len(EDGES)} choices (one per edge), got {len(choices)}")
        bad = [int(c) for c in choices if not 0 <= int(c) < len(NB201_OPS)]
        if bad:
            raise ValueError(f"choices {bad} out of range; valid: 0 .. {len(NB201_OPS) - 1}")
        return NB201Arch(tuple(NB201_OPS[int(c)] for c in choices))

    def to_choices(self, arch: Any) -> tuple[int, ...]:
        return tuple(NB201_OPS.index(op) for op in _as_arch(arch).ops)

    def parse(self, text: str) -> NB201Arch:
        return NB201Arch.parse(text)

    def format(self, arch: Any) -> str:
        return str(_as_arch(arch))

    def build(self, arch: Any, **net_options: Any) -> nn.Module:
        from ..nets.nb201 import NB201Network

        return NB201Network(_as_arch(arch), **net_options)

    def supernet(self, **net_options: Any) -> nn.Module:
        from ..nets.nb201 import NB201SuperNet

        if net_options.pop("auxiliary", False):
            raise ValueError("NB201 networks have no auxiliary head; pass auxiliary=False (net.auxiliary)")
        net_options.pop("auxiliary_weight", None)
        return NB201SuperNet(**net_options)

    @property
    def mixing_layout(self) -> MixingLayout:
        return MIXING_LAYOUT

    def derive(self, weights: Mapping[str, torch.Tensor]) -> NB201Arch:
        """The argmax op of each edge (``none`` included, as the NB201 code derives DARTS and GDAS cells)."""
        w = weights["cell"].detach()
        if tuple(w.shape) != MIXING_LAYOUT.shape:
            raise ValueError(f"NB201 weights have shape {tuple(w.shape)}; expected {MIXING_LAYOUT.shape}")
        return NB201Arch(tuple(NB201_OPS[int(i)] for i in w.float().argmax(dim=1)))

    def mixing_from(self, arch: Any) -> MixingWeights:
        w = torch.zeros(MIXING_LAYOUT.shape)
        w[torch.arange(len(EDGES)), torch.tensor(self.to_choices(arch))] = 1.0
        return {"cell": w}

    encodings = ("path", "onehot")

    def encode(self, arch: Any, encoding: str = "onehot") -> torch.Tensor:
        """``path`` (:func:`nb201_path_encoding`, BANANAS's) or ``onehot`` (one per edge's op)."""
        return nb201_path_encoding(_as_arch(arch)) if encoding == "path" else super().encode(arch, encoding)

    def lookup(self, arch: Any, dataset: str = "cifar10", data_dir: str | None = None) -> dict[str, Any]:
        """The NB201 table's record of ``arch`` (200-epoch runs): its index, test (and, where the table has it,
        validation) accuracy in percent on CIFAR-10, CIFAR-100 and ImageNet16-120, each dataset's optimum, and
        ``test_accuracy`` on the table's counterpart of ``dataset`` (CIFAR-10 for datasets it lacks).

        Raises:
            FileNotFoundError: the table is not under ``data_dir``, ``$PARSECNAS_DATA`` or the user cache.
        """
        from ..estimators.tabular import DATASETS, NB201Table, canonical_dataset

        table = self._tables.setdefault(data_dir, NB201Table(data_dir))
        index = table.index(_as_arch(arch))
        accuracies: dict[str, dict[str, float]] = {}
        optimum: dict[str, dict[str, Any]] = {}
        for name in DATASETS:
            result = table.query(index, name, 200, select="test")
            accuracies[name] = {"test": result.test_accuracy}
            if result.valid_accuracy == result.valid_accuracy:  # not NaN: the table has a validation column
                accuracies[name]["valid"] = result.valid_accuracy
            best, best_accuracy = table.best(name, 200, "test")
            optimum[name] = {"index": best, "arch": table.arch_strings[best], "test": best_accuracy}
        try:
            target = canonical_dataset(dataset)
        except ValueError:
            target = "cifar10"
        return {"benchmark": "NAS-Bench-201", "epochs": 200, "arch": self.format(arch), "index": index,
                "dataset": target, "test_accuracy": accuracies[target]["test"], "accuracies": accuracies,
                "optimum": optimum}


def _as_arch(arch: Any) -> NB201Arch:
    if isinstance(arch, NB201Arch):
        return arch
    if isinstance(arch, str):
        return NB201Arch.parse(arch)
    raise TypeError(f"expected an NB201Arch or its string form, got {type(arch).__name__}")


register_space("nb201", NB201Space)


_PATHS = ((0, 3), (0, 1, 3), (0, 2, 3), (0, 1, 2, 3))
_PATH_OPS = tuple(op for op in NB201_OPS if op != "none")
_SEQUENCES = {seq: k for k, seq in enumerate(s for n in (1, 2, 3) for s in product(_PATH_OPS, repeat=n))}


def nb201_path_encoding(arch: NB201Arch) -> torch.Tensor:
    """BANANAS's path encoding (White et al. 2021): a binary vector over the 4 + 16 + 64 op sequences, 1 where
    some path from the cell's input to its output carries that sequence (paths through ``none`` carry none)."""
    x = torch.zeros(len(_SEQUENCES))
    for path in _PATHS:
        ops = tuple(arch.op(b, a) for a, b in zip(path, path[1:]))
        if "none" not in ops:
            x[_SEQUENCES[ops]] = 1.0
    return x
