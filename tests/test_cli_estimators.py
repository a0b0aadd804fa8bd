"""``parsecnas proxies`` and ``parsecnas halving`` on the command line."""

from __future__ import annotations

import json

import pytest

from parsecnas.cli import main
from parsecnas.estimators.proxies import spearman


def test_spearman_is_the_correlation_of_ranks() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [5, 5, 9]) == pytest.approx(1.0)  # ties share their mean rank
    with pytest.raises(ValueError, match="one length"):
        spearman([1, 2], [1])


def test_proxies_score_random_cells_and_correlate_with_the_table(data_dir, tmp_path, capsys) -> None:
    out = tmp_path / "scores.json"
    assert main(["proxies", "--archs", "4", "--names", "synflow", "naswot", "--num-cells", "1", "--channels", "4",
                 "--batch-size", "8", "--quiet", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    saved = json.loads(out.read_text())
    assert summary["archs"] == 4 and len(saved["scores"]) == 4
    assert set(summary["spearman_with_table_test_accuracy"]) == {"synflow", "naswot"}
    assert all(-1 <= r <= 1 for r in summary["spearman_with_table_test_accuracy"].values())
    assert main(["proxies", "--names", "bogus"]) == 2
    assert "unknown proxies ['bogus']; valid:" in capsys.readouterr().err


def test_halving_finds_the_best_survivor_at_a_fraction_of_the_cost(data_dir, capsys) -> None:
    assert main(["halving", "--method", "sh", "--candidates", "9", "--eta", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["evaluations"] == 9 + 3 and out["cost_epochs"] == 9 * 12 + 3 * 200
    assert out["cost_epochs"] < out["cost_of_full_evaluation_epochs"] == 9 * 200
    assert main(["halving", "--method", "hyperband", "--eta", "1"]) == 2
    assert "eta must be >= 2" in capsys.readouterr().err
