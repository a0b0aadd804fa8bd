"""The CLI fuzz table: a workspace of bad inputs, the cases that use them, and how one case is judged.

Every case runs ``parsecnas.cli.main(argv)`` in-process with the workspace as the working folder, and must end
*clean*: exit code 2, exactly one line on stderr that names the bad value or key, no traceback, and every file
of the workspace (finished runs, the inputs themselves) unchanged, nothing created. The table is shared by
``tests/test_fuzz_cli.py`` (one test per case) and ``benchmarks/fuzz_cli_table.py`` (the counts per category).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import signal
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from _fuzz_cases import config_cases
from _fuzz_inputs import input_cases

from parsecnas.cli import main

OUTCOMES = ("clean", "traceback", "hang", "silent acceptance", "data loss", "unclear message")


@dataclass(frozen=True)
class Case:
    """One bad input: ``argv`` of ``parsecnas`` (paths relative to the workspace) and a fragment that the one
    line on stderr must hold (the bad value or key)."""

    category: str  # what kind of input is bad
    name: str
    argv: tuple[str, ...]
    names: str
    needs_data: bool = False


class _Hang(Exception):
    pass


def all_cases() -> list[Case]:
    cases = [Case(*c) for c in (*config_cases(), *input_cases())]
    names = [f"{c.category}/{c.name}" for c in cases]
    duplicated = {n for n in names if names.count(n) > 1}
    assert not duplicated, duplicated
    return cases


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: a file's SHA-256, else its kind (a FIFO is never opened)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            if stat.S_ISREG(mode):
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[str(path.relative_to(root))] = "dir" if stat.S_ISDIR(mode) else oct(stat.S_IFMT(mode))
    return out


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def alarm(signum, frame):
        raise _Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _no_gpu() -> Iterator[None]:
    """The cases that ask for CUDA find none, on any machine."""
    import torch

    with mock.patch.object(torch.cuda, "is_available", lambda: False), \
            mock.patch.object(torch.cuda, "device_count", lambda: 0):
        yield


def run_case(case: Case, workspace: Path, timeout: float = 10.0) -> tuple[str, str]:
    """(outcome, detail) of one case: one of :data:`OUTCOMES` (or ``skipped``: it needs the offline data, which
    ``$PARSECNAS_DATA`` does not name), and what was seen."""
    if case.needs_data and not os.environ.get("PARSECNAS_DATA"):
        return "skipped", "needs the offline data ($PARSECNAS_DATA)"
    before = snapshot(workspace)
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    code: object
    os.chdir(workspace)
    try:
        with _deadline(timeout), _no_gpu(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(case.argv))
    except SystemExit as stop:
        code = stop.code
    except _Hang as hang:
        return "hang", str(hang)
    except BaseException as exc:  # noqa: BLE001 - what escapes main is what the table counts
        return "traceback", f"{type(exc).__name__}: {exc}"[:300]
    finally:
        os.chdir(here)
    after = snapshot(workspace)
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        _restore(workspace, before, after)
        return "data loss", f"changed: {changed[:5]}"
    text = err.getvalue().strip()
    if "Traceback" in text:
        return "traceback", text[-300:]
    if code == 0:
        return "silent acceptance", out.getvalue().strip()[-200:]
    lines = text.splitlines()
    if code != 2 or len(lines) != 1 or case.names not in text:
        return "unclear message", f"exit {code}: {text[:400]}"
    return "clean", text


def _restore(workspace: Path, before: dict[str, str], after: dict[str, str]) -> None:
    """Removes what a case created (what it changed is reported; the next cases see it as it is now)."""
    for name in sorted(set(after) - set(before), key=len, reverse=True):
        path = workspace / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
