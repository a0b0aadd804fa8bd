"""Curves of a run's metrics: how the architecture distribution evolves over a search (PARSEC paper, Figure 3
style), a training's loss and accuracy, a black-box search's incumbent; and one metric over several runs.

Example:
    >>> metrics = [{"epoch": e, "mode_accuracy": 0.5 + 0.04 * e, "entropy": 20.0 / (e + 1)}
    ...            for e in range(10)]
    >>> plot_search_curves(metrics, "/tmp/parsecnas_doc_curves.png")  # doctest: +SKIP
    PosixPath('/tmp/parsecnas_doc_curves.png')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from parsecnas.report._mpl import check_format, new_figure, save_figure, tidy_axes

__all__ = ["plot_comparison", "plot_search_curves"]

_COLORS = ("#1f77b4", "#d62728")
_STYLES = ("-o", "--s")
_COUNTERS = ("epoch", "trial", "step")


def plot_search_curves(metrics: Sequence[Mapping[str, Any]], path: str | Path,
                       keys: Sequence[str] = ("mode_accuracy", "entropy"), x: str = "epoch",
                       *, title: str | None = None) -> Path:
    """Plot one or two metrics against ``x``; with two, the second gets its own y-axis on the right.

    Records that lack ``x`` or a key (e.g. per-step records in the same log) are skipped for that curve, and
    points are drawn in order of ``x``. Counters on the x-axis (epochs, trials) get integer ticks; tick labels
    carry no offset text; the legend sits under the axes, the title above.

    Args:
        metrics: Records as logged by a run (``Run.metrics()``).
        path: Output file; ``.png``, ``.pdf`` or ``.svg`` picks the format.
        keys: The metric(s) to plot: by default the mode architecture's accuracy and the entropy of the
            architecture distribution.
        x: The record field on the horizontal axis.
        title: The figure's title; by default the metrics' names.

    Returns:
        The path written.

    Raises:
        ValueError: If ``keys`` does not name one or two metrics, or no record holds both ``x`` and a key
            (the message lists the fields the records do have).
        ImportError: If matplotlib (the ``plot`` extra) is missing.
    """
    path = check_format(path)
    keys = tuple(keys)
    if not 1 <= len(keys) <= 2:
        raise ValueError(f"plot_search_curves draws one or two metrics (one per y-axis), "
                         f"got {len(keys)}: {keys}")
    series = {key: _series(metrics, x, key) for key in keys}
    fig = new_figure(6.0, 3.6, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    axes = [ax, ax.twinx()] if len(keys) == 2 else [ax]
    handles = []
    for i, (axis, key) in enumerate(zip(axes, keys, strict=True)):
        color, style = _COLORS[i], _STYLES[i]
        xs, ys = series[key]
        (line,) = axis.plot(xs, ys, style, color=color, markersize=3.5, lw=1.5, label=_pretty(key))
        axis.set_ylabel(_pretty(key), color=color)
        axis.tick_params(axis="y", colors=color)
        tidy_axes(axis, x in _COUNTERS)
        handles.append(line)
    ax.set_xlabel(_pretty(x))
    ax.grid(True, alpha=0.3)
    # Outside the axes: "best" placement cannot see the twin axis, so it would cover a curve.
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    fig.suptitle(title or " and ".join(_pretty(k) for k in keys))
    return save_figure(fig, path)


def plot_comparison(runs: Mapping[str, Sequence[Mapping[str, Any]]], key: str, path: str | Path,
                    x: str = "epoch", *, title: str | None = None) -> Path:
    """One metric of several runs against ``x``, one line per run (named by the mapping's keys).

    Runs whose records lack ``key`` are left out; at least one must have it.

    Raises:
        ValueError: If no run logged ``key`` against ``x``.
        ImportError: If matplotlib (the ``plot`` extra) is missing.
    """
    path = check_format(path)
    found = {name: _series(metrics, x, key) for name, metrics in runs.items()
             if any(r.get(x) is not None and r.get(key) is not None for r in metrics)}
    if not found:
        raise ValueError(f"none of the runs {', '.join(runs) or '(none)'} logged {key!r} against {x!r}")
    fig = new_figure(6.4, 3.8, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for name, (xs, ys) in found.items():
        ax.plot(xs, ys, "-o", markersize=3, lw=1.4, label=name)
    ax.set_xlabel(_pretty(x))
    ax.set_ylabel(_pretty(key))
    ax.grid(True, alpha=0.3)
    tidy_axes(ax, x in _COUNTERS)
    fig.legend(loc="outside lower center", ncol=min(len(found), 3), frameon=False, fontsize=8)
    fig.suptitle(title or f"{_pretty(key)} per {_pretty(x)}")
    return save_figure(fig, path)


def _series(metrics: Sequence[Mapping[str, Any]], x: str, key: str) -> tuple[list[float], list[float]]:
    points = sorted(((float(r[x]), float(r[key])) for r in metrics
                     if r.get(x) is not None and r.get(key) is not None), key=lambda point: point[0])
    if not points:
        fields = sorted({field for record in metrics for field in record})
        raise ValueError(f"no metrics record has both {x!r} and {key!r}; "
                         f"fields present: {', '.join(fields) or 'none (no records)'}")
    return [p[0] for p in points], [p[1] for p in points]


def _pretty(name: str) -> str:
    return name.replace("_", " ")
