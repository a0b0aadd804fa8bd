"""The values of the NAS-Bench-201 cell space: its ops, edges and :class:`NB201Arch` (no networks, no tables).

Node 0 is the cell input; node i = 1..3 sums one op applied to each earlier node j < i. The six edges, in the
order of the standard string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, are (1<-0), (2<-0), (2<-1), (3<-0),
(3<-1), (3<-2). Networks (``parsecnas.nets.nb201``), the table (``parsecnas.estimators.tabular``) and the space
adapter (``parsecnas.spaces.nb201``) all build on this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any

import torch

NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The five candidate ops, in NAS-Bench-201's order."""

NUM_NODES = 4
EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(1, NUM_NODES) for j in range(i))
"""``(node, source)`` of the six edges, in the order of the standard string."""



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


def as_nb201_arch(arch: Any) -> NB201Arch:
    """``arch`` as an :class:`NB201Arch` (given one, or its string form)."""
    if isinstance(arch, NB201Arch):
        return arch
    if isinstance(arch, str):
        return NB201Arch.parse(arch)
    raise TypeError(f"expected an NB201Arch or its string form, got {type(arch).__name__}")
