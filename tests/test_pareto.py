"""Pareto fronts and hypervolumes on hand-computed cases; front files; the front plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from parsecnas.pareto import hypervolume, pareto_front, pareto_mask, write_front

pytest.importorskip("moocore")


def test_hypervolume_of_a_staircase_is_the_sum_of_its_steps() -> None:
    # minimise both: boxes up to (4, 4) from (1, 3), (2, 2), (3, 1): steps of width 1 and heights 1, 2, 3
    assert hypervolume([[1, 3], [2, 2], [3, 1]], reference=[4, 4], maximize=(False, False)) == 6.0
    # accuracy up, cost down; (80, 5) is dominated by (90, 4) and adds nothing
    points = [[90, 4], [95, 8], [80, 5]]
    assert hypervolume(points, reference=[70, 10]) == pytest.approx(20 * 6 + 5 * 2)


def test_points_beyond_the_reference_count_for_nothing() -> None:
    assert hypervolume([[60, 4]], reference=[70, 10]) == 0.0
    assert hypervolume(np.zeros((0, 2)), reference=[70, 10]) == 0.0


def test_front_keeps_the_non_dominated_points_sorted() -> None:
    points = [[90, 4], [95, 8], [80, 5], [95, 8], [70, 1]]
    assert pareto_mask(points).tolist() == [True, True, False, True, True]
    assert pareto_front(points).tolist() == [[70, 1], [90, 4], [95, 8]]
    with pytest.raises(ValueError, match="finite"):
        pareto_front([[np.nan, 1.0]])


def test_front_file_lists_the_front_best_first(tmp_path: Path) -> None:
    path = write_front(tmp_path / "front.json", ["a", "b", "c"], [[90, 4], [80, 5], [95, 8]], ["accuracy", "ms"])
    data = json.loads(path.read_text())
    assert [r["arch"] for r in data["front"]] == ["c", "a"] and data["front"][1] == {"arch": "a", "accuracy": 90.0,
                                                                                   "ms": 4.0}


def test_front_plot_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from parsecnas.report.pareto import plot_fronts

    front = np.array([[90, 4], [95, 8]])
    path = plot_fronts({"found": front}, tmp_path / "front.png", true_front=front, points=front)
    assert path.stat().st_size > 1000
