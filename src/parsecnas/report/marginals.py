"""Op marginals over a search: how much probability a distribution puts on each op, epoch by epoch.

A drift toward parameter-free ops (``none``, ``skip_connect``, pools), the failure of weight-sharing searches,
is visible at a glance.

Example:
    >>> history = [{"none": 0.2, "nor_conv_3x3": 0.2 + 0.05 * e} for e in range(5)]
    >>> plot_op_marginals(history, "/tmp/parsecnas_doc_marginals.png")  # doctest: +SKIP
    PosixPath('/tmp/parsecnas_doc_marginals.png')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from parsecnas.report._mpl import check_format, new_figure, save_figure, tidy_axes

__all__ = ["plot_op_marginals"]


def plot_op_marginals(history: Sequence[Mapping[str, float]], path: str | Path, *,
                      title: str = "op marginals per epoch") -> Path:
    """One line per op: its probability averaged over decisions, against the epoch; writes ``path``.

    Integer epoch ticks; the legend right of the axes, where it covers no curve.

    Args:
        history: per epoch, ``{op: marginal probability}`` (``Parsec.history``).
        path: output file (``.png``, ``.pdf`` or ``.svg``).
        title: the figure's title.

    Raises:
        ValueError: if ``history`` is empty.
    """
    path = check_format(path)
    if not history:
        raise ValueError("no op marginals recorded yet: PARSEC records them at the end of each epoch")
    ops = sorted({op for epoch in history for op in epoch})
    fig = new_figure(6.8, 3.6, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    xs = list(range(1, len(history) + 1))
    for op in ops:
        ax.plot(xs, [epoch.get(op, 0.0) for epoch in history], "-o", markersize=3, label=op)
    ax.set_xlabel("epoch")
    ax.set_ylabel("probability (mean over decisions)")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    tidy_axes(ax, integer_x=True)
    fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    fig.suptitle(title)
    return save_figure(fig, path)
