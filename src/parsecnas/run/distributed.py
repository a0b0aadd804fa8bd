"""Where this process stands among the ranks of a ``torchrun`` job, and the few collectives the loops need.

A :class:`Distributed` value is passed to the loops (search, training) and to the strategies; nothing reads
ranks from globals. Single-process runs get ``Distributed()`` (rank 0 of 1), whose collectives return their
inputs untouched, so the single-process path is the code that runs in every rank, minus the communication.

The rules that keep a run directory whole: only rank 0 (:attr:`Distributed.is_main`) writes anything (config,
metrics, checkpoints, outputs, the lock, the progress bar); the other ranks read the checkpoint to resume. When
rank 0 fails while the others wait on it (a locked directory, a config that differs), the others raise too
(:meth:`Distributed.main_first`, :meth:`Distributed.main_context`) instead of hanging.

Example:
    >>> d = Distributed()                 # what a plain ``python -m parsecnas`` process gets
    >>> d.is_main, d.shard(5)
    (True, range(0, 5))
    >>> d.all_sum(torch.tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as tdist

__all__ = ["Distributed", "RankError", "from_env", "leave"]

T = TypeVar("T")


class RankError(RuntimeError):
    """Rank 0 failed at a step the other ranks were waiting on; the message carries rank 0's error."""


@dataclass(frozen=True)
class Distributed:
    """This process's rank among ``world_size`` (rank 0 of 1 when not distributed).

    Attributes:
        rank: global rank (``RANK``).
        world_size: number of processes (``WORLD_SIZE``).
        local_rank: rank on this machine (``LOCAL_RANK``): the GPU index a rank uses.
        device: where collectives run (``cuda:<local_rank>`` under NCCL, else ``cpu``); tensors are moved
            there and back.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size or self.local_rank < 0:
            raise ValueError(f"need 0 <= rank < world_size and local_rank >= 0; got rank={self.rank}, "
                             f"world_size={self.world_size}, local_rank={self.local_rank}")

    @property
    def active(self) -> bool:
        """Whether there is anyone to talk to (more than one rank)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only rank that writes the run directory and shows progress."""
        return self.rank == 0

    @classmethod
    def current(cls) -> Distributed:
        """The process group already initialised in this process (by :func:`from_env`, torchrun code or a
        test), or rank 0 of 1."""
        if not (tdist.is_available() and tdist.is_initialized()):
            return cls()
        local = int(os.environ.get("LOCAL_RANK", tdist.get_rank()))
        device = f"cuda:{torch.cuda.current_device()}" if tdist.get_backend() == "nccl" else "cpu"
        return cls(tdist.get_rank(), tdist.get_world_size(), local, device)

    def place(self, device: torch.device) -> torch.device:
        """``device`` for this rank: a bare ``cuda`` becomes the GPU of its ``local_rank`` when distributed."""
        if self.active and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device

    def shard(self, n: int) -> range:
        """This rank's contiguous share of ``n`` items (sizes differ by at most one; early ranks get more)."""
        size, extra = divmod(n, self.world_size)
        start = self.rank * size + min(self.rank, extra)
        return range(start, start + size + (self.rank < extra))

    def barrier(self) -> None:
        if self.active:
            tdist.barrier()

    def all_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The elementwise sum of ``tensor`` over ranks (a new tensor; the input itself when alone)."""
        if not self.active:
            return tensor
        out = tensor.detach().to(self.device, copy=True)
        tdist.all_reduce(out)
        return out.to(tensor.device)

    def sum_(self, tensors: Sequence[torch.Tensor]) -> None:
        """Sums each tensor over ranks in place, in one collective over their concatenation (gradients)."""
        if not self.active or not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors]).to(self.device)
        tdist.all_reduce(flat)
        offset = 0
        for t in tensors:
            t.copy_(flat[offset: offset + t.numel()].view_as(t))
            offset += t.numel()

    def sum_gradients(self, params: Sequence[torch.Tensor]) -> None:
        """Sums the ``.grad`` of ``params`` over ranks, in place. A parameter that some rank's share reached has
        a gradient on every rank afterwards (zeros where it was missing); one that no rank reached keeps none,
        as in one process (SGD then leaves it, its momentum and its weight decay alone)."""
        if not self.active:
            return
        reached = self.all_sum(torch.tensor([float(p.grad is not None) for p in params])) > 0
        for p, hit in zip(params, reached.tolist()):
            if hit and p.grad is None:
                p.grad = torch.zeros_like(p)
        self.sum_([p.grad for p, hit in zip(params, reached.tolist()) if hit and p.grad is not None])

    def share(self, n: int) -> float:
        """``n`` (this rank's examples of a batch) as a fraction of the examples over all ranks: the factor that
        turns a rank's mean loss into its part of the combined batch's mean (1 when alone)."""
        if not self.active:
            return 1.0
        total = float(self.all_sum(torch.tensor([float(n)], dtype=torch.float64)))
        return n / total

    def gather(self, local: torch.Tensor, n: int) -> torch.Tensor:
        """The (n, ...) concatenation over ranks of each rank's ``local`` rows (its :meth:`shard` of ``n``)."""
        if not self.active:
            return local
        width = -(-n // self.world_size)
        padded = torch.zeros((width, *local.shape[1:]), dtype=local.dtype, device=self.device)
        padded[: len(local)] = local
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        tdist.all_gather(parts, padded)
        sizes = [len(Distributed(r, self.world_size).shard(n)) for r in range(self.world_size)]
        return torch.cat([part[:size] for part, size in zip(parts, sizes)]).to(local.device)

    def mean_stats(self, stats: dict[str, float]) -> dict[str, float]:
        """Each value averaged over ranks (every rank reports the same keys), so that every rank logs, checks
        and stops on the same numbers."""
        if not self.active or not stats:
            return stats
        keys = sorted(stats)  # the same order on every rank
        total = dict(zip(keys, self.all_sum(torch.tensor([float(stats[k]) for k in keys], dtype=torch.float64))
                         .tolist()))
        return {k: total[k] / self.world_size for k in stats}

    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        tdist.broadcast_object_list(box, src=0)
        return box[0]

    def main_first(self, fn: Callable[[], T]) -> T:
        """``fn()`` on rank 0, then on the other ranks (e.g. a dataset that rank 0 downloads or caches once).
        If rank 0 fails, the others raise :class:`RankError` instead of waiting."""
        if not self.active:
            return fn()
        result = self._on_rank0(fn)
        return result if self.is_main else fn()  # type: ignore[return-value]

    def on_main(self, fn: Callable[[], T]) -> T:
        """``fn()`` run on rank 0 only (e.g. creating the run directory); its result on every rank."""
        if not self.active:
            return fn()
        return self.broadcast(self._on_rank0(fn))  # type: ignore[return-value]

    @contextlib.contextmanager
    def main_context(self, make: Callable[[], contextlib.AbstractContextManager[Any]]) -> Iterator[None]:
        """Enters ``make()`` on rank 0 only (the run's lock) for the body's whole length; the other ranks enter
        nothing, and raise :class:`RankError` if rank 0 could not enter it."""
        with contextlib.ExitStack() as stack:
            if self.active:
                self._on_rank0(lambda: stack.enter_context(make()))
            else:
                stack.enter_context(make())
            yield

    def _on_rank0(self, fn: Callable[[], T]) -> T | None:
        """``fn()`` on rank 0 (``None`` elsewhere); every rank raises if it failed there."""
        result: T | None = None
        error: BaseException | None = None
        if self.is_main:
            try:
                result = fn()
            except Exception as caught:  # told to the other ranks first, then raised here
                error = caught
        message = self.broadcast(None if error is None else f"{type(error).__name__}: {error}")
        if error is not None:
            raise error
        if message is not None:
            raise RankError(f"rank 0 failed: {message}")
        return result


def from_env(device: torch.device | None = None, timeout_s: float = 1800.0) -> Distributed:
    """Joins the torchrun job this process belongs to (``WORLD_SIZE`` > 1 in the environment) and returns its
    place in it; rank 0 of 1 when not launched by torchrun. The backend is NCCL on CUDA, gloo otherwise; on
    CUDA each rank takes the GPU of its ``LOCAL_RANK``. Joining twice returns the group already joined."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    if not tdist.is_initialized():
        cuda = device is not None and device.type == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        tdist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(seconds=timeout_s))
    return Distributed.current()


def leave() -> None:
    """Leaves the job joined by :func:`from_env` (each rank, once its work is done); nothing when alone."""
    if tdist.is_available() and tdist.is_initialized():
        tdist.destroy_process_group()
