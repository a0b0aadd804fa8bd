"""Run directories as data for tables and reports: find them under folders, tell their kind, summarise them.

Four kinds, told apart by their files alone: a ``search`` (weight-sharing, ``parsecnas search``), a ``train``
(from scratch, ``parsecnas train``), a ``bench`` (black-box, ``parsecnas bench``) and ``seeds``: the folder
of a ``--seeds`` run, whose ``summary.json`` sums up its ``seed-N`` runs.

Example:
    >>> from parsecnas.report.table import format_table
    >>> print(format_table(table_summaries(["runs/"])))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from parsecnas.report.table import summarize
from parsecnas.run import CONFIG_FILE, Run

__all__ = ["RUN_KINDS", "RunInfo", "find_runs", "load_runs", "run_kind", "runs_below", "table_summaries",
           "table_summary"]

RUN_KINDS = ("search", "train", "bench", "seeds")


def run_kind(path: str | Path) -> str | None:
    """``search``, ``train``, ``bench`` or ``seeds`` for a run directory, None for any other folder."""
    path = Path(path)
    if (path / "summary.json").is_file() and not (path / CONFIG_FILE).is_file():
        return "seeds"
    if not (path / CONFIG_FILE).is_file():
        return None
    config = Run(path).config()
    return "train" if "genotype" in config else "bench" if "budget" in config else "search"


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """The run directories ``paths`` name: each one that is a run, and the runs found below each one that is
    not (in sorted order; a run's own sub-folders, e.g. a ``--seeds`` run's ``seed-N``, are not walked).

    Raises:
        FileNotFoundError: a path holds no run, in it or below it.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        runs = [path] if run_kind(path) else runs_below(path)
        if not runs:
            raise FileNotFoundError(f"{path} holds no run: neither summary.json nor result.json nor {CONFIG_FILE} "
                                    "in it or below it; give a `parsecnas search`, `train` or `bench` run "
                                    "directory, or a folder of them")
        found += runs
    return found


def runs_below(folder: str | Path) -> list[Path]:
    """The run directories under ``folder`` (not ``folder`` itself), in sorted order, not walking into runs."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    runs: list[Path] = []
    for root, dirs, _ in os.walk(folder):
        dirs.sort()
        for name in list(dirs):
            if run_kind(Path(root) / name):
                runs.append(Path(root) / name)
                dirs.remove(name)  # a run's sub-folders are its own
    return sorted(runs)


@dataclass(frozen=True)
class RunInfo:
    """One run directory, read lazily: its kind, config, metrics and JSON outputs."""

    path: Path
    kind: str

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @cached_property
    def config(self) -> dict[str, Any]:
        return Run(self.path).config() if (self.path / CONFIG_FILE).is_file() else {}

    @cached_property
    def metrics(self) -> list[dict[str, Any]]:
        return Run(self.path).metrics()

    def json(self, name: str) -> Any:
        """The JSON file ``name`` of the run, or None when it has none (or it does not parse)."""
        try:
            return json.loads((self.path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    @property
    def method(self) -> str | None:
        """The search strategy (searches, black-box runs) or the search method of the trained genotype."""
        summary = self.json("summary.json") or self.json("result.json") or {}
        return self.config.get("strategy") or summary.get("strategy") or summary.get("search_method")


def load_runs(paths: Iterable[str | Path]) -> list[RunInfo]:
    """:class:`RunInfo` of every run :func:`find_runs` finds under ``paths``."""
    return [RunInfo(path, run_kind(path) or "search") for path in find_runs(paths)]


def table_summary(run: RunInfo) -> dict[str, Any]:
    """The run as a row of :func:`parsecnas.report.table.format_table`: a training's test error over its
    seeds; for a search or a black-box run, the test error its tabular benchmark gives the architecture found
    (``-`` without one), its method and its search cost."""
    if run.kind == "train":
        return summarize([run.json("result.json") or _unfinished(run)])
    summary = run.json("summary.json")
    if run.kind == "seeds" and summary and "test_error_pct_mean" in summary:
        return summary
    row: dict[str, Any] = {"architecture": run.name, "search_method": run.method, "params_m": None,
                           "search_cost": run.json("search_cost.json"), "test_error_pct_mean": math.nan}
    if run.kind == "seeds" and summary:  # black-box seeds: the incumbents' table test accuracy
        accuracy = summary.get("test_accuracy") or {}
        if accuracy.get("mean") is not None:
            row.update(test_error_pct_mean=100 - accuracy["mean"], test_error_pct_std=accuracy.get("std") or 0.0,
                       seeds=summary.get("seeds", []))
        return row
    found = (run.json("result.json") or {}).get("best") or run.json("benchmark_lookup.json") or {}
    if isinstance(found.get("test_accuracy"), (int, float)):
        row["test_error_pct_mean"] = 100 - found["test_accuracy"]
    return row


def _unfinished(run: RunInfo) -> dict[str, Any]:
    return {"architecture": run.name, "seed": run.config.get("seed", 0), "test_error_pct": math.nan,
            "test_top5_error_pct": math.nan, "train_hours": math.nan, "params_m": None}


def table_summaries(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """One :func:`table_summary` per run found under ``paths``."""
    return [table_summary(run) for run in load_runs(paths)]
