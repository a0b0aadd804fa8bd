from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from parsecnas.run import CheckpointError, Run, load_checkpoint, save_checkpoint


class Payload:
    """Unpickling this would create ``marker``: proof that code in a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (open, (str(self.marker), "w"))


def training_state() -> dict:
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    gen = torch.Generator().manual_seed(7)
    return {"epoch": 3, "net": net.state_dict(), "optim": opt.state_dict(), "rng": gen.get_state(),
            "history": [0.5, 0.25], "name": "parsec", "dtype": torch.float32, "best": None}


def test_round_trip_of_a_training_state(tmp_path: Path) -> None:
    state = training_state()
    save_checkpoint(state, tmp_path / "checkpoint.pt")
    loaded = load_checkpoint(tmp_path / "checkpoint.pt")
    assert loaded is not None
    assert loaded["epoch"] == 3 and loaded["history"] == [0.5, 0.25] and loaded["dtype"] is torch.float32
    assert torch.equal(loaded["net"]["weight"], state["net"]["weight"])
    assert loaded["optim"]["param_groups"][0]["momentum"] == 0.9
    assert torch.equal(loaded["rng"], state["rng"])


def test_missing_checkpoint_is_none(tmp_path: Path) -> None:
    assert load_checkpoint(tmp_path / "nothing.pt") is None
    assert Run(tmp_path).load_checkpoint() is None


def test_crash_mid_write_keeps_the_previous_checkpoint(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run(tmp_path)
    run.save_checkpoint({"epoch": 1, "w": torch.ones(1000)})
    real_save = torch.save

    def dying_save(obj: object, f) -> None:  # noqa: ANN001
        real_save(obj, f)
        f.truncate(100)  # half-written ...
        raise KeyboardInterrupt  # ... when the process is interrupted

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        run.save_checkpoint({"epoch": 2, "w": torch.zeros(1000)})
    monkeypatch.undo()
    state = run.load_checkpoint()
    assert state is not None and state["epoch"] == 1 and torch.equal(state["w"], torch.ones(1000))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # temp file cleaned up


def test_crash_before_rename_keeps_the_previous_checkpoint(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    save_checkpoint({"epoch": 1}, tmp_path / "ck.pt")

    def no_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("parsecnas.run.atomic.os.replace", no_replace)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"epoch": 2}, tmp_path / "ck.pt")
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "ck.pt") == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


def test_truncated_checkpoint_gives_a_clear_error_naming_the_file(tmp_path: Path) -> None:
    path = save_checkpoint({"w": torch.ones(1000)}, tmp_path / "checkpoint.pt")
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match=r"checkpoint .*checkpoint.pt is corrupt or truncated"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"])
def test_garbage_checkpoint_gives_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="checkpoint.pt"):
        load_checkpoint(path)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize(("writer", "reason"), [("torch", "Unsupported global"),
                                                ("pickle", "Unsupported operand")])
def test_pickled_objects_are_refused_and_never_run(tmp_path: Path, writer: str, reason: str) -> None:
    marker = tmp_path / "code_ran"
    path = tmp_path / "checkpoint.pt"
    state = {"epoch": 1, "payload": Payload(marker)}
    if writer == "torch":
        torch.save(state, path)  # torch.save itself pickles anything
    else:
        path.write_bytes(pickle.dumps(state))
    with pytest.raises(CheckpointError, match=r"refusing to load checkpoint .*checkpoint.pt") as err:
        load_checkpoint(path)
    assert reason in str(err.value)
    assert not marker.exists()


def test_saving_a_state_that_could_not_be_loaded_back_fails_early(tmp_path: Path) -> None:
    numpy_entry = r"state\['rng'\]\['numpy'\] is a numpy.ndarray.*torch.as_tensor"
    with pytest.raises(CheckpointError, match=numpy_entry):
        save_checkpoint({"rng": {"numpy": np.zeros(3)}}, tmp_path / "ck.pt")
    with pytest.raises(CheckpointError, match=r"state\['extra'\]\[1\] is a .*Payload"):
        save_checkpoint({"extra": [1, Payload(tmp_path / "x")]}, tmp_path / "ck.pt")
    with pytest.raises(CheckpointError, match="must be a dict, got list"):
        save_checkpoint([1, 2], tmp_path / "ck.pt")  # type: ignore[arg-type]
    assert not (tmp_path / "ck.pt").exists()
