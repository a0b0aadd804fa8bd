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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_path", "atomic_write", "atomic_write_bytes", "atomic_write_text", "fsync_file", "fsync_path",
           "remove_stale_temp_files"]

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
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that needs a file name (``torch.jit.save``, ONNX).

    When the block ends normally, the file written at the temporary path is fsynced and renamed onto ``path``
    (then the folder is fsynced); when it raises, the temporary file is removed and ``path`` is untouched.
    The block may also read the temporary file back, e.g. to verify it before it replaces anything.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{_TMP_SUFFIX}")
    # os.open with mode 0o666 lets the umask decide permissions, as for an ordinary new file.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_path(path.parent)


def fsync_file(path: str | Path) -> None:
    """Flush ``path``'s content to the disk (before a rename makes it visible under its final name)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flushes a file, or a folder's entries (so a rename into it persists), to the disk; a platform that cannot
    open folders skips them."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
