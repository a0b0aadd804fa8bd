"""Independent trials as Ray tasks: :class:`RayPool` maps a function over a batch of items on a local Ray
instance or an existing cluster and returns the results in the order of the items.

Because the order is kept, an ask/tell loop that evaluates a batch with a pool and then tells the strategy is
the same computation as evaluating the batch one item after another: the same seed gives the same trajectory.
Ray is imported only when a pool first maps (the ``ray`` extra: ``pip install 'parsecnas[ray]'``).

Example:
    >>> pool = RayPool()  # no Ray is started until the first map
    >>> pool.map(abs, [-1, 2, -3])  # doctest: +SKIP
    [1, 2, 3]
    >>> pool.close()
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = ["RayPool", "import_ray", "sequential_map"]

INSTALL_HINT = "pip install 'parsecnas[ray]'"


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


class RayPool:
    """Maps a function over a batch as Ray tasks, one task per item, results in the order of the items.

    Args:
        address: an existing Ray cluster (``"auto"``, ``"ray://head:10001"``, ...); ``None`` starts a local
            instance, or joins the one this process already started (``ray.init`` was called).
        num_cpus: CPUs of a local instance (``None``: all); ignored when joining a cluster.
        cpus_per_task: CPUs Ray reserves for each task.

    The function goes to the cluster once (``ray.put``) and is reused while the same object is mapped. The
    worker processes see this process's ``PYTHONPATH``, so a source checkout runs there too. A pool shuts down
    only a Ray instance it started itself (:meth:`close`).
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

    def _connect(self) -> ModuleType:
        if self._ray is None:
            ray = import_ray()
            if not ray.is_initialized():
                env = {k: os.environ[k] for k in ("PYTHONPATH", "OMP_NUM_THREADS") if k in os.environ}
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
        if fn is not self._fn:
            self._fn, self._fn_ref = fn, ray.put(fn)
        refs = [self._task.remote(self._fn_ref, item) for item in items]
        return _settle(ray.get(refs), catch)

    def close(self) -> None:
        """Shuts down the Ray instance this pool started (not one it joined)."""
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray, self._started, self._task, self._fn, self._fn_ref = None, False, None, None, None

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
