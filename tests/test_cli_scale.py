"""`parsecnas scale` end to end on a tiny DARTS network: the run directory, the table, the printed train command
(which parses back to the scaled network), one-line errors before any file, and a search killed inside a
candidate's training resuming to the same choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import parsecnas.scaling.genotype as genotype_module
from parsecnas.cli import main
from parsecnas.run import Run

# two competing candidates: resolution x1.4 (28 -> 40 px, x2.04 multiply-adds) and width x1.4 (C 4 -> 6, x1.96)
TINY = ["--dataset=fashion-mnist-small", "--num-cells=5", "--channels=4", "--cutout=0", "--batch-size=32",
        "--val-examples=300", "--eval-batch-size=500", "--drop-path=0.0", "--auxiliary-weight=0.0",
        "--grid", "1.0", "1.4", "--channel-divisor=2", "--madds-tolerance=0.05", "--search-epochs=2",
        "--search-steps-per-epoch=2"]


def scale_cli(run_dir: Path, *extra: str) -> int:
    return main(["scale", "DARTS_V2", "--phi", "2", *TINY, *extra, "--run-dir", str(run_dir), "--quiet"])


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("scale") / "run"
    assert scale_cli(run_dir) == 0
    return run_dir


def test_scale_writes_its_run_and_prints_the_train_command(finished: Path, capsys) -> None:
    result = json.loads((finished / "scale.json").read_text())
    assert [(r["width"], r["resolution"]) for r in result["candidates"]] == [(4, 40), (6, 28)]
    assert all(0 <= r["val_accuracy"] <= 1 for r in result["candidates"])
    assert (finished / "candidate-000" / "result.json").is_file() and (finished / "config.yaml").is_file()
    assert len(Run(finished).metrics()) == 2 and "phi" not in Run(finished).config()
    rows = {row["phi"]: row for row in result["table"]}
    assert set(rows) == {0.0, 1.0, 2.0} and rows[0.0]["madds_m"] > 0 and rows[2.0]["actual_ratio"] > 3
    scaled = result["scaled"]
    command = result["train_command"].split()
    assert command[:3] == ["parsecnas", "train", "DARTS_V2"]
    assert main([*command[1:], "--print-config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert (config["num_cells"], config["channels"], config["image_size"]) == (
        scaled["num_cells"], scaled["channels"], scaled["image_size"])
    assert config["dataset"] == "fashion-mnist-small" and config["cutout"] == 0


def test_a_network_trained_at_another_resolution_evaluates_at_it(finished: Path, capsys) -> None:
    trained = json.loads((finished / "candidate-000" / "result.json").read_text())
    assert trained["image_size"] == 40  # fashion-mnist-small (28 px) resampled up for gamma = 1.4
    assert main(["evaluate", str(finished / "candidate-000")]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] == trained["test_accuracy"]


def test_a_finished_search_gives_another_phi_without_training(finished: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(genotype_module, "train_genotype", lambda *a, **k: pytest.fail("trained again"))
    assert main(["scale", "DARTS_V2", "--phi", "3", "--resume", "--run-dir", str(finished)]) == 0
    out = capsys.readouterr().out
    assert "chosen: alpha 1" in out and "train the phi = 3 network with:\n  parsecnas train DARTS_V2" in out
    assert json.loads((finished / "scale.json").read_text())["phi"] == 3.0


@pytest.mark.parametrize(("args", "message"), [
    (["DARTS_V2", "--phi", "-1"], "phi must be >= 0"),
    (["NOT_A_GENOTYPE"], "cannot resolve genotype 'NOT_A_GENOTYPE'"),
    (["DARTS_V2", "--grid", "1.0", "1.05"], "no point of the grid has alpha * beta^2 * gamma^2 within 5% of 2"),
    (["DARTS_V2", "--grid", "0.5", "1.4"], "alphas must be a non-empty list of values >= 1"),
    (["DARTS_V2", "--num-cells=6"], "num_cells 6 cannot be scaled in depth"),
    (["DARTS_V2", "--kind=ofa"], "unknown kind 'ofa'"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    assert main(["scale", *args, "--dataset=fashion-mnist-small", "--run-dir", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_help_lists_the_scaling_and_the_network_settings(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["scale", "--help"])
    out = capsys.readouterr().out
    assert all(flag in out for flag in ("--phi", "--alphas", "--madds-tolerance", "--num-cells", "--image-size"))


def test_a_search_killed_inside_a_candidate_resumes_to_the_same_choice(finished: Path, tmp_path: Path,
                                                                       monkeypatch) -> None:
    real, calls = genotype_module.train_genotype, []

    def killed_in_the_second(*args, **kwargs):
        calls.append(1)

        def stop(record: dict) -> None:
            if len(calls) == 2 and record["epoch"] == 1:
                raise KeyboardInterrupt  # after its first epoch's checkpoint

        return real(*args, **kwargs, on_epoch=stop)

    monkeypatch.setattr(genotype_module, "train_genotype", killed_in_the_second)
    assert scale_cli(tmp_path / "run") == 130
    assert len(Run(tmp_path / "run").metrics()) == 1
    assert [r["epoch"] for r in Run(tmp_path / "run" / "candidate-001").metrics()] == [1]
    assert scale_cli(tmp_path / "run", "--resume") == 0
    assert len(calls) == 3  # the first candidate was not trained again
    resumed, whole = (json.loads((d / "scale.json").read_text()) for d in (tmp_path / "run", finished))
    assert resumed["coefficients"] == whole["coefficients"]
    assert [r["val_accuracy"] for r in resumed["candidates"]] == [r["val_accuracy"] for r in whole["candidates"]]
