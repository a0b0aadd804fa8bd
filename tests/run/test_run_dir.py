from __future__ import annotations

import json
from pathlib import Path

import pytest

from parsecnas.run import Run, RunError

CONFIG = {"epochs": 4, "optim": {"lr": 0.1, "momentum": 0.9}, "channels": [16, 32]}


def fake_search(run: Run, epochs: int, crash_at: int | None = None) -> None:
    """A stand-in search loop following the run convention: log an epoch, then checkpoint it."""
    state = run.restore()
    start = 0 if state is None else state["epoch"] + 1
    for epoch in range(start, epochs):
        for step in range(2):
            run.log({"epoch": epoch, "step": step, "loss": 1.0 / (1 + epoch + step)})
        run.log({"epoch": epoch, "mode_accuracy": 0.5 + 0.1 * epoch, "entropy": 10.0 - epoch})
        if epoch == crash_at:
            raise KeyboardInterrupt  # killed after logging the epoch, before checkpointing it
        run.save_checkpoint({"epoch": epoch})


def test_constructor_does_no_io(tmp_path: Path) -> None:
    run = Run(tmp_path / "a" / "b")
    assert repr(run) == f"Run({str(tmp_path / 'a' / 'b')!r})"
    assert not (tmp_path / "a").exists()
    assert not run.exists()


def test_create_writes_the_config_and_refuses_to_overwrite(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    assert run.create(CONFIG) is False
    assert run.config() == CONFIG
    with pytest.raises(RunError, match="already holds a run; resume it"):
        Run(run.path).create(CONFIG)


def test_resume_with_the_same_config_is_allowed(tmp_path: Path) -> None:
    Run(tmp_path).create(CONFIG)
    as_tuples = {**CONFIG, "channels": (16, 32)}  # equal once read back from YAML
    assert Run(tmp_path).create(as_tuples, resume=True) is True


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_resume_of_a_directory_without_a_run_is_refused_naming_what_it_looked_for(tmp_path: Path, kind) -> None:
    path = tmp_path / "mistyped"
    if kind == "empty":
        path.mkdir()
    with pytest.raises(RunError, match=f"nothing to resume in .*looked for {path / 'config.yaml'}"):
        Run(path).create(CONFIG, resume=True)
    assert (kind == "empty") == path.exists() and not Run(path).exists()


def test_resume_with_a_different_config_names_the_differing_keys(tmp_path: Path) -> None:
    Run(tmp_path).create(CONFIG)
    changed = {"epochs": 4, "optim": {"lr": 0.2, "momentum": 0.9}, "channels": [16, 32], "seed": 1}
    with pytest.raises(RunError) as err:
        Run(tmp_path).create(changed, resume=True)
    message = str(err.value)
    assert "2 key(s)" in message
    assert "optim.lr: stored 0.1, given 0.2" in message
    assert "seed: stored '<absent>', given 1" in message
    assert "epochs" not in message


def test_a_non_empty_directory_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="not an empty directory, but holds no run"):
        Run(tmp_path).create(CONFIG)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_config_must_be_plain_data(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="to_dict"):
        Run(tmp_path).create({"thing": object()})


def test_resumed_search_ends_with_exactly_the_metrics_of_an_uninterrupted_one(tmp_path: Path) -> None:
    straight = Run(tmp_path / "straight")
    straight.create(CONFIG)
    fake_search(straight, epochs=4)

    crashed = Run(tmp_path / "crashed")
    crashed.create(CONFIG)
    with pytest.raises(KeyboardInterrupt):
        fake_search(crashed, epochs=4, crash_at=2)
    assert crashed.load_checkpoint() == {"epoch": 1}
    assert max(r["epoch"] for r in crashed.metrics()) == 2  # epoch 2 was logged but not checkpointed
    resumed = Run(tmp_path / "crashed")
    assert resumed.create(CONFIG, resume=True) is True
    fake_search(resumed, epochs=4)
    assert resumed.metrics() == straight.metrics()
    assert len(straight.metrics()) == 4 * 3


def test_restore_without_checkpoint_drops_keyed_records(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.create(CONFIG)
    run.log({"event": "started"})
    run.log({"epoch": 0, "loss": 2.0})
    assert run.restore() is None
    assert run.metrics() == [{"event": "started"}]


def test_restore_needs_the_key_in_the_checkpoint(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.create(CONFIG)
    run.save_checkpoint({"step": 3})
    with pytest.raises(RuntimeError, match="no 'epoch' entry.*its keys: step"):
        run.restore()
    assert run.restore(key="step") == {"step": 3}


def test_resume_clears_temp_files_left_by_a_crash(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.create(CONFIG)
    stale = tmp_path / ".checkpoint.pt.0123456789ab.tmp"
    stale.write_bytes(b"half a checkpoint")
    run.create(CONFIG, resume=True)
    assert not stale.exists()


def test_output_files_are_written_inside_the_run(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.create(CONFIG)
    genotype = {"normal": [["sep_conv_3x3", 0]], "normal_concat": [2]}
    assert run.write_json("genotype.json", genotype) == tmp_path / "genotype.json"
    assert run.read_json("genotype.json") == genotype
    assert json.loads((tmp_path / "genotype.json").read_text()) == genotype
    run.write_text("cells/notes.txt", "hello")
    assert run.path_of("cells/notes.txt").read_text() == "hello"


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", ""])
def test_path_of_rejects_names_outside_the_run(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="relative path inside the run directory"):
        Run(tmp_path).path_of(name)


def test_summary_names_the_directory_and_its_contents(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    assert "no run here" in run.summary()
    run.create(CONFIG)
    run.log({"epoch": 0, "entropy": 3.5})
    run.save_checkpoint({"epoch": 0})
    summary = run.summary()
    assert str(tmp_path / "run") in summary
    assert "1 metrics records" in summary and '"entropy": 3.5' in summary
    assert "checkpoint.pt" in summary and "config.yaml" in summary


def test_resume_tolerates_keys_newer_than_the_stored_config_when_they_hold_their_default(tmp_path: Path) -> None:
    Run(tmp_path).create(CONFIG)  # written before the fields "seed" and "optim.nesterov" existed
    defaults = {**CONFIG, "seed": 0, "optim": {"lr": 0.025, "momentum": 0.9, "nesterov": False}}
    given = {**CONFIG, "seed": 0, "optim": {**CONFIG["optim"], "nesterov": False}}
    before = (tmp_path / "config.yaml").read_bytes()
    assert Run(tmp_path).create(given, resume=True, defaults=defaults) is True
    assert (tmp_path / "config.yaml").read_bytes() == before
    with pytest.raises(RunError, match=r"1 key\(s\): seed: stored '<absent>', given 3"):
        Run(tmp_path).create({**given, "seed": 3}, resume=True, defaults=defaults)
    with pytest.raises(RunError, match="optim.lr: stored 0.1, given 0.025"):  # a stored key still counts
        Run(tmp_path).create(defaults, resume=True, defaults=defaults)
