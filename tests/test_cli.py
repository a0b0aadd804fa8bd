from __future__ import annotations

import json

from parsecnas.cli import main


def test_show_prints_published_parameter_count(capsys) -> None:
    assert main(["show", "DARTS_V2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert abs(info["params_m"] - 3.35) < 0.01 and info["setting"] == "cifar10"


def test_show_unknown_genotype_fails_clearly(capsys) -> None:
    assert main(["show", "DARTS_V9"]) == 2
    assert "cannot resolve genotype 'DARTS_V9'" in capsys.readouterr().err


def test_show_draws_both_cells(tmp_path, capsys) -> None:
    assert main(["show", "PDARTS", "--draw", str(tmp_path / "p.svg")]) == 0
    assert (tmp_path / "p_normal.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "p_reduce.svg").is_file()


def test_bench_runs_a_blackbox_search_on_the_nb201_table(data_dir, capsys) -> None:
    assert main(["bench", "--strategy", "random", "--budget", "20", "--data-dir", str(data_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["queries"] == 20 and 0 < out["test_accuracy"] <= 100


def test_search_accepts_strategy_flag(tmp_path, capsys) -> None:
    args = ["search", "--strategy", "gdas", "--run-dir", str(tmp_path / "g"), "--quiet", "--epochs=1",
            "--steps_per_epoch=1", "--net.num_cells=3", "--net.channels=4", "--data.batch_size=4",
            "--data.eval_examples=8"]
    assert main(args) == 0
    assert "search finished" in capsys.readouterr().out
    assert "strategy: gdas" in (tmp_path / "g" / "config.yaml").read_text()
