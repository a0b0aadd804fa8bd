"""Runs a function on N gloo ranks, each a fresh process (torch.multiprocessing), for the distributed tests.

``run_ranks(fn, 2, tmp_path, *args)`` calls ``fn(Distributed(rank, 2), *args)`` in two processes joined by a
``file://`` rendezvous in ``tmp_path``; ``fn`` must be a module-level function (the children import it) and
reports back through files. A rank that raises fails the call. ``forbid_writes_under(run_dir)`` in a rank makes
any write it attempts there an error: how the tests check that only rank 0 writes a run directory.
``kill_torchrun_after_checkpoint(args, run_dir)`` launches ``torchrun --nproc-per-node 2 -m parsecnas ARGS`` and
kills it, ranks included, once the run's first checkpoint exists.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp

from parsecnas.run.distributed import Distributed
from parsecnas.run.lock import RunLock, RunLockError

_calls = itertools.count()


def run_ranks(fn: Callable[..., None], world_size: int, workdir: Path, *args: Any) -> None:
    rendezvous = (Path(workdir) / f"rendezvous-{next(_calls)}").resolve().as_uri()
    mp.start_processes(_rank_main, args=(fn, world_size, rendezvous, args), nprocs=world_size, join=True,
                       start_method="spawn")


def _rank_main(rank: int, fn: Callable[..., None], world_size: int, rendezvous: str, args: tuple[Any, ...]) -> None:
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=world_size)
    try:
        fn(Distributed(rank, world_size), *args)
    finally:
        tdist.destroy_process_group()


def forbid_writes_under(folder: Path) -> None:
    """From now on in this process, any attempt to create, write, rename or remove a file under ``folder`` raises
    (an audit hook: it sees every ``open`` and ``os`` call, whoever makes it). For ranks that must only read."""
    root = str(Path(folder).resolve())
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def inside(path: object) -> bool:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return False
        full = os.path.abspath(os.fsdecode(path))
        return full == root or full.startswith(root + os.sep)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and inside(args[0]):
            mode, flags = args[1], args[2]
            if (mode is not None and any(c in mode for c in "wax+")) or (mode is None and flags & writes):
                raise PermissionError(f"this rank wrote {args[0]}")
        elif event in ("os.rename", "os.replace", "os.remove", "os.rmdir", "os.mkdir", "os.truncate",
                       "shutil.rmtree") and inside(args[0]):
            raise PermissionError(f"this rank changed {args[0]} ({event})")

    sys.addaudithook(hook)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc): torchrun starts each rank in a session of its own, so a kill of
    torchrun's process group would leave the ranks running."""
    try:
        children = [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except FileNotFoundError:
        return []
    return children + [d for c in children for d in _descendants(c)]


def kill_torchrun_after_checkpoint(args: list[str], run_dir: Path) -> None:
    """``torchrun --nproc-per-node 2 -m parsecnas ARGS``, killed (SIGKILL, torchrun and every rank) once
    ``run_dir/checkpoint.pt`` is written; returns once the ranks are gone (the run's lock is free)."""
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
              "-m", "parsecnas", *args]
    proc = subprocess.Popen(launch, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})

    def kill_all() -> None:
        for pid in [*_descendants(proc.pid), proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoint.pt").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            kill_all()
            pytest.fail(f"torchrun ended before its first checkpoint: {proc.communicate()[0].decode()[-2000:]}")
        time.sleep(0.02)
    kill_all()
    proc.wait()
    deadline = time.monotonic() + 60
    while True:  # a killed rank holds the lock until the kernel has closed its files
        try:
            RunLock(run_dir).acquire().release()
            return
        except RunLockError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
