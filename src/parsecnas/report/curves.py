"""Search curves: how the architecture distribution evolves over a search (PARSEC paper, Figure 3 style).

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

from parsecnas.report._mpl import check_format, new_figure, save_figure

__all__ = ["plot_search_curves"]

_COLORS = ("#1f77b4", "#d62728")
_STYLES = ("-o", "--s")


def plot_search_curves(metrics: Sequence[Mapping[str, Any]], path: str | Path,
                       keys: Sequence[str] = ("mode_accuracy", "entropy"), x: str = "epoch",
                       *, title: str | None = None) -> Path:
    """Plot one or two metrics against ``x``; with two, the second gets its own y-axis on the right.

    Records that lack ``x`` or a key (e.g. per-step records in the same log) are skipped for that curve, and
    points are drawn in order of ``x``.

    Args:
        metrics: Records as logged by a run (``Run.metrics()``).
        path: Output file; ``.png``, ``.pdf`` or ``.svg`` picks the format.
        keys: The metric(s) to plot: by default the mode architecture's accuracy and the entropy of the
            architecture distribution.
        x: The record field on the horizontal axis.
        title: Optional figure title.

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
    fig = new_figure(6.0, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    axes = [ax, ax.twinx()] if len(keys) == 2 else [ax]
    handles = []
    for i, (axis, key) in enumerate(zip(axes, keys, strict=True)):
        color, style = _COLORS[i], _STYLES[i]
        xs, ys = series[key]
        (line,) = axis.plot(xs, ys, style, color=color, markersize=3.5, lw=1.5, label=_pretty(key))
        axis.set_ylabel(_pretty(key), color=color)
        axis.tick_params(axis="y", colors=color)
        handles.append(line)
    ax.set_xlabel(_pretty(x))
    ax.grid(True, alpha=0.3)
    # Above the axes: "best" placement cannot see the twin axis, so it would cover a curve.
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles),
              frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
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
