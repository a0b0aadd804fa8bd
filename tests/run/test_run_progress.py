from __future__ import annotations

import pytest

from parsecnas.run import ProgressBar


def test_disabled_bar_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with ProgressBar(total=3, enabled=False) as bar:
        for step in range(3):
            bar.update(epoch=0, step=step, loss=0.5)
        bar.write("hello")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_constructing_a_bar_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    bar = ProgressBar(total=3)
    bar.close()
    assert capsys.readouterr().err == ""


def test_enabled_bar_shows_metrics_and_eta_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with ProgressBar(total=4, desc="search") as bar:
        for step in range(4):
            bar.update(epoch=1, step=step, loss=0.123456, entropy=2.0)
        bar.write("epoch 1 done")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "search" in captured.err and "4/4" in captured.err
    assert "epoch=1" in captured.err and "step=3" in captured.err
    assert "loss=0.1235" in captured.err and "entropy=2" in captured.err
    assert "epoch 1 done" in captured.err
    assert "<00:00" in captured.err  # tqdm's remaining-time estimate


def test_negative_total_is_rejected() -> None:
    with pytest.raises(ValueError, match="total must be"):
        ProgressBar(total=-1)
