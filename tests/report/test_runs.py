"""Run discovery and table rows: search, training, black-box and --seeds runs, named directly or found below
parent folders."""

from __future__ import annotations

import math

import pytest
from _report_runs import bench_run, search_run, train_run, train_seeds_run

from parsecnas.cli import main
from parsecnas.report.runs import find_runs, load_runs, run_kind, table_summary


@pytest.fixture
def runs(tmp_path):
    search_run(tmp_path / "all" / "searches" / "s1")
    train_run(tmp_path / "all" / "t1")
    train_seeds_run(tmp_path / "all" / "seeds")
    bench_run(tmp_path / "all" / "b1")
    (tmp_path / "all" / "empty").mkdir()
    return tmp_path / "all"


def test_each_kind_is_told_by_its_files(runs) -> None:
    kinds = {path.name: run_kind(path) for path in find_runs([runs])}
    assert kinds == {"s1": "search", "t1": "train", "seeds": "seeds", "b1": "bench"}
    assert run_kind(runs) is None and run_kind(runs / "seeds" / "seed-0") == "train"


def test_parent_folders_are_walked_but_runs_are_not_entered(runs) -> None:
    assert [p.relative_to(runs).as_posix() for p in find_runs([runs])] == ["b1", "searches/s1", "seeds", "t1"]
    assert find_runs([runs / "seeds" / "seed-1", runs / "t1"]) == [runs / "seeds" / "seed-1", runs / "t1"]
    with pytest.raises(FileNotFoundError, match="empty holds no run"):
        find_runs([runs / "empty"])


def test_rows_give_each_kind_its_test_error_method_and_cost(runs) -> None:
    rows = {run.name: table_summary(run) for run in load_runs([runs])}
    assert rows["t1"]["test_error_pct_mean"] == 3.0 and rows["t1"]["params_m"] == 3.3
    assert rows["seeds"]["seeds"] == [0, 1] and rows["seeds"]["test_error_pct_mean"] == pytest.approx(3.05)
    assert rows["b1"]["test_error_pct_mean"] == pytest.approx(6.5) and rows["b1"]["search_method"] == "evolution"
    assert math.isnan(rows["s1"]["test_error_pct_mean"]) and rows["s1"]["search_cost"]["device_hours"] == 2.4


def test_table_accepts_every_kind_and_parent_folders(runs, capsys) -> None:
    assert main(["table", str(runs), "--format", "markdown"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 + 4
    assert "| b1 | 6.50 | - | - | evolution |" in lines
    assert "| s1 | - | - | 0.1 (Test CPU) | parsec |" in lines
    assert main(["table", str(runs / "empty")]) == 2
    assert "holds no run" in capsys.readouterr().err
