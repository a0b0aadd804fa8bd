"""The run-directory lock: one process per run, the holder named, a dead holder's lock taken over."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from parsecnas.run import Run, RunError, RunLock, RunLockError
from parsecnas.run.lock import LOCK_FILE

HOLD = """
import sys
from parsecnas.run import RunLock
with RunLock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()  # hold until the parent closes our stdin
"""


def test_a_second_lock_on_the_same_directory_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with RunLock(tmp_path):
        with pytest.raises(RunLockError, match=f"in use by another process \\(pid {os.getpid()} on host "):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path) as again:  # released: free again
        assert again.holder()["pid"] == os.getpid()
    assert (tmp_path / LOCK_FILE).read_bytes() == b""  # a clean release leaves no holder behind


def test_a_lock_held_by_another_process_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockError) as err:
            RunLock(tmp_path).acquire()
        assert f"pid {child.pid}" in str(err.value) and "\n" not in str(err.value)
    finally:
        child.stdin.close()
        child.wait()
    with RunLock(tmp_path) as lock:
        assert lock.stale_holder is None


def test_the_lock_of_a_killed_process_is_taken_over_and_reported(tmp_path: Path, caplog) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout.readline().strip() == "locked"
    child.kill()  # kill -9: no chance to release
    child.wait()
    child.stdin.close()
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == child.pid
    with caplog.at_level(logging.WARNING), RunLock(tmp_path) as lock:
        assert lock.stale_holder["pid"] == child.pid and lock.holder()["pid"] == os.getpid()
    assert f"pid {child.pid}" in caplog.text and "ended without releasing" in caplog.text


def test_the_lock_is_not_created_in_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="holds no run"):
        Run(tmp_path).lock()
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_new_run_in_a_directory_holding_only_its_lock_is_allowed(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    with run.lock():
        assert run.create({"epochs": 1}) is False
    assert sorted(p.name for p in run.path.iterdir()) == [LOCK_FILE, "config.yaml"]
