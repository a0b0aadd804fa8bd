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
from .run.atomic import atomic_path
from .run.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .spaces.genotype import Genotype

FORMAT = "parsecnas-model"
VERSION = 1
EXPORT_FORMATS = ("torchscript", "pt2", "onnx")
EXPORT_SUFFIXES = {"torchscript": ".ts", "pt2": ".pt2", "onnx": ".onnx"}
_RUN_MARKERS = ("config.yaml", "model.pt", "result.json", "summary.json", "ensemble.json", "checkpoint.pt")


class ExportError(ValueError):
    """An export would destroy a file, or the model or its export is not fit to ship; the message says why."""


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
    state = load_checkpoint(path)  # on the CPU: a device this machine lacks is not a corrupt file
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


def export_model(net: EvalNetwork, path: str | Path, fmt: str, image_size: int, *,
                 force: bool = False, metadata: Mapping[str, str] | None = None,
                 external_data: bool = False) -> dict[str, Any]:
    """Exports ``net`` (eval mode) and checks that the file reproduces the network's outputs.

    Formats: ``torchscript`` (``torch.jit.trace``; deprecated by PyTorch but still the most widely loadable),
    ``pt2`` (a ``torch.export`` program, PyTorch's successor to TorchScript) and ``onnx`` (the ``onnx`` extra).

    The exported model takes any batch size at ``image_size`` (the size is fixed at export). ``metadata``
    (e.g. ``{"preprocess": json}``: normalisation, image size, class names) travels inside the file: TorchScript
    extra files, ONNX ``metadata_props``. An ONNX file holds its weights unless ``external_data`` (then beside
    it, as ``<name>.data``, for models over ONNX's 2 GB limit). The file is
    written beside its target, verified there and only then renamed onto ``path`` (fsynced), so a failed or
    interrupted export leaves whatever was at ``path`` before. A run directory's own files (``model.pt``,
    ``result.json``, the checkpoint, config and metrics, ...) are never replaced: inside a run directory only
    ``.ts``, ``.pt2`` and ``.onnx`` files are written. Any other existing file is replaced only with ``force``.

    Returns ``{"path", "format", "max_abs_diff"}``: the largest difference between the exported model's logits
    and the network's on a seeded batch of 2.

    Raises:
        ValueError: an unknown format.
        ExportError: the target is a run's file, exists (without ``force``) or is a folder; the network's
            weights, its outputs or the exported model's outputs are not finite.
        ImportError: ONNX export without the ``onnx`` extra (``pip install 'parsecnas[onnx]'``).
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; valid: {', '.join(EXPORT_FORMATS)}")
    path = Path(path)
    check_export_target(path, force)
    check_finite_weights(net)
    net = net.eval()
    x = example_input(net, image_size, batch=2)
    with torch.no_grad():
        expected = net(x)
    _check_finite_outputs(expected, "the network")
    with atomic_path(path) as tmp:
        got = _export_to(net, x, tmp, fmt, dict(metadata or {}), external_data, path)
        _check_finite_outputs(got, f"the exported {fmt} model")
    return {"path": str(path), "format": fmt, "max_abs_diff": float((got - expected).abs().max())}


def check_export_target(path: Path, force: bool = False) -> None:
    """Raises :class:`ExportError` when writing an export to ``path`` could destroy a result."""
    if path.is_dir():
        raise ExportError(f"export target {path} is a folder; give a file name such as {path / 'model.ts'}")
    folder = path.parent
    if any((folder / marker).is_file() for marker in _RUN_MARKERS) and path.suffix not in EXPORT_SUFFIXES.values():
        raise ExportError(f"refusing to write {path}: {folder} is a run directory and {path.name!r} would be (or "
                          f"replace) one of its own files; inside a run directory exports are "
                          f"{', '.join(EXPORT_SUFFIXES.values())} files (e.g. {folder / 'model.ts'})")
    if path.exists() and not force:
        raise ExportError(f"refusing to overwrite {path}, which exists; pass --force (force=True) to replace it, "
                          f"or choose another --out")


def check_finite_weights(net: torch.nn.Module) -> None:
    """Raises :class:`ExportError` naming the tensors of ``net``'s state dict that hold NaN or infinity."""
    bad = [name for name, t in net.state_dict().items() if t.is_floating_point() and not bool(t.isfinite().all())]
    if bad:
        shown = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "")
        raise ExportError(f"the model's weights are not finite: {len(bad)} of {len(net.state_dict())} tensors "
                          f"hold NaN or inf ({shown}); its training diverged, so there is nothing to export")


def _check_finite_outputs(logits: torch.Tensor, what: str) -> None:
    if not bool(logits.isfinite().all()):
        raise ExportError(f"{what} gives non-finite logits (NaN or inf) on a seeded example batch; "
                          f"refusing to export it")


def _export_to(net: EvalNetwork, x: torch.Tensor, path: Path, fmt: str, metadata: dict[str, str],
               external_data: bool, final: Path) -> torch.Tensor:
    """Writes ``net`` in format ``fmt`` to ``path`` (renamed to ``final`` afterwards) and returns the logits the
    file gives for ``x``."""
    if fmt == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            # shape-dependent branches (odd-sized reductions) are fixed for the traced image size, as intended
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.trace(net, x)
            scripted.save(str(path), _extra_files=metadata)
            return torch.jit.load(str(path))(x)
    if fmt == "pt2":
        program = torch.export.export(net, (x,), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}})
        torch.export.save(program, str(path))
        with torch.no_grad():
            return torch.export.load(str(path)).module()(x)
    return torch.from_numpy(_onnx_export(net, x, path, metadata, external_data, final))


def _onnx_export(net: EvalNetwork, x: torch.Tensor, path: Path, metadata: dict[str, str], external_data: bool,
                 final: Path) -> Any:
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise ImportError("ONNX export needs the onnx extra: pip install 'parsecnas[onnx]' "
                          "(onnx, onnxscript, onnxruntime)") from exc
    program = torch.onnx.export(net, (x,), input_names=["images"], output_names=["logits"],
                                dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}}, dynamo=True,
                                verbose=False)
    assert program is not None
    model = program.model_proto
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    data = final.with_name(final.name + ".data")
    try:
        if external_data:  # the weights beside the file, under the name the file will have
            onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data.name)
        else:
            onnx.save_model(model, str(path))
        onnx.checker.check_model(str(path))
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {"images": x.numpy()})[0]
    except Exception as err:
        if external_data:
            data.unlink(missing_ok=True)
        raise ExportError(f"the ONNX export does not load back in onnxruntime: {str(err).splitlines()[0]}") from err


__all__ = ["EXPORT_FORMATS", "EXPORT_SUFFIXES", "ExportError", "check_export_target", "check_finite_weights",
           "example_input", "export_model", "load_model", "model_path", "model_record",
           "save_model"]
