"""Settings carry from step to step, and small CLI promises: train RUN_DIR trains on the search's data,
--print-config round-trips through --config, --version, bad --threads, odd genotype files, a killed first write."""

from __future__ import annotations

import json
import math
import os

import pytest
import yaml

from parsecnas.cli import main
from parsecnas.config import load_config
from parsecnas.run import Run
from parsecnas.search import SearchConfig


def test_train_of_a_search_run_inherits_its_dataset_and_says_so(tmp_path, capsys) -> None:
    search = tmp_path / "s"
    assert main(["search", "--run-dir", str(search), "--quiet", "--epochs=1", "--steps_per_epoch=1",
                 "--net.num_cells=3", "--net.channels=4", "--data.batch_size=4", "--data.eval_examples=8",
                 "--settings.samples=2"]) == 0
    capsys.readouterr()
    args = ["train", str(search), "--run-dir", str(tmp_path / "t"), "--num_cells=2", "--channels=4",
            "--epochs=1", "--steps_per_epoch=1", "--batch_size=4", "--cutout=0"]
    assert main([*args, "--print-config"]) == 0
    assert "dataset: fashion-mnist-small" in capsys.readouterr().out and not (tmp_path / "t").exists()
    assert main([*args, "--dataset=mnist", "--print-config"]) == 0
    assert "dataset: mnist" in capsys.readouterr().out  # a flag still wins over what is inherited
    assert main(args) == 0
    assert "cifar protocol on fashion-mnist-small (the data of the search run" in capsys.readouterr().out
    assert Run(tmp_path / "t").read_json("result.json")["dataset"] == "fashion-mnist-small"


def test_print_config_is_loadable_with_config(tmp_path, capsys) -> None:
    assert main(["search", "--strategy", "gdas", "--settings.tau_min=0.5", "--epochs=7", "--print-config"]) == 0
    text = capsys.readouterr().out
    (tmp_path / "c.yaml").write_text(text)
    config = load_config(SearchConfig, tmp_path / "c.yaml")
    assert config.strategy == "gdas" and config.settings.tau_min == 0.5 and config.epochs == 7
    assert yaml.safe_load(text)["settings"]["tau_min"] == 0.5


def test_version_and_bad_threads(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and "parsecnas 0." in capsys.readouterr().out
    assert main(["--threads", "-1", "show", "--list"]) == 2
    assert "--threads -1" in capsys.readouterr().err


def test_a_fifo_given_as_a_genotype_file_is_refused_not_read(tmp_path, capsys) -> None:
    fifo = tmp_path / "g.json"
    os.mkfifo(fifo)
    assert main(["show", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_a_run_killed_while_writing_its_first_config_starts_afresh(tmp_path) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / ".config.yaml.0123456789ab.tmp").write_text("half a conf")  # what a kill during the atomic write leaves
    assert Run(run_dir).create({"epochs": 1}) is False
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.yaml"]


def test_help_lists_every_setting_of_the_chosen_strategy(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["search", "--strategy", "darts", "--help"])
    out = capsys.readouterr().out
    assert "--stop-skip-connections  [int; default: 0]" in out and "DARTS+ early stopping" in out
    assert "--batch-size  [int; default: 64]" in out and "--samples  [" not in out
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    out = capsys.readouterr().out
    assert "--samples  [int; default: 16]" in out  # PARSEC by default
    assert "--settings.epochs  [" in out  # a name that is also a top-level field keeps its section
    with pytest.raises(SystemExit):
        main(["bench", "--strategy=bananas", "--help"])
    assert "--acquisition" in capsys.readouterr().out


def test_one_spelling_per_option_in_every_command(capsys) -> None:
    """--data-dir and --batch-size mean the same in search, train and bench; the dotted and underscore forms
    are still accepted."""
    for argv in (["search", "--data-dir", "/d", "--batch-size", "32"],
                 ["search", "--data.data_dir=/d", "--data.batch-size=32"],
                 ["train", "DARTS_V2", "--data-dir=/d", "--batch_size", "32"]):
        assert main([*argv, "--print-config"]) == 0
        config = yaml.safe_load(capsys.readouterr().out)
        section = config.get("data", config)
        assert (section["data_dir"], section["batch_size"]) == ("/d", 32), argv
    assert main(["bench", "--data-dir", "/d", "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["data_dir"] == "/d"
    assert main(["search", "--strategy", "darts", "--order=2", "--print-config"]) == 0  # the chosen one's settings
    assert yaml.safe_load(capsys.readouterr().out)["settings"]["order"] == 2
    assert main(["search", "--batchsize=3", "--print-config"]) == 2
    assert "did you mean 'data.batch_size'?" in capsys.readouterr().err


def test_top_level_help_does_not_load_torch() -> None:
    import subprocess
    import sys

    code = ("import sys; from parsecnas.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'parsecnas --help imported torch'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_clis_export_formats_are_the_exporters() -> None:
    from parsecnas.cli import EXPORT_FORMATS
    from parsecnas.export import EXPORT_FORMATS as exported

    assert EXPORT_FORMATS == exported


def test_config_fields_take_key_value_and_key_space_value(capsys) -> None:
    assert main(["search", "--epochs", "7", "--settings.samples=3", "--weights.lr", "0.05", "--print-config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["epochs"] == 7 and config["settings"]["samples"] == 3 and config["weights"]["lr"] == 0.05
    assert main(["search", "--epochs"]) == 2  # a field without its value
    assert "--key value" in capsys.readouterr().err


def test_resume_reads_the_runs_own_config_and_may_raise_the_epochs(tmp_path, capsys) -> None:
    run = tmp_path / "t"
    args = ["train", "DARTS_V2", "--run-dir", str(run), "--quiet", "--dataset=fashion-mnist-small", "--num-cells=2",
            "--channels=4", "--epochs=1", "--steps-per-epoch=1", "--batch-size=8", "--cutout=0"]
    assert main(args) == 0
    assert main(["train", "DARTS_V2", "--resume", "--run-dir", str(run), "--quiet"]) == 0  # nothing more to do
    capsys.readouterr()
    assert main(["show", str(run)]) == 0  # a training run directory names its genotype and its record
    assert "on fashion-mnist-small after 1 epochs at 28x28" in capsys.readouterr().out
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    assert main(["train", "DARTS_V2", "--resume", "--run-dir", str(run), "--quiet", "--epochs", "2"]) == 0
    assert [r["epoch"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())] == [1, 2]
    assert yaml.safe_load((run / "config.yaml").read_text())["epochs"] == 2
    capsys.readouterr()
    assert main(["train", "DARTS_V2", "--resume", "--run-dir", str(run), "--quiet", "--epochs", "1"]) == 2
    assert "epochs: stored 2, given 1" in capsys.readouterr().err  # fewer epochs than it ran: refused
    search = tmp_path / "s"
    assert main(["search", "--run-dir", str(search), "--quiet", "--epochs=1", "--steps-per-epoch=1", "--num-cells=3",
                 "--channels=4", "--batch-size=4", "--eval-examples=8", "--samples=2"]) == 0
    assert main(["search", "--resume", "--run-dir", str(search), "--quiet"]) == 0


def test_a_longer_resumed_training_lays_the_cosine_schedule_over_its_new_length() -> None:
    import torch

    from parsecnas.train import TrainConfig, _stretch_schedule, _Training

    w = torch.nn.Parameter(torch.zeros(1))
    sgd = torch.optim.SGD([w], lr=0.1)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(sgd, 4, eta_min=0.0)
    sgd.step()
    schedule.step()  # one epoch of the 4 it started with
    t = _Training.__new__(_Training)
    t.sgd, t.schedule = sgd, schedule
    _stretch_schedule(t, TrainConfig(epochs=8, lr=0.1, lr_min=0.0))
    expected = [0.05 * (1 + math.cos(math.pi * e / 8)) for e in range(1, 9)]
    seen = [sgd.param_groups[0]["lr"]]
    for _ in range(7):
        sgd.step()
        schedule.step()
        seen.append(sgd.param_groups[0]["lr"])
    assert seen == pytest.approx(expected, abs=1e-12)


def test_ctrl_c_is_one_line_with_the_resume_command(tmp_path, monkeypatch, capsys) -> None:
    import parsecnas.search

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(parsecnas.search, "run_search", interrupted)
    assert main(["search", "--run-dir", str(tmp_path / "r")]) == 130
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"interrupted; the last checkpoint is kept; continue with the same command and --resume "
                        f"--run-dir {tmp_path / 'r'}") and "Traceback" not in err
