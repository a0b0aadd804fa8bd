"""A trained evaluation network as a file: a safe checkpoint, TorchScript, or ONNX.

The checkpoint (``model.pt``, written by ``parsecnas train``) holds the state dict, the genotype, the network's
constructor options and the training record, and nothing else: :func:`load_model` reads it with
``torch.load(weights_only=True)`` (never unpickling code) and rebuilds the network in one call.

Example:
    >>> from parsecnas.nets import build_network
    >>> net = build_network("DARTS_V2", num_cells=3, channels=8, auxiliary=False)
    >>> save_model(net, "/tmp/parsecnas-doc-model.pt")  # doctest: +SKIP
    >>> load_model("/tmp/parsecnas-doc-model.pt")(torch.randn(1, 3, 32, 32)).shape  # doctest: +SKIP
    torch.Size([1, 10])
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .nets import EvalNetwork
from .run.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .spaces.genotype import Genotype

FORMAT = "parsecnas-model"
VERSION = 1
EXPORT_FORMATS = ("torchscript", "pt2", "onnx")


def save_model(net: EvalNetwork, path: str | Path, record: Mapping[str, Any] | None = None) -> Path:
    """Writes ``net`` (weights, genotype, constructor options) and an optional JSON-like ``record`` atomically."""
    state = {
        "format": FORMAT,
        "version": VERSION,
        "genotype": net.genotype.to_dict(),
        "options": dict(net.options),
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "record": dict(record or {}),
    }
    return save_checkpoint(state, path)


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> EvalNetwork:
    """The network saved by :func:`save_model` (or a train run directory's ``model.pt``), in eval mode.

    Raises:
        FileNotFoundError: the file (or ``<dir>/model.pt``) does not exist.
        CheckpointError: the file is corrupt, is not a parsecnas model, or its weights do not fit its genotype.
    """
    path = model_path(path)
    state = load_checkpoint(path, map_location)
    if state is None:
        raise FileNotFoundError(f"no model file at {path}")
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a parsecnas model file (format {state.get('format')!r}, expected "
                              f"{FORMAT!r}); search and training checkpoints (checkpoint.pt) hold no model to load")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} has model format version {state.get('version')}; this parsecnas reads "
                              f"version {VERSION}")
    try:
        net = EvalNetwork(Genotype.from_dict(state["genotype"]), **state["options"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot rebuild the network from its genotype and options ({exc})") from exc
    try:
        net.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{path}: the weights do not match the network its genotype describes ({first})"
                              ) from exc
    return net.to(map_location).eval()


def model_record(path: str | Path) -> dict[str, Any]:
    """The training record stored beside the weights (test accuracy, dataset, ...)."""
    state = load_checkpoint(model_path(path))
    return dict(state.get("record", {})) if state else {}


def model_path(path: str | Path) -> Path:
    """``path`` itself, or ``path/model.pt`` when ``path`` is a run directory."""
    path = Path(path)
    return path / "model.pt" if path.is_dir() else path


def example_input(net: EvalNetwork, image_size: int, batch: int = 1) -> torch.Tensor:
    """A seeded random input shaped for ``net`` (its channels, ``image_size`` square)."""
    gen = torch.Generator().manual_seed(0)
    channels = int(net.options["in_channels"])
    return torch.randn((batch, channels, image_size, image_size), generator=gen)


def export_model(net: EvalNetwork, path: str | Path, fmt: str, image_size: int) -> dict[str, Any]:
    """Exports ``net`` (eval mode) and checks that the file reproduces the network's outputs.

    Formats: ``torchscript`` (``torch.jit.trace``; deprecated by PyTorch but still the most widely loadable),
    ``pt2`` (a ``torch.export`` program, PyTorch's successor to TorchScript) and ``onnx`` (the ``onnx`` extra).

    The exported model takes any batch size at ``image_size`` (the size is fixed at export).
    Returns ``{"path", "format", "max_abs_diff"}``: the largest difference between the exported model's logits
    and the network's on a seeded batch of 2.

    Raises:
        ValueError: an unknown format.
        ImportError: ONNX export without the ``onnx`` extra (``pip install 'parsecnas[onnx]'``).
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; valid: {', '.join(EXPORT_FORMATS)}")
    net = net.eval()
    x = example_input(net, image_size, batch=2)
    with torch.no_grad():
        expected = net(x)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            # shape-dependent branches (odd-sized reductions) are fixed for the traced image size, as intended
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.trace(net, x)
            scripted.save(str(path))
            got = torch.jit.load(str(path))(x)
    elif fmt == "pt2":
        program = torch.export.export(net, (x,), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}})
        torch.export.save(program, str(path))
        with torch.no_grad():
            got = torch.export.load(str(path)).module()(x)
    else:
        got = torch.from_numpy(_onnx_export(net, x, path))
    return {"path": str(path), "format": fmt, "max_abs_diff": float((got - expected).abs().max())}


def _onnx_export(net: EvalNetwork, x: torch.Tensor, path: Path) -> Any:
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise ImportError("ONNX export needs the onnx extra: pip install 'parsecnas[onnx]' "
                          "(onnx, onnxscript, onnxruntime)") from exc
    torch.onnx.export(net, (x,), str(path), input_names=["images"], output_names=["logits"],
                      dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}}, dynamo=True, verbose=False)
    onnx.checker.check_model(onnx.load(str(path)))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"images": x.numpy()})[0]


__all__ = ["EXPORT_FORMATS", "example_input", "export_model", "load_model", "model_path", "model_record",
           "save_model"]
