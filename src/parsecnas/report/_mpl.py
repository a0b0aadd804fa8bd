"""Shared matplotlib plumbing: the optional import and saving a figure by file extension."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from parsecnas.run.atomic import atomic_write_bytes

FORMATS = (".png", ".pdf", ".svg")


def require_matplotlib() -> Any:
    """Import matplotlib, or fail with the command that installs it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("plotting needs matplotlib, an optional extra: "
                          "pip install 'parsecnas[plot]'") from exc
    return matplotlib


def new_figure(width: float, height: float, layout: Any = None) -> Any:
    """A figure with its own Agg canvas: no pyplot, no global backend or figure registry. ``layout``:
    matplotlib's layout engine (``"constrained"`` makes room for titles and legends outside the axes)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=150, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def tidy_axes(ax: Any, integer_x: bool) -> None:
    """Plain tick labels (no offset or exponent text, which lands on a legend above the axes) and, for a
    counter on the x-axis (epochs, trials), integer ticks only."""
    from matplotlib.ticker import MaxNLocator, ScalarFormatter

    for axis in (ax.xaxis, ax.yaxis):
        if isinstance(axis.get_major_formatter(), ScalarFormatter):
            axis.get_major_formatter().set_useOffset(False)
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def check_format(path: str | Path) -> Path:
    """``path`` as a Path, if its extension names a supported format."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"cannot tell the image format of {str(path)!r} from its extension "
                         f"{path.suffix!r}; valid: {', '.join(FORMATS)}")
    return path


def save_figure(fig: Any, path: str | Path) -> Path:
    """Render ``fig`` in the format named by the extension of ``path`` and write it atomically."""
    path = check_format(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lower()[1:])
    return atomic_write_bytes(path, buffer.getvalue())
