"""Model files: the safe checkpoint round-trips, TorchScript and ONNX reproduce the network, bad files are refused."""

from __future__ import annotations

import pickle

import pytest
import torch

from parsecnas.export import example_input, export_model, load_model, model_record, save_model
from parsecnas.nets import build_network
from parsecnas.run.checkpoint import CheckpointError


def trained_like(genotype: str = "DARTS_V2", **options):
    torch.manual_seed(0)
    net = build_network(genotype, num_cells=3, channels=8, num_classes=7, **options)
    with torch.no_grad():  # non-trivial BN running statistics, as after training
        net.train()(torch.randn(8, 3, 32, 32))
    return net.eval()


def test_checkpoint_round_trip_gives_the_same_outputs(tmp_path) -> None:
    net = trained_like(auxiliary=True)
    save_model(net, tmp_path / "model.pt", {"test_accuracy": 0.5, "dataset": "cifar10"})
    loaded = load_model(tmp_path)  # a run directory works too
    x = example_input(net, 32, batch=3)
    assert not loaded.training and loaded.genotype == net.genotype and loaded.options == net.options
    torch.testing.assert_close(loaded(x), net(x), rtol=0, atol=0)
    assert model_record(tmp_path / "model.pt") == {"test_accuracy": 0.5, "dataset": "cifar10"}


def test_torchscript_export_reproduces_the_network(tmp_path) -> None:
    net = trained_like()
    info = export_model(net, tmp_path / "m.ts", "torchscript", 32)
    assert info["max_abs_diff"] == 0.0
    scripted = torch.jit.load(str(tmp_path / "m.ts"))
    x = example_input(net, 32, batch=5)  # another batch size than the traced one
    torch.testing.assert_close(scripted(x), net(x))


def test_torch_export_program_reproduces_the_network_at_any_batch_size(tmp_path) -> None:
    net = trained_like()
    assert export_model(net, tmp_path / "m.pt2", "pt2", 32)["max_abs_diff"] < 1e-5
    program = torch.export.load(str(tmp_path / "m.pt2")).module()
    x = example_input(net, 32, batch=7)
    torch.testing.assert_close(program(x), net(x).detach())


def test_onnx_export_reproduces_the_network(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    net = trained_like()
    info = export_model(net, tmp_path / "m.onnx", "onnx", 32)
    assert info["max_abs_diff"] < 1e-4
    import onnxruntime

    x = example_input(net, 32, batch=4)
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {"images": x.numpy()})[0])
    torch.testing.assert_close(got, net(x).detach(), atol=1e-4, rtol=1e-4)


def test_exports_carry_the_preprocessing_and_onnx_is_one_file(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    import onnx

    net, meta = trained_like(), {"preprocess": '{"classes": ["a", "b"]}'}
    export_model(net, tmp_path / "m.onnx", "onnx", 32, metadata=meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # the weights inside
    assert {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props} == meta
    info = export_model(net, tmp_path / "e.onnx", "onnx", 32, external_data=True)
    assert (tmp_path / "e.onnx.data").is_file() and info["max_abs_diff"] < 1e-4
    export_model(net, tmp_path / "m.ts", "torchscript", 32, metadata=meta)
    files = {"preprocess": ""}
    torch.jit.load(str(tmp_path / "m.ts"), _extra_files=files)
    assert files["preprocess"] == meta["preprocess"].encode()


def test_unknown_export_format_is_named(tmp_path) -> None:
    with pytest.raises(ValueError, match="'tflite'.*torchscript, pt2, onnx"):
        export_model(trained_like(), tmp_path / "m", "tflite", 32)


def test_corrupt_and_foreign_files_are_refused_with_a_clear_error(tmp_path) -> None:
    save_model(trained_like(), tmp_path / "model.pt")
    data = (tmp_path / "model.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_model(tmp_path / "truncated.pt")
    torch.save({"epoch": 1, "net": {}}, tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="not a parsecnas model"):
        load_model(tmp_path / "checkpoint.pt")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_objects_are_never_executed(tmp_path) -> None:
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"format": "parsecnas-model", "x": _Payload()}, f)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_model(tmp_path / "evil.pt")


def test_weights_of_another_genotype_are_a_mismatch(tmp_path) -> None:
    save_model(trained_like("DARTS_V2"), tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    state["genotype"] = trained_like("PC_DARTS_cifar").genotype.to_dict()
    torch.save(state, tmp_path / "swapped.pt")
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(tmp_path / "swapped.pt")
