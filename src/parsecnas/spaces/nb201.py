"""The NAS-Bench-201 cell space (Dong & Yang 2020): 4 nodes, 6 edges, 5 ops per edge, 5^6 = 15,625 cells.

Node 0 is the cell input; node i = 1..3 sums one op applied to each earlier node j < i. The six edges, in the
order of the standard string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, are (1<-0), (2<-0), (2<-1), (3<-0),
(3<-1), (3<-2). Each edge is one decision over :data:`NB201_OPS`.

The values (ops, edges, :class:`NB201Arch`) live in :mod:`parsecnas.spaces.nb201_arch`, re-exported here. The
benchmark's index of a cell (row i of its tables) is not an enumeration order of the ops: it comes from the
benchmark's files, so :class:`~parsecnas.estimators.tabular.NB201Table` owns index <-> architecture.
:meth:`NB201Arch.ordinal` is this space's own base-5 enumeration (0 .. 15,624), useful for arrays.

The relaxed view (DARTS, GDAS) is one (6 edges, 5 ops) weight matrix shared by every cell, as in the NB201 code;
an architecture is derived from it by the argmax op of each edge, ``none`` included, as the NB201 code does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .base import Decision, MixingLayout, MixingWeights, NetSetting, OpSite, Space, register_space
from .nb201_arch import EDGES, NB201_OPS, NUM_NODES, NB201Arch, as_nb201_arch, nb201_path_encoding

__all__ = ["EDGES", "MIXING_LAYOUT", "NB201_OPS", "NUM_NODES", "NB201Arch", "NB201Space", "as_nb201_arch",
           "nb201_decisions", "nb201_path_encoding"]

MIXING_LAYOUT = MixingLayout(("cell",), len(EDGES), NB201_OPS)
"""The relaxed view: one (6, 5) weight matrix, rows in :data:`EDGES` order, shared by all cells."""


def nb201_decisions() -> tuple[Decision, ...]:
    """One decision per edge, named ``node{i}/in{j}``, over :data:`NB201_OPS`."""
    return tuple(Decision(f"node{i}/in{j}", NB201_OPS) for i, j in EDGES)


class NB201Space(Space):
    """The NAS-Bench-201 space. Architectures are :class:`NB201Arch` values.

    ``build`` and ``supernet`` options: ``num_cells`` (cells per stage, 5), ``channels`` (16), ``num_classes``
    (10), ``in_channels`` (3); ``auxiliary`` is accepted only as ``False`` (the benchmark's network has no such
    head). Its benchmark table is ``parsecnas.estimators.tabular`` (``table_record``).

    Example:
        >>> space = NB201Space()
        >>> arch = space.from_choices([3, 3, 3, 1, 3, 3])
        >>> space.format(arch)
        '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
    """

    name = "nb201"

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
        return tuple(NB201_OPS.index(op) for op in as_nb201_arch(arch).ops)

    def parse(self, text: str) -> NB201Arch:
        return NB201Arch.parse(text)

    def format(self, arch: Any) -> str:
        return str(as_nb201_arch(arch))

    def build(self, arch: Any, **net_options: Any) -> nn.Module:
        from ..nets.nb201 import NB201Network

        return NB201Network(as_nb201_arch(arch), **net_options)

    def supernet(self, **net_options: Any) -> nn.Module:
        from ..nets.nb201 import NB201SuperNet

        if net_options.pop("auxiliary", False):
            raise ValueError("NB201 networks have no auxiliary head; pass auxiliary=False (net.auxiliary)")
        net_options.pop("auxiliary_weight", None)
        return NB201SuperNet(**net_options)

    def net_setting(self, name: str, **options: Any) -> NetSetting:
        """The benchmark's networks: ``cifar10`` / ``cifar100`` (32 px) or ``imagenet16`` (16 px, 120 classes);
        ``options`` override the build options (``num_cells``, ``channels``)."""
        known = {"cifar10": (32, 10), "cifar100": (32, 100), "imagenet16": (16, 120)}
        if name not in known:
            raise ValueError(f"unknown NB201 network setting {name!r}; valid: {', '.join(known)}")
        size, classes = known[name]
        options = {"num_classes": classes, **options}
        return NetSetting(name, options, size, int(options.get("in_channels", 3)))

    def op_sites(self, setting: NetSetting) -> tuple[tuple[tuple[OpSite, ...], ...], ...]:
        """Each edge's op runs in every cell: N cells per stage at width C * 2^s and size image / 2^s."""
        channels, cells = int(setting.options.get("channels", 16)), int(setting.options.get("num_cells", 5))
        stages = []
        size = setting.image_size
        for stage in range(3):
            stages += [(channels * 2 ** stage, size)] * cells
            size = (size + 1) // 2
        return tuple(tuple(tuple(OpSite(op, c, 1, s, s) for c, s in stages) for op in NB201_OPS) for _ in EDGES)

    def build_op(self, site: OpSite) -> nn.Module:
        from ..nets.nb201 import OPS

        return OPS[site.op](site.channels, True)

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
        return nb201_path_encoding(as_nb201_arch(arch)) if encoding == "path" else super().encode(arch, encoding)


register_space("nb201", NB201Space)

