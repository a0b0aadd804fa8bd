"""Runs a function on N gloo ranks, each a fresh process (torch.multiprocessing), for the distributed tests.

``run_ranks(fn, 2, tmp_path, *args)`` calls ``fn(Distributed(rank, 2), *args)`` in two processes joined by a
``file://`` rendezvous in ``tmp_path``; ``fn`` must be a module-level function (the children import it) and
reports back through files. A rank that raises fails the call.
"""

from __future__ import annotations

import itertools
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
