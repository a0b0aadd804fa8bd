"""Checkpoints that are written atomically and loaded without unpickling arbitrary objects.

A checkpoint is a dict of tensors and plain Python values: ``dict``, ``list``, ``tuple``, ``set``, ``str``,
``bytes``, ``int``, ``float``, ``complex``, ``bool``, ``None``, ``torch.dtype`` and ``torch.device``, nested
freely. ``module.state_dict()``, ``optimizer.state_dict()`` and ``torch.Generator.get_state()`` all qualify;
NumPy arrays, enums and custom objects do not (convert them with ``torch.as_tensor``, ``.value`` or their own
``state_dict``). :func:`save_checkpoint` checks this before writing, because :func:`load_checkpoint` reads
with ``torch.load(weights_only=True)``, which refuses anything else: loading a checkpoint must never run code
hidden in a pickle.

Example:
    >>> import tempfile, pathlib, torch
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "checkpoint.pt"
    >>> _ = save_checkpoint({"epoch": 3, "weights": torch.zeros(2)}, path)
    >>> load_checkpoint(path)["epoch"]
    3
"""

from __future__ import annotations

import collections
import math
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from parsecnas._text import short_repr
from parsecnas.run.atomic import atomic_write

__all__ = ["CheckpointError", "check_checkpoint_state", "check_resume_state", "load_checkpoint", "load_parts",
           "save_checkpoint"]

_LEAF_TYPES = (type(None), bool, int, float, complex, str, bytes, torch.dtype, torch.device)
_MAPPING_TYPES = (dict, collections.OrderedDict)
_SEQUENCE_TYPES = (list, tuple, set, frozenset, torch.Size)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written or read; the message names the file or the offending entry."""


def check_checkpoint_state(state: Any, where: str = "state") -> None:
    """Raise CheckpointError naming the first entry that ``torch.load(weights_only=True)`` would refuse."""
    kind = type(state)
    if kind in _LEAF_TYPES or isinstance(state, torch.Tensor):
        return
    if kind in _MAPPING_TYPES:
        for key, value in state.items():
            check_checkpoint_state(key, f"{where} key {key!r}")
            check_checkpoint_state(value, f"{where}[{key!r}]")
        return
    if kind in _SEQUENCE_TYPES:
        for i, value in enumerate(state):
            check_checkpoint_state(value, f"{where}[{i}]")
        return
    raise CheckpointError(
        f"{where} is a {kind.__module__}.{kind.__qualname__}, which a weights_only checkpoint cannot hold; "
        f"use tensors, dict/list/tuple/set, str, bytes, int, float, bool, None, torch.dtype or torch.device "
        f"(e.g. torch.as_tensor(array), enum.value, obj.state_dict())"
    )


def save_checkpoint(state: Mapping[str, Any], path: str | Path) -> Path:
    """Check ``state`` and write it to ``path`` atomically: a crash mid-write keeps the previous file.

    Args:
        state: A dict of tensors and plain values (see the module docstring).
        path: Target file; its directory is created if missing.

    Returns:
        The path written.

    Raises:
        CheckpointError: If ``state`` holds a value that could not be loaded back safely.
    """
    if type(state) not in _MAPPING_TYPES:
        raise CheckpointError(f"a checkpoint must be a dict, got {type(state).__name__}")
    check_checkpoint_state(state)
    return atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """Load a checkpoint written by :func:`save_checkpoint`, or return None if ``path`` does not exist.

    Args:
        path: The checkpoint file.
        map_location: Where tensors are placed; CPU by default so a GPU run resumes on any machine.

    Raises:
        CheckpointError: If the file holds pickled objects other than tensors and plain values (they are
            refused, never executed), or is corrupt or truncated.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"refusing to load checkpoint {path}: torch.load(weights_only=True) found something other than "
            f"tensors and plain Python values ({_weights_only_reason(exc)}). parsecnas never unpickles "
            f"arbitrary objects; if the file is corrupt, delete it to restart the run"
        ) from exc
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError, ... for damaged files
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}: {_first_line(exc)}); "
            f"delete it to restart the run, or restore it from a copy"
        ) from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, expected a dict")
    return state


def check_resume_state(state: Mapping[str, Any], path: Path, key: str, *, limit: int | None = None,
                       required: Sequence[str] = (), numbers: Sequence[str] = ()) -> int:
    """Validates a loaded checkpoint as strictly as a config, and returns its progress counter ``state[key]``.

    Args:
        state: the loaded checkpoint.
        path: its file, for the messages.
        key: the progress counter (e.g. ``epoch``): an integer >= 0, and <= ``limit`` when given.
        required: entries that must be present.
        numbers: entries that must be finite numbers >= 0 (e.g. ``elapsed`` seconds).

    Raises:
        CheckpointError: naming the missing or out-of-range entry and what is valid.
    """
    missing = [k for k in (key, *required, *numbers) if k not in state]
    if missing:
        raise CheckpointError(f"checkpoint {path} has no {', '.join(map(repr, missing))} entry to resume from; "
                              f"its keys: {', '.join(map(str, state))}")
    step = state[key]
    if isinstance(step, torch.Tensor) and step.numel() == 1 and not step.is_floating_point():
        step = step.item()
    top = "" if limit is None else f" .. {limit}"
    if type(step) is not int or step < 0 or (limit is not None and step > limit):
        raise CheckpointError(f"checkpoint {path}: {key} {short_repr(step)} is out of range; valid: an integer "
                              f"0{top if limit is not None else ' or more'}. The file is damaged or not this "
                              f"run's; delete it to restart the run")
    for name in numbers:
        value = state[name]
        if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
            raise CheckpointError(f"checkpoint {path}: {name} {short_repr(value)} is not a finite number >= 0; the "
                                  f"file is damaged or not this run's")
    return step


def load_parts(state: Mapping[str, Any], path: Path, parts: Mapping[str, Callable[[Any], object]]) -> None:
    """Loads each entry of ``state`` into its part (``{"net": net.load_state_dict, ...}``); a part that does not
    fit (missing keys, wrong shapes, a different loader) is a CheckpointError naming the entry."""
    for name, load in parts.items():
        try:
            load(state[name])
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
            raise CheckpointError(f"checkpoint {path}: its {name!r} entry does not fit this run "
                                  f"({type(exc).__name__}: {_first_line(exc)[:200]}); resume with the "
                                  f"config that wrote it, or delete the checkpoint to restart") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no details"


def _weights_only_reason(exc: BaseException) -> str:
    """The informative line of torch's long weights-only message (e.g. 'Unsupported global: ...')."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        reason = text.split("WeightsUnpickler error:", 1)[1]
        reason = reason.split("Check the documentation", 1)[0].split(". Please use", 1)[0]
        if reason.strip():
            return " ".join(reason.split())
    return _first_line(exc)
