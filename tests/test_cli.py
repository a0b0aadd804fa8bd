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


def test_bench_runs_a_blackbox_search_on_the_nb201_table(data_dir, tmp_path, capsys) -> None:
    assert main(["bench", "--strategy", "random", "--budget", "20", "--data-dir", str(data_dir),
                 "--run-dir", str(tmp_path / "b")]) == 0
    out = json.loads(capsys.readouterr().out.split("\n\n")[0])
    assert out["trials"] == 20 and out["failed"] == 0 and 0 < out["best"]["test_accuracy"] <= 100


def test_search_accepts_strategy_flag(tmp_path, capsys) -> None:
    args = ["search", "--strategy", "gdas", "--run-dir", str(tmp_path / "g"), "--quiet", "--epochs=1",
            "--steps_per_epoch=1", "--net.num_cells=3", "--net.channels=4", "--data.batch_size=4",
            "--data.eval_examples=8"]
    assert main(args) == 0
    assert "search finished" in capsys.readouterr().out
    assert "strategy: gdas" in (tmp_path / "g" / "config.yaml").read_text()


def test_train_seeds_then_table_evaluate_and_export(tmp_path, capsys) -> None:
    run = tmp_path / "t"
    args = ["train", "DARTS_V2", "--run-dir", str(run), "--seeds", "0", "1", "--quiet", "--dataset=fashion-mnist-small",
            "--num_cells=3", "--channels=4", "--epochs=1", "--steps_per_epoch=1", "--batch_size=8", "--cutout=0"]
    assert main(args) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and summary["search_method"] == "published"
    capsys.readouterr()
    assert main(["table", str(run), str(run / "seed-0"), "--format", "markdown"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| Architecture | Test error (%)") and len(lines) == 4
    assert f"{summary['test_error_pct_mean']:.2f} +- {summary['test_error_pct_std']:.2f} (2 seeds)" in lines[2]
    assert main(["evaluate", str(run / "seed-0")]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    seed0 = json.loads((run / "seed-0" / "result.json").read_text())
    assert evaluated["test_accuracy"] == seed0["test_accuracy"]
    assert main(["export", str(run / "seed-0")]) == 0
    assert json.loads(capsys.readouterr().out)["max_abs_diff"] == 0.0
    assert (run / "seed-0" / "model.ts").is_file()


def test_train_imagenet_protocol_and_bad_input(tmp_path, capsys) -> None:
    assert main(["table", str(tmp_path)]) == 2
    assert "neither summary.json nor result.json" in capsys.readouterr().err
    assert main(["train", "DARTS_V2", "--protocol", "imagenet", "--run-dir", str(tmp_path / "i"), "--quiet",
                 "--dataset=fashion-mnist-small", "--num_cells=2", "--channels=4", "--epochs=1",
                 "--steps_per_epoch=1", "--batch_size=4"]) == 0
    config = (tmp_path / "i" / "config.yaml").read_text()
    assert "label_smoothing: 0.1" in config and "lr_schedule: exponential" in config
    assert main(["evaluate", str(tmp_path / "i"), "--dataset", "imagenet-1k"]) == 2
    assert "'imagenet-1k'" in capsys.readouterr().err


def test_search_on_the_nb201_space_prints_the_table_lookup(data_dir, tmp_path, capsys) -> None:
    args = ["search", "--run-dir", str(tmp_path / "n"), "--quiet", "--space=nb201", "--epochs=1",
            "--steps_per_epoch=1", "--net.num_cells=1", "--net.channels=4", "--data.batch_size=4",
            "--data.eval_examples=8", "--settings.samples=2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "benchmark table test accuracy of the derived cell" in out and "benchmark_lookup.json" in out
    assert "parsecnas train" not in out and (tmp_path / "n" / "architecture.txt").is_file()
