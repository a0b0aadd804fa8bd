"""Nothing lost through the command line: a refused command exits 2 with a one-line message and leaves every
file of the run directory byte-identical."""

from __future__ import annotations

import os
import shutil

import pytest
import torch
import yaml

from parsecnas.cli import main
from parsecnas.run import RunLock

SEARCH = ["--quiet", "--epochs=1", "--steps_per_epoch=1", "--net.num_cells=3", "--net.channels=4",
          "--data.batch_size=4", "--data.eval_examples=8", "--settings.samples=2"]
TRAIN = ["DARTS_V2", "--quiet", "--dataset=fashion-mnist-small", "--num_cells=2", "--channels=4", "--epochs=1",
         "--steps_per_epoch=1", "--batch_size=4", "--cutout=0"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A finished tiny search and a finished tiny training run."""
    root = tmp_path_factory.mktemp("runs")
    assert main(["search", "--run-dir", str(root / "search"), *SEARCH]) == 0
    assert main(["train", *TRAIN, "--run-dir", str(root / "train")]) == 0
    return root


def command(kind: str, run_dir, *more: str) -> list[str]:
    return (["search", "--run-dir", str(run_dir), *SEARCH] if kind == "search"
            else ["train", *TRAIN, "--run-dir", str(run_dir)]) + list(more)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("kind", ["search", "train"])
def test_a_second_process_on_a_running_run_directory_is_refused(runs, kind, snapshot, capsys) -> None:
    run_dir = runs / kind
    before = snapshot(run_dir)
    with RunLock(run_dir):  # stands for the process still running there
        assert main(command(kind, run_dir, "--resume")) == 2
    err = one_line_error(capsys)
    assert "in use by another process" in err and f"pid {os.getpid()}" in err
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("kind", ["search", "train"])
@pytest.mark.parametrize("exists", [False, True])
def test_resume_of_a_directory_holding_no_run_is_an_error(tmp_path, kind, exists, capsys) -> None:
    run_dir = tmp_path / "mistyped"
    if exists:
        run_dir.mkdir()
    assert main(command(kind, run_dir, "--resume")) == 2
    err = one_line_error(capsys)
    assert "nothing to resume" in err and str(run_dir / "config.yaml") in err
    assert exists == run_dir.exists() and not (exists and any(run_dir.iterdir()))


def test_resume_of_seeds_in_a_directory_holding_none_is_an_error(tmp_path, capsys) -> None:
    assert main(["train", *TRAIN, "--run-dir", str(tmp_path / "nothing"), "--seeds", "0", "1", "--resume"]) == 2
    assert "nothing to resume" in one_line_error(capsys)
    assert not (tmp_path / "nothing").exists()


def _set(key, value):
    def edit(state):
        state[key] = value
    return edit


def _drop(key):
    return lambda state: state.pop(key)


def _drop_weight(state):
    state["net"].pop(next(iter(state["net"])))


def _loader_position(state):
    loader = state["loader" if "loader" in state else "train_loader"]
    loader["position"] = 10**6


BAD_CHECKPOINTS = {  # edit of the checkpoint -> what the message must say
    "negative epoch": (_set("epoch", -3), "epoch -3 is out of range; valid: an integer 0 .. 1"),
    "epoch beyond the run": (_set("epoch", 7), "epoch 7 is out of range"),
    "fractional epoch": (_set("epoch", 0.5), "epoch 0.5 is out of range"),
    "boolean epoch": (_set("epoch", True), "epoch True is out of range"),
    "no epoch": (_drop("epoch"), "no 'epoch' entry"),
    "no weights": (_drop("net"), "no 'net' entry"),
    "nan elapsed": (_set("elapsed", float("nan")), "elapsed nan is not a finite number"),
    "missing weight tensor": (_drop_weight, "'net' entry does not fit"),
    "loader beyond its data": (_loader_position, "loader' entry does not fit"),
}


@pytest.mark.parametrize("kind", ["search", "train"])
@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_a_checkpoint_out_of_range_is_refused_on_resume(runs, tmp_path, kind, case, snapshot, capsys) -> None:
    run_dir = tmp_path / kind
    shutil.copytree(runs / kind, run_dir)
    edit, message = BAD_CHECKPOINTS[case]
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    edit(state)
    torch.save(state, run_dir / "checkpoint.pt")
    before = snapshot(run_dir)
    assert main(command(kind, run_dir, "--resume")) == 2
    err = one_line_error(capsys)
    assert message in err and str(run_dir / "checkpoint.pt") in err
    assert snapshot(run_dir) == before


@pytest.mark.parametrize(("device", "gpus", "message"), [
    ("cuda", 0, "CUDA is not available on this machine"),
    ("cuda:0", 0, "CUDA is not available on this machine"),
    ("cuda:3", 1, "this machine has 1 GPU(s): valid indices 0 .. 0"),
    ("gpu", 0, "unknown device 'gpu'; valid: auto, cpu, cuda"),
])
def test_evaluate_on_a_missing_device_names_the_device_not_the_model(runs, monkeypatch, snapshot, capsys, device,
                                                                     gpus, message) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    before = snapshot(runs / "train")
    assert main(["evaluate", str(runs / "train"), "--device", device]) == 2
    err = one_line_error(capsys)
    assert message in err and "corrupt" not in err and "delete" not in err
    assert snapshot(runs / "train") == before


@pytest.mark.parametrize("kind", ["search", "train"])
def test_a_run_on_a_missing_gpu_is_refused_before_it_is_created(tmp_path, monkeypatch, capsys, kind) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    flag = "--device=cuda"
    assert main(command(kind, tmp_path / "run", flag)) == 2
    assert "CUDA is not available" in one_line_error(capsys)
    assert not (tmp_path / "run").exists()


def _without(run_dir, *keys: str) -> None:
    """Rewrites config.yaml as an older parsecnas would have written it, before the fields ``keys`` existed."""
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    for key in keys:
        *parents, last = key.split(".")
        node = config
        for part in parents:
            node = node[part]
        del node[last]
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.mark.parametrize(("kind", "absent"), [("search", ("settings.train_on", "data.image_size")),
                                              ("train", ("color_jitter", "crop_size"))])
def test_a_run_older_than_a_config_field_still_resumes(runs, tmp_path, kind, absent, capsys) -> None:
    run_dir = tmp_path / kind
    shutil.copytree(runs / kind, run_dir)
    _without(run_dir, *absent)
    config = (run_dir / "config.yaml").read_bytes()
    assert main(command(kind, run_dir, "--resume")) == 0, capsys.readouterr().err
    assert (run_dir / "config.yaml").read_bytes() == config


def test_an_absent_field_given_another_value_than_its_default_is_still_a_difference(runs, tmp_path,
                                                                                    capsys) -> None:
    run_dir = tmp_path / "train"
    shutil.copytree(runs / "train", run_dir)
    _without(run_dir, "cutout")  # the run used cutout=0, not the default 16
    assert main(command("train", run_dir, "--resume")) == 2
    assert "cutout: stored '<absent>', given 0" in one_line_error(capsys)
