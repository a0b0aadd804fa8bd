"""An exclusive lock on a run directory, so two processes never write one run.

The lock is an OS file lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on ``<run_dir>/.lock``, held
from before the run writes anything until it ends. The file records the holder (pid, host, start time) so a
refused process can say who holds the run. The OS drops the lock when its holder dies, however it dies
(``kill -9`` included), so a stale lock cannot block a run: the next process takes the lock over and reports
the dead holder it found in the file. The file of a run is never deleted (deleting a locked file lets a third
process lock a fresh one beside the second); a clean release empties it. Only a directory that the lock itself
created, for a run that then wrote nothing there (it failed before starting), is removed again on release.

Example:
    >>> import tempfile
    >>> with RunLock(tempfile.mkdtemp()) as lock:
    ...     lock.holder()["pid"] == os.getpid()
    True
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["LOCK_FILE", "RunLock", "RunLockError"]

LOCK_FILE = ".lock"

_log = logging.getLogger(__name__)


class RunLockError(RuntimeError):
    """Another process holds the run directory; the message names it (pid, host, start time)."""


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class RunLock:
    """The exclusive lock of the run directory ``directory``; the constructor does no I/O.

    Attributes:
        stale_holder: after :meth:`acquire`, the record a dead holder left in the lock file (a run that was
            killed), or None.
    """

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / LOCK_FILE
        self.stale_holder: dict[str, Any] | None = None
        self._fd: int | None = None
        self._created_dir = False

    def __repr__(self) -> str:
        return f"RunLock({str(self.path.parent)!r}, held={self._fd is not None})"

    def acquire(self) -> RunLock:
        """Take the lock (creating the directory and the lock file if needed) without waiting.

        Raises:
            RunLockError: another process holds it (also another ``RunLock`` in this process).
        """
        if self._fd is not None:
            return self
        self._created_dir = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
        if not _try_lock(fd):
            holder = _read(fd)
            os.close(fd)
            raise RunLockError(f"run directory {self.path.parent} is in use by another process ({_describe(holder)}; "
                               f"lock file {self.path}); wait for it to end, or stop it, then retry")
        self.stale_holder = _read(fd) or None
        if self.stale_holder is not None:
            _log.warning("%s: took over the lock of a process that ended without releasing it (%s); its run was "
                         "interrupted", self.path.parent, _describe(self.stale_holder))
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        _write(fd, json.dumps(record).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Empty the lock file and release the lock; a no-op when not held."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _write(fd, b"")
            if self._created_dir and [p.name for p in self.path.parent.iterdir()] == [LOCK_FILE]:
                self.path.unlink()  # while still locked: a later process finds neither file nor folder
                self.path.parent.rmdir()
            _unlock(fd)
        finally:
            os.close(fd)

    def holder(self) -> dict[str, Any] | None:
        """The record of the process that holds (or last held without releasing) the lock, if any."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            return None
        try:
            return _read(fd) or None
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()


def _read(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 4096)
    try:
        record = json.loads(data.decode()) if data.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"unreadable": data[:60].decode(errors="replace")}
    return record if isinstance(record, dict) else {}


def _write(fd: int, data: bytes) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, data)
    os.fsync(fd)


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "holder unknown"
    if "pid" not in holder:
        return f"unreadable lock record {holder.get('unreadable', '')!r}"
    return f"pid {holder['pid']} on host {holder.get('host', '?')}, since {holder.get('started', '?')}"
