from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from parsecnas.report import plot_search_curves

METRICS = [{"epoch": e, "mode_accuracy": 0.4 + 0.5 * (1 - math.exp(-e / 5)), "entropy": 30 * math.exp(-e / 8)}
           for e in range(12)]
METRICS += [{"epoch": 3, "step": 10, "loss": 1.5}]  # per-step records in the same log are skipped


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF-"),
                                               (".svg", b"<?xml")])
def test_curves_are_written_in_the_format_of_the_extension(tmp_path: Path, suffix: str, magic: bytes) -> None:
    pytest.importorskip("matplotlib")
    path = plot_search_curves(METRICS, tmp_path / f"curves{suffix}", title="search")
    data = path.read_bytes()
    assert data.startswith(magic) and len(data) > 1000


def test_a_single_metric_can_be_plotted(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = plot_search_curves(METRICS, tmp_path / "loss.svg", keys=["loss"], x="step")
    assert "<svg" in path.read_text()


def test_missing_metric_lists_the_fields_present(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="no metrics record has both 'epoch' and 'top1'; fields present: "
                                         "entropy, epoch, loss, mode_accuracy, step"):
        plot_search_curves(METRICS, tmp_path / "c.png", keys=("top1",))
    assert not (tmp_path / "c.png").exists()


def test_more_than_two_metrics_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one or two metrics"):
        plot_search_curves(METRICS, tmp_path / "c.png", keys=("a", "b", "c"))


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"parsecnas\[plot\]"):
        plot_search_curves(METRICS, tmp_path / "c.png")
