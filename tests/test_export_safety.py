"""Exports never destroy results: a run's own files and existing files are refused, writes are atomic, and a
model with non-finite weights or outputs is not exported."""

from __future__ import annotations

import errno
import json

import pytest
import torch

from parsecnas import export as export_module
from parsecnas.cli import main
from parsecnas.export import ExportError, export_model, save_model
from parsecnas.nets import build_network


def small_net():
    torch.manual_seed(0)
    return build_network("DARTS_V2", num_cells=2, channels=4, num_classes=3, in_channels=1,
                         auxiliary=False).eval()


@pytest.fixture
def run_dir(tmp_path):
    """A finished training run's files (the real trainer is not needed to test what export may touch)."""
    run = tmp_path / "run"
    save_model(small_net(), run / "model.pt", {"image_size": 16, "dataset": "fashion-mnist-small"})
    (run / "config.yaml").write_text("epochs: 1\n")
    (run / "result.json").write_text('{"test_accuracy": 0.5}\n')
    (run / "metrics.jsonl").write_text('{"epoch": 1}\n')
    torch.save({"epoch": 1}, run / "checkpoint.pt")
    return run


@pytest.mark.parametrize("name", ["model.pt", "result.json", "checkpoint.pt", "config.yaml", "metrics.jsonl",
                                  "notes.txt"])
@pytest.mark.parametrize("force", [False, True])
def test_export_never_writes_a_run_directorys_own_files(run_dir, snapshot, capsys, name, force) -> None:
    before = snapshot(run_dir)
    args = ["export", str(run_dir), "--out", str(run_dir / name)] + (["--force"] if force else [])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refusing" in err and name in err
    assert snapshot(run_dir) == before


def test_export_into_a_run_directory_writes_a_new_export_file(run_dir, snapshot, capsys) -> None:
    before = snapshot(run_dir)
    assert main(["export", str(run_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["max_abs_diff"] == 0.0
    after = snapshot(run_dir)
    assert set(after) == set(before) | {"model.ts"} and all(after[k] == v for k, v in before.items())


@pytest.mark.parametrize("inside_run", [False, True])
def test_an_existing_file_is_replaced_only_with_force(run_dir, tmp_path, capsys, inside_run) -> None:
    target = (run_dir if inside_run else tmp_path) / "old.ts"
    target.write_bytes(b"precious")
    assert main(["export", str(run_dir), "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "exists" in err and "--force" in err
    assert target.read_bytes() == b"precious"
    assert main(["export", str(run_dir), "--out", str(target), "--force"]) == 0
    assert torch.jit.load(str(target))(torch.zeros(1, 1, 16, 16)).shape == (1, 3)


def test_a_standalone_model_file_is_never_its_own_export_target(tmp_path, capsys) -> None:
    save_model(small_net(), tmp_path / "m.pt")
    before = (tmp_path / "m.pt").read_bytes()
    assert main(["export", str(tmp_path / "m.pt"), "--out", str(tmp_path / "m.pt"), "--force"]) == 2
    assert "model file itself" in capsys.readouterr().err
    assert (tmp_path / "m.pt").read_bytes() == before


@pytest.mark.parametrize("fmt", ["torchscript", "pt2"])
def test_a_failed_write_leaves_the_previous_file_and_no_temporary_file(tmp_path, monkeypatch, fmt) -> None:
    target = tmp_path / "m.out"
    target.write_bytes(b"previous export")

    def disk_full(net, x, path, fmt, *rest):
        path.write_bytes(b"half a fi")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_module, "_export_to", disk_full)
    with pytest.raises(OSError, match="No space left"):
        export_model(small_net(), target, fmt, 16, force=True)
    assert target.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["m.out"]


def test_non_finite_weights_are_not_exported(tmp_path, capsys) -> None:
    net = small_net()
    with torch.no_grad():
        net.classifier.weight[0, 0] = float("nan")
    save_model(net, tmp_path / "model.pt")
    with pytest.raises(ExportError, match="weights are not finite: 1 of .* tensors.*classifier.weight"):
        export_model(net, tmp_path / "m.ts", "torchscript", 16)
    assert main(["export", str(tmp_path / "model.pt"), "--out", str(tmp_path / "m.ts")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_finite_weights_with_overflowing_outputs_are_not_exported(tmp_path) -> None:
    net = small_net()
    features = []
    hook = net.classifier.register_forward_hook(lambda module, inputs, out: features.append(inputs[0]))
    net(export_module.example_input(net, 16, batch=2))
    hook.remove()
    with torch.no_grad():  # |logit| = 3e38 * (1 + sum |feature|) > the float32 maximum, 3.4e38
        net.classifier.weight.copy_(3e38 * features[0][0].sign().expand_as(net.classifier.weight))
        net.classifier.bias.fill_(3e38)
    with pytest.raises(ExportError, match="non-finite logits"):
        export_model(net, tmp_path / "m.ts", "torchscript", 16)
    assert not any(tmp_path.iterdir())


def test_a_folder_is_not_an_export_target(tmp_path) -> None:
    with pytest.raises(ExportError, match="is a folder"):
        export_model(small_net(), tmp_path, "torchscript", 16)
