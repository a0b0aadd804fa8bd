"""Atomic file writes: a reader (or a resumed run) sees the old file or the new one, never half of one.

The new content goes to a temporary file in the same directory, is flushed and fsynced, and then
``os.replace``s the target, which is atomic on POSIX and Windows. A crash mid-write leaves the previous file
intact (and at worst a stray ``.<name>.<random>.tmp`` file, which :func:`remove_stale_temp_files` clears).

Example:
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "genotype.json"
    >>> atomic_write_text(target, '{"normal": []}').read_text()
    '{"normal": []}'
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "remove_stale_temp_files"]

_TMP_SUFFIX = ".tmp"
_TMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Atomically replace ``path`` with what ``write`` writes into the binary file object it is given.

    Missing parent directories are created. If ``write`` raises, the target is untouched, the temporary
    file is removed and the exception propagates.

    Returns:
        The target path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{_TMP_SUFFIX}")
    # os.open with mode 0o666 lets the umask decide permissions, as for an ordinary new file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``; returns the path."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomically replace ``path`` with ``text`` encoded as UTF-8; returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temp_files(directory: str | Path) -> list[Path]:
    """Delete temporary files that crashed atomic writes left in ``directory``; returns what was removed."""
    removed = []
    for tmp in sorted(Path(directory).glob(f".*{_TMP_SUFFIX}")):
        if _TMP_NAME.match(tmp.name) and tmp.is_file():
            tmp.unlink()
            removed.append(tmp)
    return removed


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself; not every platform can open a directory, which is then skipped."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
