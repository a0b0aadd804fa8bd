"""The results table: PARSEC Table-1 columns in text, Markdown and CSV."""

from __future__ import annotations

import csv
import io

import pytest

from parsecnas.report.table import HEADER, format_table

ROWS = [
    {"architecture": "search-1", "test_error_pct_mean": 2.81, "test_error_pct_std": 0.039, "seeds": [0, 1, 2],
     "params_m": 3.6, "multiply_adds_m": 580.0, "search_cost": {"device": "NVIDIA H100", "device_hours": 14.4},
     "search_method": "parsec", "test_top5_error_pct_mean": 0.1, "test_top5_error_pct_std": 0.0},
    {"architecture": "DARTS_V2", "test_error_pct_mean": 3.0, "test_error_pct_std": 0.0, "seeds": [0],
     "params_m": 3.349, "search_cost": None, "search_method": "published"},
]


def test_markdown_rows_carry_mean_std_params_and_search_cost_in_days() -> None:
    lines = format_table(ROWS, "markdown").splitlines()
    assert lines[0] == "| " + " | ".join(HEADER) + " |"
    assert lines[2] == "| search-1 | 2.81 +- 0.04 (3 seeds) | 3.60 | 0.6 (NVIDIA H100) | parsec |"
    assert lines[3] == "| DARTS_V2 | 3.00 | 3.35 | - | published |"


def test_text_table_is_aligned_and_csv_keeps_numbers_apart() -> None:
    text = format_table(ROWS, "text").splitlines()
    assert len({line.index("Test error") if i == 0 else None for i, line in enumerate(text)} - {None}) == 1
    assert text[2].index("2.81") == text[0].index("Test error")
    rows = list(csv.DictReader(io.StringIO(format_table(ROWS, "csv"))))
    assert float(rows[0]["test_error_pct_std"]) == 0.039 and rows[0]["seeds"] == "3"
    assert float(rows[0]["search_cost_days"]) == pytest.approx(0.6) and rows[1]["search_cost_days"] == ""


def test_unknown_format_is_named() -> None:
    with pytest.raises(ValueError, match="'latex'.*text, markdown, csv"):
        format_table(ROWS, "latex")
