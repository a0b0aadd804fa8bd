"""Stopping a run whose numbers stop being numbers, before it saves them.

A loss of NaN or infinity means the weights are (or are about to be) garbage; training on would end with a
"finished" run whose model is NaN. The loops check each step's loss and, before every checkpoint, every float
tensor the checkpoint holds; the first non-finite value stops the run with :class:`DivergedError`, and the last
checkpoint written (all finite, from the end of an earlier epoch) stays the one to resume from.

Example:
    >>> check_step_losses({"loss": 0.7, "grad_norm": 1.2}, "/tmp/run", epoch=1, step=3, last_good=0)
    >>> check_step_losses({"loss": float("nan")}, "/tmp/run", epoch=1, step=3, last_good=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    parsecnas.run.divergence.DivergedError: loss became nan at epoch 1, step 3: the run diverged and stopped. ...
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["DivergedError", "check_finite_checkpoint", "check_step_losses", "non_finite_tensors"]

_WATCHED = ("grad_norm",)
"""Step statistics checked besides every ``*loss`` key."""


class DivergedError(RuntimeError):
    """A loss or a tensor became NaN or infinite; the message says where and how to resume."""


def check_step_losses(stats: Mapping[str, Any], run_dir: str | Path, *, epoch: int, step: int,
                      last_good: int) -> None:
    """Raises :class:`DivergedError` when a ``*loss`` value or ``grad_norm`` of one step is not finite.

    Args:
        stats: the step's statistics.
        run_dir: the run directory, for the message.
        epoch: the epoch being run (1-based, as logged).
        step: the step within it (1-based).
        last_good: the epoch of the last checkpoint written (0: none yet).
    """
    for key, value in stats.items():
        watched = key.endswith("loss") or key in _WATCHED
        if watched and isinstance(value, (int, float)) and not math.isfinite(value):
            raise DivergedError(f"{key} became {value} at epoch {epoch}, step {step}: the run diverged and "
                                f"stopped. {_resume_hint(run_dir, last_good)}")


def check_finite_checkpoint(state: Mapping[str, Any], run_dir: str | Path, *, epoch: int,
                            last_good: int) -> None:
    """Raises :class:`DivergedError` when a float tensor of ``state`` (weights, optimiser or belief state) holds
    NaN or infinity, so that such a checkpoint is never written."""
    bad = list(non_finite_tensors(state))
    if bad:
        shown = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "")
        raise DivergedError(f"after epoch {epoch}, {len(bad)} tensor(s) of the run's state hold NaN or inf "
                            f"({shown}): the run diverged and stopped without saving them. "
                            f"{_resume_hint(run_dir, last_good)}")


def non_finite_tensors(state: Any, where: str = "") -> Iterator[str]:
    """The dotted names of the floating-point tensors in a nested state that hold NaN or infinity."""
    if isinstance(state, torch.Tensor):
        if state.is_floating_point() and not bool(torch.isfinite(state).all()):
            yield where or "tensor"
    elif isinstance(state, Mapping):
        for key, value in state.items():
            yield from non_finite_tensors(value, f"{where}.{key}" if where else str(key))
    elif isinstance(state, (list, tuple)):
        for i, value in enumerate(state):
            yield from non_finite_tensors(value, f"{where}[{i}]")


def _resume_hint(run_dir: str | Path, last_good: int) -> str:
    if last_good <= 0:
        return (f"No checkpoint was written yet, so nothing of {run_dir} is worth resuming; start again in a new "
                f"run directory with a smaller lr (or grad_clip)")
    return (f"The last good checkpoint (epoch {last_good}) is kept in {Path(run_dir) / 'checkpoint.pt'}: the same "
            f"command with --resume continues from it (and repeats the same steps); to get past the divergence, "
            f"start a new run directory with a smaller lr (or grad_clip)")
