"""A thin progress bar over tqdm: epoch, step, loss and entropy as postfix, ETA from tqdm, on stderr.

Disabled bars never create a tqdm object and print nothing, which is what tests and non-interactive jobs want.
The bar itself is created on the first update, so constructing one does no I/O.

Example:
    >>> with ProgressBar(total=4, desc="search", enabled=False) as bar:
    ...     for step in range(4):
    ...         bar.update(epoch=0, step=step, loss=1.0 / (step + 1), entropy=2.3)
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """Progress over ``total`` steps, with the latest metrics shown after the bar.

    Args:
        total: Number of steps for the whole bar (e.g. epochs x steps per epoch), so the ETA covers the whole
            search; None for an open-ended count without ETA.
        desc: Label shown before the bar.
        enabled: False makes every method a no-op.
        initial: Steps already done, e.g. when resuming from a checkpoint.
    """

    def __init__(self, total: int | None = None, *, desc: str = "search", enabled: bool = True,
                 initial: int = 0) -> None:
        if total is not None and total < 0:
            raise ValueError(f"total must be a non-negative number of steps or None, got {total}")
        self.total = total
        self.desc = desc
        self.enabled = enabled
        self.initial = initial
        self._bar: Any = None

    def update(self, n: int = 1, **metrics: float | int | str) -> None:
        """Advance by ``n`` steps and show ``metrics`` (floats to 4 significant digits) after the bar."""
        if not self.enabled:
            return
        bar = self._ensure_bar()
        if metrics:
            bar.set_postfix({k: _format(v) for k, v in metrics.items()}, refresh=False)
        bar.update(n)

    def write(self, message: str) -> None:
        """Print a line above the bar without breaking it (to stderr); silent when disabled."""
        if not self.enabled:
            return
        from tqdm import tqdm

        tqdm.write(message, file=sys.stderr)

    def close(self) -> None:
        """Finish the bar (its last state stays on screen); safe to call twice."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _ensure_bar(self) -> Any:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=self.desc, initial=self.initial, file=sys.stderr,
                             dynamic_ncols=True, unit="step")
        return self._bar


def _format(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
