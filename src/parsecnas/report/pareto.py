"""Pareto fronts drawn as step lines: found fronts beside the true one (matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._mpl import check_format, new_figure, save_figure


def plot_fronts(fronts: Mapping[str, Any], path: str | Path, true_front: Any = None, points: Any = None,
                xlabel: str = "cost", ylabel: str = "accuracy", title: str = "",
                ylim: tuple[float, float] | None = None, points_label: str = "all architectures") -> Path:
    """Draws each front of ``fronts`` (label -> (n, 2) array of (accuracy, cost)) as a step line in the cost /
    accuracy plane, the true front (bold, dashed) and optionally every point of the space (grey); ``ylim``
    zooms the accuracy axis."""
    path = check_format(path)
    fig = new_figure(6.0, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    if points is not None:
        p = np.asarray(points)
        ax.scatter(p[:, 1], p[:, 0], s=2, c="0.85", label=points_label, rasterized=True)
    if true_front is not None:
        t = np.asarray(true_front)
        t = t[np.argsort(t[:, 1])]
        ax.step(t[:, 1], t[:, 0], where="post", color="k", lw=2, ls="--", label="true front")
    for label, front in fronts.items():
        f = np.asarray(front)
        f = f[np.argsort(f[:, 1])]
        ax.step(f[:, 1], f[:, 0], where="post", marker="o", ms=3, label=label)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
