from __future__ import annotations

import sys
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from parsecnas.report._cell_layout import RADIUS, cell_edges, layout_cell, place_labels

Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
DARTS_V2 = Genotype(
    normal=(("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)),
    normal_concat=(2, 3, 4, 5),
    reduce=(("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)),
    reduce_concat=(2, 3, 4, 5),
)
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}


def is_valid_image(path: Path) -> bool:
    data = path.read_bytes()
    if path.suffix == ".svg":
        return b"<svg" in data[:500] and data.rstrip().endswith(b"</svg>")
    return data.startswith(MAGIC[path.suffix]) and len(data) > 1000


# ------------------------------------------------------------------ layout (no matplotlib needed)

def test_layout_puts_each_node_right_of_its_inputs_and_the_output_last() -> None:
    ops, concat = cell_edges(DARTS_V2, "normal")
    layout = layout_cell(ops, concat)
    x = {j: node.xy[0] for j, node in layout.nodes.items()}
    for k, (_, src) in enumerate(ops):
        assert x[src] < x[k // 2 + 2]
    assert x[6] > max(x[j] for j in range(6))
    labels = [n.label for n in layout.nodes.values()]
    assert labels == ["$c_{k-2}$", "$c_{k-1}$", "0", "1", "2", "3", "$c_{k}$"]
    assert [(e.src, e.dst, e.op) for e in layout.edges][-4:] == [(j, 6, None) for j in (2, 3, 4, 5)]
    assert len(layout.edges) == 12


@pytest.mark.parametrize("cell", ["normal", "reduce"])
def test_edges_avoid_other_nodes_and_labels_do_not_overlap(cell: str) -> None:
    layout = layout_cell(*cell_edges(DARTS_V2, cell))
    for edge in layout.edges:
        points = layout.points(edge)
        for j, node in layout.nodes.items():
            if j not in (edge.src, edge.dst):
                assert np.linalg.norm(points - np.array(node.xy), axis=1).min() > RADIUS
    labels = place_labels(layout, [(1.4, 0.3)] * 8)
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            assert not b.contains(a.samples()).any()
        assert -90 < a.angle <= 90


def test_two_edges_between_the_same_nodes_are_drawn_apart() -> None:
    ops = [("sep_conv_3x3", 0), ("skip_connect", 0)] + [("max_pool_3x3", 1), ("avg_pool_3x3", 2)]
    layout = layout_cell(ops, (2, 3))
    first, second = layout.edges[:2]
    assert (first.src, first.dst) == (second.src, second.dst)
    assert np.abs(layout.points(first) - layout.points(second)).max() > 0.3


@pytest.mark.parametrize(("genotype", "cell", "pattern"), [
    (DARTS_V2, "normal_cell", "unknown cell 'normal_cell'; valid cells: 'normal', 'reduce'"),
    (DARTS_V2._replace(normal=DARTS_V2.normal[:3]), "normal", "2 .* pairs per intermediate node, got 3"),
    (DARTS_V2._replace(normal=(("sep_conv_3x3", 2),) + DARTS_V2.normal[1:]), "normal",
     r"pair 0 \('sep_conv_3x3', 2\) feeds node 2 from node 2; valid inputs: 0..1"),
    (DARTS_V2._replace(reduce=(("max_pool_3x3",),) + DARTS_V2.reduce[1:]), "reduce", "expected \\(op_name"),
    (DARTS_V2._replace(normal_concat=(2, 6)), "normal",
     r"normal_concat \(2, 6\) names nodes \[6\]; valid: 2..5"),
])
def test_malformed_genotypes_are_named(genotype: Genotype, cell: str, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        cell_edges(genotype, cell)


# ------------------------------------------------------------------ drawing (needs matplotlib)

@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_draw_cell_writes_a_valid_file_in_the_format_of_its_extension(tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("matplotlib")
    from parsecnas.report import draw_cell

    path = draw_cell(DARTS_V2, "normal", tmp_path / "figs" / f"normal{suffix}", title="DARTS_V2 normal")
    assert path == tmp_path / "figs" / f"normal{suffix}"
    assert is_valid_image(path)
    if suffix == ".svg":  # the op names are real text, readable and searchable
        text = path.read_text()
        assert text.count("sep_conv_3x3") >= 1 and "dil_conv_3x3" in text


def test_draw_genotype_draws_both_cells(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from parsecnas.report import draw_genotype

    paths = draw_genotype(DARTS_V2, tmp_path / "darts_v2")
    assert paths == {"normal": tmp_path / "darts_v2_normal.png", "reduce": tmp_path / "darts_v2_reduce.png"}
    assert all(is_valid_image(p) for p in paths.values())
    with pytest.raises(ValueError, match="unknown image format 'jpg'; valid: png, pdf, svg"):
        draw_genotype(DARTS_V2, tmp_path / "x", fmt="jpg")


def test_unknown_extension_is_refused_before_drawing(tmp_path: Path) -> None:
    from parsecnas.report import draw_cell

    with pytest.raises(ValueError, match=r"extension '.jpg'; valid: .png, .pdf, .svg"):
        draw_cell(DARTS_V2, "normal", tmp_path / "cell.jpg")
    assert not (tmp_path / "cell.jpg").exists()


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from parsecnas.report import draw_cell

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'parsecnas\[plot\]'"):
        draw_cell(DARTS_V2, "normal", tmp_path / "cell.png")
