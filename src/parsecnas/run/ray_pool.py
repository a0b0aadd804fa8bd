"""Independent trials as Ray tasks: :class:`RayPool` maps a function over a batch of items on a local Ray
instance or an existing cluster and returns the results in the order of the items.

Because the order is kept, an ask/tell loop that evaluates a batch with a pool and then tells the strategy is
the same computation as evaluating the batch one item after another: the same seed gives the same trajectory.
Ray is imported only when a pool first maps (the ``ray`` extra: ``pip install 'parsecnas[ray]'``).

For loops without a batch barrier a pool also takes single tasks (:meth:`RayPool.submit`) and hands back the
first one to finish (:meth:`RayPool.next_done`); :class:`SequentialPool` is the in-process stand-in, which
finishes tasks in the order they were submitted.

Example:
    >>> pool = RayPool()  # no Ray is started until the first map
    >>> pool.map(abs, [-1, 2, -3])  # doctest: +SKIP
    [1, 2, 3]
    >>> pool.close()
"""

from __future__ import annotations

import importlib
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

__all__ = ["Mapper", "Pool", "RayPool", "SequentialPool", "import_ray", "sequential_map"]

INSTALL_HINT = "pip install 'parsecnas[ray]'"
_SHARED_ENV = ("PYTHONPATH", "OMP_NUM_THREADS", "PARSECNAS_DATA")


def import_ray() -> ModuleType:
    """The ``ray`` module; an ImportError naming the extra to install when it is missing."""
    try:
        return importlib.import_module("ray")
    except ImportError as error:
        raise ImportError(f"running trials as Ray tasks needs Ray ({error}); install it with: {INSTALL_HINT}"
                          ) from error


@dataclass(frozen=True)
class _Raised:
    """An exception a task raised, carried back as a value so that one failed trial does not fail the batch."""

    error: BaseException


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    try:
        return fn(item)
    except Exception as error:  # noqa: BLE001 - sent back; the driver decides whether it is caught
        return _Raised(error)


def _settle(outcomes: Sequence[Any], catch: tuple[type[BaseException], ...]) -> list[Any]:
    """Results with caught exceptions in their place (as values); the first uncaught one is raised."""
    out = []
    for outcome in outcomes:
        if isinstance(outcome, _Raised):
            if not isinstance(outcome.error, catch):
                raise outcome.error
            out.append(outcome.error)
        else:
            out.append(outcome)
    return out


Mapper = Callable[[Callable[[Any], Any], Sequence[Any], tuple[type[BaseException], ...]], list[Any]]
"""``mapper(fn, items, catch)``: ``fn`` over ``items``, the results in the order of ``items``, a caught exception
in place of a result (:func:`sequential_map`, or :meth:`RayPool.map`)."""


class Pool(Protocol):
    """Single tasks, handed back as they finish: what an asynchronous ask/tell loop needs of a pool."""

    def submit(self, fn: Callable[[Any], Any], item: Any, key: Any) -> None:
        """Starts ``fn(item)``; :meth:`next_done` later returns it under ``key``."""

    def next_done(self, catch: tuple[type[BaseException], ...] = ()) -> tuple[Any, Any]:
        """``(key, result)`` of a finished task (waiting for one); a caught exception stands as its result."""

    @property
    def in_flight(self) -> int:
        """Tasks submitted and not yet returned by :meth:`next_done`."""


def sequential_map(fn: Callable[[Any], Any], items: Sequence[Any], catch: tuple[type[BaseException], ...] = ()
                   ) -> list[Any]:
    """``fn`` over ``items`` in this process, in order: what :meth:`RayPool.map` computes, without Ray.

    An exception of a type in ``catch`` stands in the list in place of that item's result; any other is raised.
    """
    out = []
    for item in items:
        try:
            out.append(fn(item))
        except catch as error:
            out.append(error)
    return out


class SequentialPool:
    """The in-process :class:`Pool`: a task runs when :meth:`next_done` takes it, first submitted first.

    An asynchronous loop on this pool is deterministic (the tell order is the ask order); on Ray it is not.
    """

    def __init__(self) -> None:
        self._queue: deque[tuple[Any, Callable[[Any], Any], Any]] = deque()

    def submit(self, fn: Callable[[Any], Any], item: Any, key: Any) -> None:
        self._queue.append((key, fn, item))

    def next_done(self, catch: tuple[type[BaseException], ...] = ()) -> tuple[Any, Any]:
        if not self._queue:
            raise RuntimeError("next_done: no task is in flight")
        key, fn, item = self._queue.popleft()
        return key, sequential_map(fn, [item], catch)[0]

    @property
    def in_flight(self) -> int:
        return len(self._queue)

    def __enter__(self) -> SequentialPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.clear()


class RayPool:
    """Maps a function over a batch as Ray tasks, one task per item, results in the order of the items.

    Args:
        address: an existing Ray cluster (``"auto"``, ``"ray://head:10001"``, ...); ``None`` starts a local
            instance, or joins the one this process already started (``ray.init`` was called).
        num_cpus: CPUs of a local instance (``None``: all); ignored when joining a cluster.
        cpus_per_task: CPUs Ray reserves for each task.

    The function goes to the cluster once (``ray.put``) and is reused while the same object is mapped. The
    worker processes see this process's ``PYTHONPATH``, ``OMP_NUM_THREADS`` and ``PARSECNAS_DATA``, so a
    source checkout runs there too. A pool shuts down only a Ray instance it started itself (:meth:`close`).
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None, cpus_per_task: float = 1.0) -> None:
        if num_cpus is not None and num_cpus < 1:
            raise ValueError(f"num_cpus must be >= 1 or None, got {num_cpus}")
        if cpus_per_task <= 0:
            raise ValueError(f"cpus_per_task must be > 0, got {cpus_per_task}")
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_task = float(cpus_per_task)
        self._ray: ModuleType | None = None
        self._started = False
        self._task: Any = None
        self._fn: Any = None
        self._fn_ref: Any = None
        self._running: dict[Any, Any] = {}

    def _connect(self) -> ModuleType:
        if self._ray is None:
            ray = import_ray()
            if not ray.is_initialized():
                env = {k: os.environ[k] for k in _SHARED_ENV if k in os.environ}
                ray.init(address=self.address, num_cpus=None if self.address else self.num_cpus,
                         include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
                self._started = True
            self._task = ray.remote(num_cpus=self.cpus_per_task)(_call)
            self._ray = ray
        return self._ray

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], catch: tuple[type[BaseException], ...] = ()
            ) -> list[Any]:
        """``fn`` over ``items`` as parallel Ray tasks; the results in the order of ``items``.

        An exception of a type in ``catch`` stands in the list in place of that item's result; any other is
        raised (after every task of the batch has finished).
        """
        ray = self._connect()
        refs = [self._task.remote(self._shipped(fn), item) for item in items]
        return _settle(ray.get(refs), catch)

    def submit(self, fn: Callable[[Any], Any], item: Any, key: Any) -> None:
        """Starts ``fn(item)`` as a Ray task; :meth:`next_done` returns its result under ``key``."""
        self._connect()
        self._running[self._task.remote(self._shipped(fn), item)] = key

    def next_done(self, catch: tuple[type[BaseException], ...] = ()) -> tuple[Any, Any]:
        """``(key, result)`` of the first submitted task to finish (waiting for one); an exception of a type in
        ``catch`` stands as its result, any other is raised."""
        if not self._running:
            raise RuntimeError("next_done: no task is in flight")
        ray = self._connect()
        (ready, *_), _ = ray.wait(list(self._running), num_returns=1)
        key = self._running.pop(ready)
        return key, _settle([ray.get(ready)], catch)[0]

    @property
    def in_flight(self) -> int:
        """Tasks submitted and not yet returned by :meth:`next_done`."""
        return len(self._running)

    def _shipped(self, fn: Callable[[Any], Any]) -> Any:
        """``fn`` in Ray's object store, put there once while the same object is mapped."""
        assert self._ray is not None
        if fn is not self._fn:
            self._fn, self._fn_ref = fn, self._ray.put(fn)
        return self._fn_ref

    def close(self) -> None:
        """Shuts down the Ray instance this pool started (not one it joined)."""
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray, self._started, self._task, self._fn, self._fn_ref = None, False, None, None, None
        self._running = {}

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
