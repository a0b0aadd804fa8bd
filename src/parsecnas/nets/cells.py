"""Cells of the DARTS space: a fixed cell built from a genotype, and a search cell holding every candidate op."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import PRIMITIVES, Identity, ReducePreprocess, ReLUConvBN, Zero, apply_op, drop_path, make_op
from ..spaces.genotype import NUM_NODES, Genotype, Pair, edge_index, edges


@dataclass(frozen=True)
class CellSpec:
    """Channels and strides of one cell in a stack: inputs c_{k-2}, c_{k-1} and the cell's own width."""

    c_prev_prev: int
    c_prev: int
    channels: int
    reduction: bool
    reduction_prev: bool


def cell_plan(num_cells: int, channels: int, stem_channels: int, multiplier: int = NUM_NODES,
              first_reduction_prev: bool = False, reduce_multiplier: int | None = None) -> list[CellSpec]:
    """DARTS's stack: reductions (which double the width) at 1/3 and 2/3 of the depth.

    A cell outputs ``multiplier`` (reduction cells: ``reduce_multiplier``, by default the same) times its width:
    the number of nodes its genotype concatenates.
    """
    if num_cells < 1:
        raise ValueError(f"num_cells must be >= 1, got {num_cells}")
    reductions = {num_cells // 3, 2 * num_cells // 3} if num_cells >= 3 else set()
    plan = []
    c_pp, c_p, c, red_prev = stem_channels, stem_channels, channels, first_reduction_prev
    for i in range(num_cells):
        red = i in reductions
        c = c * 2 if red else c
        plan.append(CellSpec(c_pp, c_p, c, red, red_prev))
        outputs = reduce_multiplier if red and reduce_multiplier is not None else multiplier
        c_pp, c_p, red_prev = c_p, outputs * c, red
    return plan


def _preprocess(spec: CellSpec, affine: bool) -> tuple[nn.Module, nn.Module]:
    pre0: nn.Module = (ReducePreprocess(spec.c_prev_prev, spec.channels, affine) if spec.reduction_prev
                       else ReLUConvBN(spec.c_prev_prev, spec.channels, 1, 1, 0, affine))
    return pre0, ReLUConvBN(spec.c_prev, spec.channels, 1, 1, 0, affine)


class _Rectified:
    """Lazily computed ReLU of each cell state, shared by every op that starts with a ReLU."""

    def __init__(self, states: list[torch.Tensor]) -> None:
        self.states = states
        self.cache: dict[int, torch.Tensor] = {}

    def __call__(self, i: int) -> torch.Tensor:
        if i not in self.cache:
            self.cache[i] = F.relu(self.states[i])
        return self.cache[i]

    def run(self, op: nn.Module, i: int) -> torch.Tensor:
        return apply_op(op, self.states[i], self(i) if getattr(op, "takes_relu", False) else None)


class EvalCell(nn.Module):
    """A cell of an evaluation network: the genotype's 8 ops, BN affine, drop path on non-identity ops."""

    multiplier: int

    def __init__(self, genotype: Genotype, spec: CellSpec) -> None:
        super().__init__()
        cell_type = "reduce" if spec.reduction else "normal"
        self.spec = spec
        self.pairs: tuple[Pair, ...] = genotype.cell(cell_type)
        self.concat = genotype.concat(cell_type)
        self.pre0, self.pre1 = _preprocess(spec, affine=True)
        self.ops = nn.ModuleList(
            make_op(op, spec.channels, 2 if spec.reduction and source < 2 else 1, affine=True)
            for op, source in self.pairs
        )
        self.multiplier = len(self.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        rect = _Rectified(states)
        for node in range(NUM_NODES):
            total = None
            for k in (2 * node, 2 * node + 1):
                op = self.ops[k]
                h = rect.run(op, self.pairs[k][1])
                if self.training and drop_prob > 0 and not isinstance(op, Identity):
                    h = drop_path(h, drop_prob, generator)
                total = h if total is None else total + h
            assert total is not None
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class SearchCell(nn.Module):
    """A search cell: 14 edges, each holding all 8 candidate ops once (BN not affine, batch statistics).

    Called with a discrete list of 8 (op, input) pairs, only those ops run; called with (14, 8) mixing weights,
    every op with a non-zero weight column runs and is summed with its weight (``none`` contributes nothing and
    is skipped).
    """

    multiplier: int

    def __init__(self, spec: CellSpec, primitives: Sequence[str] = PRIMITIVES) -> None:
        super().__init__()
        self.reduction = spec.reduction
        self.primitives = tuple(primitives)
        self.pre0, self.pre1 = _preprocess(spec, affine=False)
        self.edges = nn.ModuleList(
            nn.ModuleDict({op: make_op(op, spec.channels, 2 if spec.reduction and source < 2 else 1, False)
                           for op in self.primitives})
            for _, source in edges()
        )
        self.multiplier = NUM_NODES

    def op(self, node: int, source: int, name: str) -> nn.Module:
        """The candidate op ``name`` on the edge from ``source`` into ``node``."""
        edge = self.edges[edge_index(node, source)]
        assert isinstance(edge, nn.ModuleDict)
        return edge[name]

    def forward_path(self, s0: torch.Tensor, s1: torch.Tensor, pairs: Sequence[Pair]) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        rect = _Rectified(states)
        for node in range(NUM_NODES):
            (op_a, src_a), (op_b, src_b) = pairs[2 * node], pairs[2 * node + 1]
            states.append(rect.run(self.op(node, src_a, op_a), src_a) + rect.run(self.op(node, src_b, op_b), src_b))
        return torch.cat(states[2:], dim=1)

    def forward_mixed(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor,
                      active: torch.Tensor | None = None) -> torch.Tensor:
        """``weights``: (14, len(primitives)); ``active``: optional bool mask of the same shape, ops to run."""
        states = [self.pre0(s0), self.pre1(s1)]
        rect = _Rectified(states)
        mask = active.tolist() if active is not None else None
        for node in range(NUM_NODES):
            total: torch.Tensor | int = 0
            for source in range(node + 2):
                e = edge_index(node, source)
                for o, name in enumerate(self.primitives):
                    if name == "none" or (mask is not None and not mask[e][o]):
                        continue
                    total = total + weights[e, o] * rect.run(self.op(node, source, name), source)
            if isinstance(total, int):  # every op of every edge masked out
                total = Zero(2 if self.reduction else 1)(states[0])
            states.append(total)
        return torch.cat(states[2:], dim=1)
