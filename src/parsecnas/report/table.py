"""Results tables shaped like the PARSEC paper's Table 1: architecture, test error, params, search cost, method.

Rows are the summaries of :func:`summarize` (one per trained architecture, over its seeds; search and black-box
runs give rows too: :func:`parsecnas.report.runs.table_summary`).
Search cost is in days on the device the search ran on (the papers' "GPU days"), with that device named.

Example:
    >>> row = {"architecture": "DARTS_V2", "test_error_pct_mean": 2.76, "test_error_pct_std": 0.09,
    ...        "seeds": [0, 1], "params_m": 3.349, "search_cost": None, "search_method": "published"}
    >>> print(format_table([row], "markdown"))
    | Architecture | Test error (%) | Params (M) | Search cost (days) | Search method |
    |---|---|---|---|---|
    | DARTS_V2 | 2.76 +- 0.09 (2 seeds) | 3.35 | - | published |
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

TABLE_FORMATS = ("text", "markdown", "csv")
HEADER = ("Architecture", "Test error (%)", "Params (M)", "Search cost (days)", "Search method")


def table_rows(summaries: Sequence[Mapping[str, Any]], top5: bool = False) -> list[tuple[str, ...]]:
    """The table's cells as strings, one tuple per summary (in the header's order; top-5 error appended)."""
    rows = []
    for s in summaries:
        n = len(s.get("seeds", [])) or 1
        error = _mean_std(s, "test_error_pct", n)
        cost = s.get("search_cost")
        cost_text = f"{cost['device_hours'] / 24:.3g} ({cost['device']})" if cost else "-"
        params = "-" if s.get("params_m") is None else f"{float(s['params_m']):.2f}"
        row = (str(s.get("architecture") or "-"), error, params, cost_text,
               str(s.get("search_method") or "-"))
        rows.append(row + ((_mean_std(s, "test_top5_error_pct", n),) if top5 else ()))
    return rows


def summarize(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean and sample std (n - 1) over seeds of each training run's test errors and training hours, with the
    fields the runs share (``result.json`` of :func:`parsecnas.train.train_genotype`)."""
    first = results[0]
    summary: dict[str, Any] = {key: first.get(key) for key in ("architecture", "search_method", "search_cost",
                                                              "genotype", "dataset", "epochs", "params_m",
                                                              "multiply_adds_m", "device")}
    summary["seeds"] = [r["seed"] for r in results]
    for key in ("test_error_pct", "test_top5_error_pct", "train_hours"):
        values = [float(r[key]) if r.get(key) is not None else math.nan for r in results]
        summary[f"{key}_mean"] = statistics.fmean(values)
        summary[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    summary["runs"] = [{k: v for k, v in r.items() if k != "genotype"} for r in results]
    return summary


def _mean_std(s: Mapping[str, Any], key: str, n: int) -> str:
    value = s.get(f"{key}_mean")
    mean, std = float("nan" if value is None else value), float(s.get(f"{key}_std") or 0.0)
    if math.isnan(mean):
        return "-"
    return f"{mean:.2f} +- {std:.2f} ({n} seeds)" if n > 1 else f"{mean:.2f}"


def format_table(summaries: Sequence[Mapping[str, Any]], fmt: str = "text", top5: bool = False) -> str:
    """The table as aligned ``text``, ``markdown`` or ``csv`` (numbers in separate columns: mean, std, seeds)."""
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; valid: {', '.join(TABLE_FORMATS)}")
    header = HEADER + (("Top-5 test error (%)",) if top5 else ())
    rows = table_rows(summaries, top5)
    if fmt == "csv":
        return _csv(summaries)
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _csv(summaries: Sequence[Mapping[str, Any]]) -> str:
    """Numbers in their own columns (mean, std, seeds), for spreadsheets and scripts."""
    columns = ("architecture", "test_error_pct_mean", "test_error_pct_std", "test_top5_error_pct_mean",
               "test_top5_error_pct_std", "seeds", "params_m", "multiply_adds_m", "search_cost_days",
               "search_device", "search_method", "dataset", "epochs")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for s in summaries:
        cost = s.get("search_cost") or {}
        values = {**s, "seeds": len(s.get("seeds", [])) or 1,
                  "search_cost_days": cost["device_hours"] / 24 if cost else "",
                  "search_device": cost.get("device", "")}
        writer.writerow(["" if values.get(c) is None else values.get(c) for c in columns])
    return out.getvalue().rstrip("\n")


__all__ = ["HEADER", "TABLE_FORMATS", "format_table", "summarize", "table_rows"]
