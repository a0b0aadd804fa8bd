"""An append-only JSON-lines metrics log that a resumed run can cut back to its checkpoint.

Each record is one line of JSON, flushed and fsynced as it is written. The convention that makes resuming
exact: log an epoch's record *before* saving the checkpoint of that epoch, and store the epoch in the
checkpoint. A run resumed from the checkpoint of epoch ``e`` then calls ``truncate(after=e)``, which drops any
record written for a later epoch before the interruption; rerunning those epochs writes them again, so the log
ends exactly as an uninterrupted run's would.

Example:
    >>> import tempfile, pathlib
    >>> log = MetricsLog(pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl")
    >>> for epoch in range(3):
    ...     log.append({"epoch": epoch, "loss": 1.0 / (epoch + 1)})
    >>> log.truncate(after=0)
    2
    >>> log.read()
    [{'epoch': 0, 'loss': 1.0}]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from parsecnas.run.atomic import atomic_write_text

__all__ = ["MetricsError", "MetricsLog"]


class MetricsError(ValueError):
    """A metrics record cannot be written, or the log holds a damaged line; the message says which."""


class MetricsLog:
    """Records in a JSON-lines file; the constructor only stores the path.

    Args:
        path: The ``.jsonl`` file; it and its directory are created on the first append.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"MetricsLog({str(self.path)!r})"

    def append(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` as one line and fsync it.

        Values must be JSON-serialisable; NumPy scalars and 0-d/1-d tensors are converted with ``.item()`` /
        ``.tolist()``. Non-finite floats are written as ``NaN``/``Infinity``, which Python's json reads back.
        """
        if not isinstance(record, Mapping):
            raise MetricsError(f"a metrics record must be a mapping, got {type(record).__name__}")
        try:
            line = json.dumps(dict(record), default=_to_json) + "\n"
        except (TypeError, ValueError) as exc:
            raise MetricsError(f"cannot write metrics record {dict(record)!r}: {exc}") from exc
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            _drop_partial_last_line(f)
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[dict[str, Any]]:
        """All records in order; ``[]`` if the file does not exist.

        A record counts once its newline is written: a last line without one (an append cut short by a
        crash) is ignored. Any other damaged line raises MetricsError naming the file and line number.
        """
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        lines = text.split("\n")
        lines.pop()  # "" after the final newline, or an interrupted append that the next write removes
        return [self._parse(line, number) for number, line in enumerate(lines, start=1) if line.strip()]

    def truncate(self, after: float, key: str = "epoch") -> int:
        """Drop the records whose ``key`` is greater than ``after``; records without ``key`` stay.

        Use ``after=-math.inf`` to drop every keyed record (a run resumed before its first checkpoint).

        Returns:
            How many records were dropped.
        """
        if not self.path.exists():
            return 0
        records = self.read()
        kept = []
        for record in records:
            value = record.get(key)
            if value is not None and not isinstance(value, (int, float)):
                raise MetricsError(f"{self.path}: record {record!r} has non-numeric {key!r}; cannot truncate")
            if value is None or value <= after:
                kept.append(record)
        text = "".join(json.dumps(record) + "\n" for record in kept)
        if text != self.path.read_text(encoding="utf-8"):
            atomic_write_text(self.path, text)
        return len(records) - len(kept)

    def _parse(self, line: str, number: int) -> dict[str, Any]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MetricsError(f"{self.path}:{number}: not a JSON record ({exc.msg}): {line[:80]!r}") from exc
        if not isinstance(record, dict):
            raise MetricsError(f"{self.path}:{number}: expected a JSON object, got {line[:80]!r}")
        return record


def _to_json(value: Any) -> Any:
    """``json.dumps`` fallback for NumPy scalars/arrays and tensors."""
    if hasattr(value, "ndim") and hasattr(value, "tolist"):
        return value.item() if value.ndim == 0 else value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON-serialisable")


def _drop_partial_last_line(f: Any) -> None:
    """Cut an unterminated last line (a crashed append) so the next record starts on a line of its own."""
    end = f.seek(0, os.SEEK_END)
    if end == 0:
        return
    f.seek(end - 1)
    if f.read(1) == b"\n":
        return
    f.seek(0)
    data = f.read()
    f.truncate(data.rfind(b"\n") + 1)
    f.seek(0, os.SEEK_END)
