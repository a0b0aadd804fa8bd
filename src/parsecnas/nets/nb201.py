"""Networks of the NAS-Bench-201 space: the benchmark's training network and a weight-sharing supernet.

Both are the NB201 macro skeleton: a 3x3 conv + BN stem, three stages of N cells at widths C, 2C, 4C with a
residual reduction block (stride 2) between stages, BN + ReLU, global average pooling and a linear classifier.
Convolutional ops are ReLU-conv-BN. The benchmark trained N = 5, C = 16.

The supernet follows the project's convention for search networks: BN without affine and without running
statistics (always batch statistics), so every sampled path is normalised by its own activations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import ReLUConvBN, Zero, batch_norm
from ..spaces.nb201_arch import EDGES, NB201_OPS, NUM_NODES, NB201Arch

OPS: dict[str, Callable[[int, bool], nn.Module]] = {
    "none": lambda c, affine: Zero(1),
    "skip_connect": lambda c, affine: nn.Identity(),
    "nor_conv_1x1": lambda c, affine: ReLUConvBN(c, c, 1, 1, 0, affine),
    "nor_conv_3x3": lambda c, affine: ReLUConvBN(c, c, 3, 1, 1, affine),
    "avg_pool_3x3": lambda c, affine: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
}
"""The op table ``name -> factory(channels, affine)``, built from the shared ops library (ReLU-conv-BN is the
NB201 convolutional op); every cell op keeps width and resolution."""


class ResidualReduction(nn.Module):
    """The block between stages: two ReLU-conv-BN 3x3 (the first with stride 2) plus avg-pool + 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, affine: bool) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, affine)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, affine)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Cell(nn.Module):
    """A fixed cell: node i = sum over j < i of op_(i,j)(node j); the output is node 3."""

    def __init__(self, arch: NB201Arch, channels: int, affine: bool = True) -> None:
        super().__init__()
        self.edges = nn.ModuleList(OPS[op](channels, affine) for op in arch.ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for i in range(1, NUM_NODES):
            nodes.append(sum(self.edges[e](nodes[j]) for e, (n, j) in enumerate(EDGES) if n == i))
        return nodes[-1]


class MixedEdge(nn.Module):
    """Every candidate op of one edge, in :data:`NB201_OPS` order; runs one of them or a weighted sum of some.

    Both forms return ``None`` when nothing runs (``none`` chosen, or every op masked out), so the cell adds
    nothing instead of computing zeros.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(OPS[op](channels, False) for op in NB201_OPS)

    def forward_op(self, x: torch.Tensor, index: int) -> torch.Tensor | None:
        """Only op ``index`` (``none``: nothing)."""
        return None if index == _NONE else self.ops[index](x)

    def forward_mixed(self, x: torch.Tensor, weights: torch.Tensor, run: Sequence[bool]) -> torch.Tensor | None:
        """sum_o weights[o] * op_o(x) over the ops with ``run[o]`` (``none`` contributes nothing and is skipped)."""
        return _sum([weights[o] * op(x) for o, op in enumerate(self.ops) if run[o] and o != _NONE])


_NONE = NB201_OPS.index("none")


def _sum(terms: Sequence[torch.Tensor]) -> torch.Tensor | None:
    if not terms:
        return None
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


class _Skeleton(nn.Module):
    """Stem, three stages of ``num_cells`` cells with residual reductions between, head; cells made by subclasses."""

    def __init__(self, make_cell: Callable[[int], nn.Module], num_cells: int, channels: int, num_classes: int,
                 in_channels: int, affine: bool) -> None:
        super().__init__()
        if num_cells < 1 or channels < 1 or num_classes < 1:
            raise ValueError(f"num_cells, channels and num_classes must be >= 1; got {num_cells}, {channels}, "
                             f"{num_classes}")
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
                                  batch_norm(channels, affine))
        layers: list[nn.Module] = []
        for stage in range(3):
            width = channels * 2 ** stage
            if stage > 0:
                layers.append(ResidualReduction(width // 2, width, affine))
            layers += [make_cell(width) for _ in range(num_cells)]
        self.layers = nn.ModuleList(layers)
        self.head = nn.Sequential(batch_norm(4 * channels, affine), nn.ReLU(inplace=False))
        self.classifier = nn.Linear(4 * channels, num_classes)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pooling and the classifier (``pre_logits``: the pooled features only)."""
        pooled = F.adaptive_avg_pool2d(features, 1).flatten(1)
        return pooled if pre_logits else self.classifier(pooled)


class NB201Network(_Skeleton):
    """The NAS-Bench-201 training network of one cell (defaults: N = 5 cells per stage, C = 16).

    Example:
        >>> arch = NB201Arch(("nor_conv_3x3",) * 6)
        >>> NB201Network(arch, num_cells=1, channels=8)(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, arch: NB201Arch, num_cells: int = 5, channels: int = 16, num_classes: int = 10,
                 in_channels: int = 3, auxiliary: bool = False) -> None:
        if auxiliary:
            raise ValueError("NB201 networks have no auxiliary head; pass auxiliary=False")
        super().__init__(lambda c: NB201Cell(arch, c), num_cells, channels, num_classes, in_channels, True)
        self.arch = arch

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map before global pooling."""
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class SuperCell(nn.Module):
    """A cell holding every op on every edge; runs one op per edge (a path) or a mixture."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedEdge(channels) for _ in EDGES)

    def _run(self, x: torch.Tensor, edge_output: Callable[[int, torch.Tensor], torch.Tensor | None]) -> torch.Tensor:
        nodes = [x]
        for i in range(1, NUM_NODES):
            terms = [edge_output(e, nodes[j]) for e, (n, j) in enumerate(EDGES) if n == i]
            total = _sum([t for t in terms if t is not None])
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]

    def forward_path(self, x: torch.Tensor, choices: Sequence[int]) -> torch.Tensor:
        """Only the chosen op of each edge runs (``choices[e]`` indexes :data:`NB201_OPS`)."""
        return self._run(x, lambda e, h: self._edge(e).forward_op(h, choices[e]))

    def forward_mixed(self, x: torch.Tensor, weights: torch.Tensor, run: Sequence[Sequence[bool]]) -> torch.Tensor:
        """Each edge's weighted sum over the ops with ``run[e][o]``; ``weights`` of shape (6, 5)."""
        return self._run(x, lambda e, h: self._edge(e).forward_mixed(h, weights[e], run[e]))

    def _edge(self, e: int) -> MixedEdge:
        edge = self.edges[e]
        assert isinstance(edge, MixedEdge)
        return edge


class NB201SuperNet(_Skeleton):
    """Weight-sharing network of the NB201 space (non-affine BN with batch statistics).

    ``net(x, arch)`` runs only ``arch``'s op on each edge (``none`` edges compute nothing): one network's cost
    and memory, which PARSEC's samples rely on. ``net(x, w)`` with ``w`` of shape (6, 5), or
    ``net(x, {"cell": w, "cell_active": mask})`` (the :data:`~parsecnas.spaces.base.MixingWeights` form every
    relaxed strategy passes), runs the weighted sum of ops on each edge: every op but ``none``, or only those
    in the optional bool ``mask`` (GDAS runs one per edge). Rows follow :data:`EDGES`, columns
    :data:`NB201_OPS`; the same weights serve all cells.

    Example:
        >>> net = NB201SuperNet(num_cells=1, channels=8)
        >>> x = torch.randn(2, 3, 32, 32)
        >>> net(x, NB201Arch(("skip_connect",) * 6)).shape, net(x, torch.full((6, 5), 0.2)).shape
        (torch.Size([2, 10]), torch.Size([2, 10]))
    """

    def __init__(self, num_cells: int = 5, channels: int = 16, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__(SuperCell, num_cells, channels, num_classes, in_channels, False)

    def forward_features(self, x: torch.Tensor, arch: NB201Arch | torch.Tensor | Mapping[str, torch.Tensor]
                         ) -> torch.Tensor:
        """The feature map for ``arch`` (a path or mixing weights), before global pooling."""
        cell = self._cell_function(arch)
        x = self.stem(x)
        for layer in self.layers:
            x = cell(layer, x) if isinstance(layer, SuperCell) else layer(x)
        return self.head(x)

    def forward(self, x: torch.Tensor, arch: NB201Arch | torch.Tensor | Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.forward_head(self.forward_features(x, arch))

    def op_parameters(self) -> dict[str, torch.Tensor]:
        """Parameters (millions) of each candidate op, ``{"cell": (6, 5)}`` in :data:`NB201_OPS` order, summed over
        all cells (they share one architecture): SNAS's resource cost."""
        counts = torch.zeros(len(EDGES), len(NB201_OPS))
        for layer in self.layers:
            if isinstance(layer, SuperCell):
                for e in range(len(EDGES)):
                    for o, op in enumerate(layer._edge(e).ops):
                        counts[e, o] += sum(p.numel() for p in op.parameters()) / 1e6
        return {"cell": counts}

    @staticmethod
    def _cell_function(arch: NB201Arch | torch.Tensor | Mapping[str, torch.Tensor]
                       ) -> Callable[[SuperCell, torch.Tensor], torch.Tensor]:
        if isinstance(arch, NB201Arch):
            choices = [NB201_OPS.index(op) for op in arch.ops]
            return lambda cell, x: cell.forward_path(x, choices)
        weights, active = (arch, None) if isinstance(arch, torch.Tensor) else (arch["cell"], arch.get("cell_active"))
        shape = (len(EDGES), len(NB201_OPS))
        if tuple(weights.shape) != shape or (active is not None and tuple(active.shape) != shape):
            raise ValueError(f"mixing weights and masks must have shape {shape}; got {tuple(weights.shape)}"
                             + ("" if active is None else f" and {tuple(active.shape)}"))
        run = active.tolist() if active is not None else [[True] * shape[1]] * shape[0]
        return lambda cell, x: cell.forward_mixed(x, weights, run)


def one_hot_weights(arch: NB201Arch) -> torch.Tensor:
    """(6, 5) mixing weights that select exactly ``arch``'s ops."""
    w = torch.zeros(len(EDGES), len(NB201_OPS))
    for e, op in enumerate(arch.ops):
        w[e, NB201_OPS.index(op)] = 1.0
    return w
