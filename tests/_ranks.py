"""Runs a function on N gloo ranks, each a fresh process (torch.multiprocessing), for the distributed tests.

``run_ranks(fn, 2, tmp_path, *args)`` calls ``fn(Distributed(rank, 2), *args)`` in two processes joined by a
``file://`` rendezvous in ``tmp_path``; ``fn`` must be a module-level function (the children import it) and
reports back through files. A rank that raises fails the call. ``forbid_writes_under(run_dir)`` in a rank makes
any write it attempts there an error: how the tests check that only rank 0 writes a run directory.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as tdist
import torch.multiprocessing as mp

from parsecnas.run.distributed import Distributed

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
