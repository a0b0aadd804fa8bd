"""Geometry for drawing a DARTS cell: node positions, curved edges, label positions. No matplotlib here.

Nodes use DARTS numbering: 0 = c_{k-2}, 1 = c_{k-1}, 2.. = intermediate nodes, and the output c_{k} last.
Each node sits in the column of its depth (inputs at 0, a node one past its deepest input, the output past
all), ordered within a column by the mean height of its inputs. Edges are quadratic Bezier curves (the
``arc3`` curve of matplotlib), bent just enough to miss other nodes and earlier edges; labels are placed
along their edge where they cover the fewest nodes, labels and edges.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

COL_GAP = 4.2
ROW_GAP = 1.7
RADIUS = 0.42
_BENDS = (0.0, 0.12, -0.12, 0.24, -0.24, 0.36, -0.36, 0.5, -0.5)
_LABEL_T = (0.5, 0.43, 0.57, 0.36, 0.64, 0.29, 0.71, 0.22, 0.78, 0.15, 0.85)
_SAMPLES = 48
_LABEL_GAP = 0.15


@dataclasses.dataclass(frozen=True)
class Node:
    index: int
    label: str
    kind: str  # "input", "intermediate" or "output"
    xy: tuple[float, float]


@dataclasses.dataclass(frozen=True)
class Edge:
    src: int
    dst: int
    op: str | None  # None for the unlabelled edges into the output node
    control: tuple[float, float]


@dataclasses.dataclass(frozen=True)
class CellLayout:
    nodes: dict[int, Node]
    edges: tuple[Edge, ...]

    def points(self, edge: Edge, n: int = _SAMPLES) -> np.ndarray:
        """``n`` points along ``edge`` from the rim of its source node to the rim of its target node."""
        p0, p1 = np.array(self.nodes[edge.src].xy), np.array(self.nodes[edge.dst].xy)
        curve = _bezier(p0, np.array(edge.control), p1, np.linspace(0.0, 1.0, 400))
        clear = (np.linalg.norm(curve - p0, axis=1) > RADIUS) & (np.linalg.norm(curve - p1, axis=1) > RADIUS)
        inside = np.flatnonzero(clear)
        t0, t1 = (inside[0], inside[-1]) if inside.size else (0, 399)
        return _bezier(p0, np.array(edge.control), p1, np.linspace(t0 / 399, t1 / 399, n))


def cell_edges(genotype: Any, cell: str) -> tuple[list[tuple[str, int]], tuple[int, ...]]:
    """The ``(op, input)`` pairs and the concatenated nodes of ``cell``, validated.

    Raises:
        ValueError: For an unknown cell name, an odd number of pairs, or an input or concat index that does
            not name an earlier node.
    """
    if cell not in ("normal", "reduce"):
        raise ValueError(f"unknown cell {cell!r}; valid cells: 'normal', 'reduce'")
    pairs = [tuple(p) for p in getattr(genotype, cell)]
    if not pairs or len(pairs) % 2:
        raise ValueError(f"{cell} cell needs 2 (op, input) pairs per intermediate node, "
                         f"got {len(pairs)} pairs")
    n_nodes = len(pairs) // 2
    ops = []
    for k, pair in enumerate(pairs):
        if len(pair) != 2 or not isinstance(pair[0], str) or not isinstance(pair[1], (int, np.integer)):
            raise ValueError(f"{cell} cell pair {k} is {pair!r}; expected (op_name: str, input_index: int)")
        op, src = pair[0], int(pair[1])
        if not 0 <= src < k // 2 + 2:
            raise ValueError(f"{cell} cell pair {k} ({op!r}, {src}) feeds node {k // 2 + 2} from node {src}; "
                             f"valid inputs: 0..{k // 2 + 1} (0 = c_{{k-2}}, 1 = c_{{k-1}}, j >= 2 = node j)")
        ops.append((op, src))
    concat = tuple(getattr(genotype, f"{cell}_concat", range(2, n_nodes + 2)))
    bad = [j for j in concat if not 2 <= j < n_nodes + 2]
    if bad:
        raise ValueError(f"{cell}_concat {concat} names nodes {bad}; valid: 2..{n_nodes + 1}")
    return ops, concat


def layout_cell(ops: Sequence[tuple[str, int]], concat: Sequence[int]) -> CellLayout:
    """Place the nodes and bend the edges of a cell given its ``(op, input)`` pairs and concat nodes."""
    n_nodes = len(ops) // 2
    output = n_nodes + 2
    depth = {0: 0, 1: 0}
    for j in range(2, output):
        depth[j] = 1 + max(depth[src] for _, src in ops[2 * (j - 2):2 * (j - 2) + 2])
    y = {0: ROW_GAP / 2, 1: -ROW_GAP / 2}
    for d in range(1, max(depth.values()) + 1):
        column = [j for j in range(2, output) if depth[j] == d]
        pull = {j: np.mean([y[src] for _, src in ops[2 * (j - 2):2 * (j - 2) + 2]]) for j in column}
        column.sort(key=lambda j: (-pull[j], j))
        for row, j in enumerate(column):
            y[j] = ((len(column) - 1) / 2 - row) * ROW_GAP
    y[output] = float(np.mean([y[j] for j in concat])) if concat else 0.0
    depth[output] = max(depth.values()) + 1
    labels = {0: "$c_{k-2}$", 1: "$c_{k-1}$", output: "$c_{k}$"}
    nodes = {
        j: Node(j, labels.get(j, str(j - 2)),
                "input" if j < 2 else "output" if j == output else "intermediate",
                (depth[j] * COL_GAP, float(y[j])))
        for j in range(output + 1)
    }
    wanted: list[tuple[int, int, str | None]] = [
        (src, j + 2, op) for j in range(n_nodes) for op, src in ops[2 * j:2 * j + 2]]
    wanted += [(j, output, None) for j in concat]
    edges: list[Edge] = []
    for src, dst, op in wanted:
        edges.append(_bent_edge(nodes, edges, src, dst, op))
    return CellLayout(nodes, tuple(edges))


@dataclasses.dataclass(frozen=True)
class Label:
    """An op label: centred on its edge and rotated along it, so it reads as belonging to that edge."""

    xy: tuple[float, float]
    angle: float  # degrees, in (-90, 90] so the text is never upside down
    size: tuple[float, float]

    def contains(self, points: np.ndarray, pad: float = 0.0) -> np.ndarray:
        """Which of ``points`` lie inside the label's box grown by ``pad`` on every side."""
        rad = np.deg2rad(self.angle)
        along, across = np.array([np.cos(rad), np.sin(rad)]), np.array([-np.sin(rad), np.cos(rad)])
        rel = points - np.array(self.xy)
        half_w, half_h = self.size[0] / 2 + pad, self.size[1] / 2 + pad
        return (np.abs(rel @ along) < half_w) & (np.abs(rel @ across) < half_h)

    def samples(self) -> np.ndarray:
        """A grid of points covering the label's box."""
        rad = np.deg2rad(self.angle)
        along, across = np.array([np.cos(rad), np.sin(rad)]), np.array([-np.sin(rad), np.cos(rad)])
        u, v = np.meshgrid(np.linspace(-0.5, 0.5, 9) * self.size[0], np.linspace(-0.5, 0.5, 3) * self.size[1])
        return np.array(self.xy) + u.reshape(-1, 1) * along + v.reshape(-1, 1) * across


def place_labels(layout: CellLayout, sizes: Sequence[tuple[float, float]]) -> list[Label]:
    """Labels for the labelled edges (in order), given each label's unrotated (width, height).

    Each label goes at the point along its edge where it covers the fewest node discs, already placed
    labels and other edges, preferring the middle of the edge.
    """
    labelled = [e for e in layout.edges if e.op is not None]
    if len(sizes) != len(labelled):
        raise ValueError(f"need one size per labelled edge ({len(labelled)}), got {len(sizes)}")
    curves = [layout.points(e) for e in layout.edges]
    centres = np.array([n.xy for n in layout.nodes.values()])
    tips = np.array([c[-1] for c in curves])  # arrowheads
    placed: list[Label] = []
    for edge, size in zip(labelled, sizes, strict=True):
        own = layout.points(edge)
        others = np.concatenate([c for e, c in zip(layout.edges, curves, strict=True) if e is not edge])
        best, best_cost = None, np.inf
        for t in _LABEL_T:
            i = int(round(t * (len(own) - 1)))
            (dx, dy) = own[min(i + 1, len(own) - 1)] - own[max(i - 1, 0)]
            angle = float(np.degrees(np.arctan2(dy, dx)))
            angle = angle - 180 if angle > 90 else angle + 180 if angle <= -90 else angle
            label = Label((float(own[i][0]), float(own[i][1])), angle, (float(size[0]), float(size[1])))
            grid = label.samples()
            near_node = _distances(grid, centres).min(1) < RADIUS + _LABEL_GAP
            cost = (100 * near_node.mean() + 100 * sum(p.contains(grid, _LABEL_GAP).mean() for p in placed)
                    + 5 * label.contains(others, _LABEL_GAP).sum() + 20 * label.contains(tips, 0.25).sum()
                    + 4 * abs(t - 0.5))
            if cost < best_cost - 1e-9:
                best, best_cost = label, cost
        assert best is not None
        placed.append(best)
    return placed


def _bezier(p0: np.ndarray, c: np.ndarray, p1: np.ndarray, t: np.ndarray) -> np.ndarray:
    t = t[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * c + t**2 * p1


def _bent_edge(nodes: dict[int, Node], earlier: list[Edge], src: int, dst: int, op: str | None) -> Edge:
    """The least-bent curve from ``src`` to ``dst`` that misses other nodes and earlier edges."""
    p0, p1 = np.array(nodes[src].xy), np.array(nodes[dst].xy)
    mid, (dx, dy) = (p0 + p1) / 2, p1 - p0
    obstacles = np.array([n.xy for j, n in nodes.items() if j not in (src, dst)])
    layout = CellLayout(nodes, tuple(earlier))
    previous = [layout.points(e) for e in earlier]
    best, best_cost = None, np.inf
    for bend in _BENDS:
        edge = Edge(src, dst, op, (float(mid[0] + bend * dy), float(mid[1] - bend * dx)))
        pts = layout.points(edge)
        gap = _distances(pts, obstacles).min() if len(obstacles) else np.inf
        cost = 100.0 * max(0.0, 1.6 * RADIUS - gap) + abs(bend)
        for other in previous:
            cost += 0.5 * float((_distances(pts, other).min(1) < 0.12).sum())
        if cost < best_cost - 1e-9:
            best, best_cost = edge, cost
    assert best is not None
    return best


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise distances between the points of ``a`` (rows) and ``b`` (columns)."""
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
