"""The HTML report: one self-contained page per run or per comparison, with its figures, tables and config."""

from __future__ import annotations

import html
import re
import sys

import pytest
from _report_runs import bench_run, search_run, train_run, train_seeds_run

from parsecnas.cli import main
from parsecnas.report.html import arch_text, render_report, write_report
from parsecnas.report.runs import load_runs

IMG = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def figures(page: str) -> list[str]:
    return [html.unescape(alt) for alt, _ in IMG.findall(page)]


def test_a_search_page_holds_its_curves_marginals_cells_top_architectures_cost_and_config(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    page = write_report([search_run(tmp_path / "s")]).read_text()
    assert (tmp_path / "s" / "report.html").is_file()
    assert figures(page) == ["search curves", "training loss and effective sample size", "per-op marginals",
                             "cell normal", "cell reduce"]  # the run's own drawings
    assert "Most probable architectures" in page and "0.02" in page and "sep_conv_3x3(0)" in page
    assert "2.4 device-hours" in page and "on Test CPU" in page
    assert "strategy: parsec" in page and "samples: 4" in page  # the config, as YAML


def test_pages_are_self_contained(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    page = write_report([search_run(tmp_path / "s"), train_run(tmp_path / "t"), bench_run(tmp_path / "b")],
                        tmp_path / "cmp.html").read_text()
    assert not re.search(r"(src|href)=\"(?!data:)", page)  # every image is embedded, nothing is linked
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_a_comparison_has_the_results_of_every_run_then_each_run(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    search_run(tmp_path / "runs" / "a")
    search_run(tmp_path / "runs" / "b", strategy="darts")
    train_seeds_run(tmp_path / "runs" / "seeds")
    bench_run(tmp_path / "runs" / "bb")
    page = render_report(load_runs([tmp_path / "runs"]))
    assert "comparison of 4 runs" in page
    table = page[page.index("<h2>Comparison</h2>"):page.index("<h2>a (search)")]
    assert all(f"<td>{name}</td>" in table for name in ("a", "b", "seeds", "bb"))
    assert "3.05 +- 0.07 (2 seeds)" in table and "<td>darts</td>" in table
    assert {"mode_accuracy of each run", "entropy of each run"} <= set(figures(table))
    assert "val_accuracy of each seed" in figures(page) and "incumbent's score per trial" in figures(page)
    for section in ("a (search)", "b (search)", "seeds (seeds)", "bb (bench)"):
        assert f"<h2>{section}</h2>" in page


def test_a_training_page_has_its_curves_and_the_trained_cells(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    page = render_report(load_runs([train_run(tmp_path / "t")]))
    # no drawings in a training run: the cells are drawn from the genotype of its config
    assert figures(page) == ["training curves", "learning rate and drop path", "normal cell", "reduce cell"]
    assert "<td>val_accuracy</td>" in page and "1.5 hours on Test" in page


def test_without_matplotlib_the_page_says_which_extra_draws_its_figures(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = render_report(load_runs([train_run(tmp_path / "t")]))
    assert figures(page) == [] and "pip install &#x27;parsecnas[plot]&#x27;" in page
    assert "<td>3.00</td>" in page  # the numbers are all there


def test_the_cli_writes_the_page_and_refuses_bad_input(tmp_path, capsys) -> None:
    run = train_run(tmp_path / "t")
    assert main(["report", str(run), "--out", str(tmp_path / "page.html")]) == 0
    assert f"report: {tmp_path / 'page.html'}" in capsys.readouterr().out
    assert main(["report", str(run), "--out", str(tmp_path / "page.png")]) == 2
    assert "ending in .html" in capsys.readouterr().err
    (tmp_path / "nothing").mkdir()
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "holds no run" in capsys.readouterr().err and not (tmp_path / "nothing" / "report.html").exists()


def test_architectures_read_compactly() -> None:
    assert arch_text({"normal": [["sep_conv_3x3", 0], ["skip_connect", 1]], "normal_concat": [2, 3]}) == \
        "normal: sep_conv_3x3(0), skip_connect(1); normal_concat: 2, 3"
    assert arch_text("|nor_conv_3x3~0|") == "|nor_conv_3x3~0|" and arch_text(None) == "-"


def test_an_architecture_without_drawings_is_shown_as_its_text(tmp_path) -> None:
    run = search_run(tmp_path / "nb201")
    for name in ("genotype.json", "cell_normal.png", "cell_reduce.png"):
        (run / name).unlink()
    (run / "architecture.txt").write_text("|nor_conv_3x3~0|+|skip_connect~0|none~1|\n")
    page = render_report(load_runs([run]))
    assert "<code>|nor_conv_3x3~0|+|skip_connect~0|none~1|</code>" in page and "normal cell" not in page


def test_a_real_search_and_its_training_make_a_full_comparison(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search
    from parsecnas.strategies import ParsecConfig
    from parsecnas.train import TrainConfig, train_genotype

    config = SearchConfig(epochs=2, steps_per_epoch=1, net=NetConfig(num_cells=3, channels=4),
                          data=DataConfig(batch_size=4, eval_examples=8), settings=ParsecConfig(samples=2))
    run_search(config, tmp_path / "search", progress=False)
    train_genotype(tmp_path / "search", TrainConfig(dataset="fashion-mnist-small", num_cells=2, channels=4, epochs=2,
                                                    steps_per_epoch=1, batch_size=8, val_examples=16),
                   tmp_path / "train", progress=False)
    page = write_report([tmp_path]).read_text()
    shown = figures(page)
    assert {"search curves", "training loss and effective sample size", "per-op marginals", "cell normal",
            "cell reduce", "training curves", "normal cell", "reduce cell"} <= set(shown)
    assert "<td>search</td><td>search</td>" in page and "<td>train</td><td>train</td>" in page  # run, kind
    assert "Most probable architectures" in page and "val_accuracy" in page
