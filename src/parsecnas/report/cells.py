"""Drawings of DARTS cells, in the style of the DARTS and PARSEC papers' figures.

Input nodes c_{k-2} and c_{k-1} on the left, intermediate nodes 0..n-1 in the middle, the output c_{k} on the
right; each edge into an intermediate node is labelled with its op. Drawn with matplotlib alone (no graphviz
binary needed), in PNG, PDF or SVG by the file's extension.

The genotype is duck-typed: ``normal`` and ``reduce`` hold ``(op_name, input_index)`` pairs, pairs ``2i`` and
``2i+1`` feeding intermediate node ``i`` (index 0 = c_{k-2}, 1 = c_{k-1}, j >= 2 = intermediate node j-2),
and ``normal_concat``/``reduce_concat`` list the node indices concatenated into the output.

Example:
    >>> from collections import namedtuple
    >>> Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
    >>> cell = (("sep_conv_3x3", 0), ("skip_connect", 1)) * 4
    >>> g = Genotype(cell, (2, 3, 4, 5), cell, (2, 3, 4, 5))
    >>> paths = draw_genotype(g, "/tmp/parsecnas_doc_cell", fmt="svg")  # doctest: +SKIP
    >>> sorted(paths)  # doctest: +SKIP
    ['normal', 'reduce']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from parsecnas.report._cell_layout import RADIUS, CellLayout, Label, cell_edges, layout_cell, place_labels
from parsecnas.report._mpl import FORMATS, check_format, new_figure, save_figure

__all__ = ["draw_cell", "draw_genotype"]

_INCH_PER_UNIT = 0.62
_MARGIN = 0.25
_FILL = {"input": "#b4eeb4", "intermediate": "#add8e6", "output": "#eee8aa"}  # as in the DARTS figures
_EDGE_COLOR = "#404040"
_OUTPUT_EDGE_COLOR = "#9a9a9a"
_OP_FONT = 8.5
_NODE_FONT = 12
_LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9}


def draw_cell(genotype: Any, cell: str, path: str | Path, *, title: str | None = None) -> Path:
    """Draw the ``"normal"`` or ``"reduce"`` cell of ``genotype`` to a ``.png``, ``.pdf`` or ``.svg`` file.

    Args:
        genotype: Any object with ``normal``/``reduce`` pair tuples and ``*_concat`` (see module docstring).
        cell: ``"normal"`` or ``"reduce"``.
        path: Output file; its extension picks the format.
        title: Caption drawn under the cell; by default none.

    Returns:
        The path written.

    Raises:
        ValueError: For an unknown cell or format, or a malformed genotype (the message names the pair).
        ImportError: If matplotlib (the ``plot`` extra) is missing.
    """
    path = check_format(path)
    ops, concat = cell_edges(genotype, cell)
    layout = layout_cell(ops, concat)
    fig = new_figure(4.0, 3.0)
    renderer = fig.canvas.get_renderer()
    ops_drawn = [edge.op for edge in layout.edges if edge.op is not None]
    labels = place_labels(layout, [_label_size(fig, renderer, op) for op in ops_drawn])
    xmin, ymin, xmax, ymax = _extent(layout, labels, title)
    fig.set_size_inches((xmax - xmin) * _INCH_PER_UNIT, (ymax - ymin) * _INCH_PER_UNIT)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_axis_off()
    _draw_edges(ax, layout)
    _draw_nodes(ax, layout)
    for op, label in zip(ops_drawn, labels, strict=True):
        ax.text(*label.xy, op, fontsize=_OP_FONT, ha="center", va="center", rotation=label.angle,
                rotation_mode="anchor", zorder=4, bbox=_LABEL_BOX)
    if title:
        ax.text((xmin + xmax) / 2, ymin + 0.1, title, fontsize=_NODE_FONT, ha="center", va="bottom")
    return save_figure(fig, path)


def draw_genotype(genotype: Any, path_prefix: str | Path, fmt: str = "png") -> dict[str, Path]:
    """Draw both cells of ``genotype`` to ``{path_prefix}_normal.{fmt}`` and ``{path_prefix}_reduce.{fmt}``.

    Args:
        genotype: See :func:`draw_cell`.
        path_prefix: Path and file-name stem shared by both drawings, e.g. ``run_dir / "cell"``.
        fmt: ``"png"``, ``"pdf"`` or ``"svg"``.

    Returns:
        The written paths by cell name.
    """
    suffix = "." + fmt.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; valid: {', '.join(f[1:] for f in FORMATS)}")
    prefix = Path(path_prefix)
    return {cell: draw_cell(genotype, cell, prefix.with_name(f"{prefix.name}_{cell}{suffix}"),
                            title=f"{cell} cell")
            for cell in ("normal", "reduce")}


def _label_size(fig: Any, renderer: Any, text: str) -> tuple[float, float]:
    """Width and height of an op label (with its box padding) in layout units."""
    probe = fig.text(0, 0, text, fontsize=_OP_FONT)
    extent = probe.get_window_extent(renderer)
    probe.remove()
    pad = 2 * 0.15 * _OP_FONT / 72  # the label box's padding, in inches
    return ((extent.width / fig.dpi + pad) / _INCH_PER_UNIT, (extent.height / fig.dpi + pad) / _INCH_PER_UNIT)


def _extent(layout: CellLayout, labels: list[Label], title: str | None) -> tuple[float, float, float, float]:
    xs = [n.xy[0] + s * RADIUS for n in layout.nodes.values() for s in (-1, 1)]
    ys = [n.xy[1] + s * RADIUS for n in layout.nodes.values() for s in (-1, 1)]
    for edge in layout.edges:
        points = layout.points(edge)
        xs += list(points[:, 0])
        ys += list(points[:, 1])
    for label in labels:
        corners = label.samples()
        xs += list(corners[:, 0])
        ys += list(corners[:, 1])
    bottom = min(ys) - _MARGIN - (0.45 if title else 0.0)
    return min(xs) - _MARGIN, bottom, max(xs) + _MARGIN, max(ys) + _MARGIN


def _draw_nodes(ax: Any, layout: CellLayout) -> None:
    from matplotlib.patches import Circle

    for node in layout.nodes.values():
        disc = Circle(node.xy, RADIUS, facecolor=_FILL[node.kind], edgecolor="#303030", lw=1.2, zorder=3)
        ax.add_patch(disc)
        ax.text(*node.xy, node.label, fontsize=_NODE_FONT, ha="center", va="center", zorder=5)


def _draw_edges(ax: Any, layout: CellLayout) -> None:
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as MplPath

    for edge in layout.edges:
        color = _EDGE_COLOR if edge.op is not None else _OUTPUT_EDGE_COLOR
        arrow = FancyArrowPatch(path=MplPath(layout.points(edge)), arrowstyle="-|>", mutation_scale=11,
                                color=color, lw=1.1, zorder=2, shrinkA=0, shrinkB=0)
        ax.add_patch(arrow)
