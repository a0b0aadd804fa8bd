"""Multi-objective results: Pareto fronts, hypervolume against a reference point, and front files.

Objectives are columns of a (n, m) array, each maximised or minimised as ``maximize`` says (accuracy up, cost
down: ``(True, False)``). Non-dominated sorting and the hypervolume come from moocore (``pip install
'parsecnas[moo]'``), a maintained implementation of both.

Example:
    >>> hypervolume([[1, 3], [2, 2], [3, 1]], reference=[4, 4], maximize=(False, False))  # doctest: +SKIP
    6.0
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .run.atomic import atomic_write_text


def _moocore() -> Any:
    try:
        import moocore
    except ImportError as error:
        raise ImportError("Pareto fronts and hypervolumes need moocore: pip install 'parsecnas[moo]'") from error
    return moocore


def _points(points: Any, maximize: Sequence[bool]) -> np.ndarray:
    array = np.asarray(points, dtype=float).reshape(-1, len(maximize))
    if not np.isfinite(array).all():
        raise ValueError("objective values must be finite")
    return array


def pareto_mask(points: Any, maximize: Sequence[bool] = (True, False)) -> np.ndarray:
    """Bool mask of the non-dominated rows (ties: every copy of a non-dominated point is kept)."""
    array = _points(points, maximize)
    if len(array) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(_moocore().is_nondominated(array, maximise=list(maximize), keep_weakly=True))


def pareto_front(points: Any, maximize: Sequence[bool] = (True, False)) -> np.ndarray:
    """The distinct non-dominated points, sorted by the first objective."""
    array = _points(points, maximize)
    front = np.unique(array[pareto_mask(array, maximize)], axis=0)
    return front[np.argsort(front[:, 0], kind="stable")]


def hypervolume(points: Any, reference: Sequence[float], maximize: Sequence[bool] = (True, False)) -> float:
    """The volume dominated by ``points`` and bounded by ``reference`` (points beyond it count for nothing)."""
    array = _points(points, maximize)
    ref = np.asarray(reference, dtype=float)
    sign = np.where(np.asarray(maximize), 1.0, -1.0)
    inside = array[((array - ref) * sign > 0).all(axis=1)] if len(array) else array
    if len(inside) == 0:
        return 0.0
    return float(_moocore().hypervolume(inside, ref=ref, maximise=list(maximize)))


def write_front(path: str | Path, archs: Sequence[str], points: Any, names: Sequence[str],
                maximize: Sequence[bool] = (True, False)) -> Path:
    """Writes the non-dominated architectures (string forms) and their objectives as JSON, best first."""
    array = _points(points, maximize)
    mask = pareto_mask(array, maximize)
    rows = sorted(((str(a), [float(v) for v in p]) for a, p, keep in zip(archs, array, mask) if keep),
                  key=lambda row: -row[1][0] if maximize[0] else row[1][0])
    records = [{"arch": a, **dict(zip(names, values))} for a, values in rows]
    data = {"objectives": list(names), "maximize": list(maximize), "front": records}
    return atomic_write_text(path, json.dumps(data, indent=1) + "\n")
