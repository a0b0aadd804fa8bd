"""Asynchronous ask/tell: no batch barrier. ``workers`` trials are in flight at once; as soon as one finishes it
is told to the strategy and the freed worker gets the strategy's next ask (how regularized evolution was run in
Real et al. 2019).

The trials are told in the order they *finish*, so on Ray the trajectory depends on timing (which trial ends
first), unlike the synchronous loop of :func:`~parsecnas.strategies.blackbox.run_blackbox`, whose trajectory
depends only on the seed. What makes a run reproducible is its record: a trial's ``number`` is its place in the
ask order and its place among the trials is its place in the tell order, and :func:`replay_async` rebuilds
the strategy's state from that record exactly. On the in-process
:class:`~parsecnas.run.ray_pool.SequentialPool` tasks finish in the order they were asked, so a run there is
deterministic.

Example:
    >>> from parsecnas.run.ray_pool import SequentialPool
    >>> from parsecnas.spaces import get_space
    >>> space = get_space("nb201")
    >>> strategy = create_blackbox("evolution", space, seed=0)
    >>> trajectory = run_blackbox_async(strategy, lambda a: space.to_choices(a).count(3), 20, 4, SequentialPool())
    >>> len(trajectory.trials)
    20
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

from ..run.ray_pool import Pool
from .blackbox import BlackBoxStrategy, Trajectory, Trial, TrialState, create_blackbox, score_of

__all__ = ["AsyncTrials", "replay_async", "run_blackbox_async"]


class AsyncTrials:
    """Keeps ``workers`` trials in flight on ``pool`` until ``budget`` have been asked; iterating yields each
    trial as it finishes, after it has been told and the next architecture asked.

    Args:
        strategy: the ask/tell strategy (its state already restored when resuming).
        estimator: ``arch -> result`` (a number or a record with ``score``), shipped to the pool's workers.
        pool: where the trials run (:class:`~parsecnas.run.ray_pool.RayPool`, or the in-process
            :class:`~parsecnas.run.ray_pool.SequentialPool`).
        budget: architectures asked in all (failed trials count).
        workers: trials in flight at once.
        catch: exception types that fail one trial instead of the run.
        asked: architectures already asked (resuming).
        pending: ``(number, arch)`` asked but not yet told when the run was checkpointed (resuming); they are
            evaluated again, first, and no new ask replaces them.

    Attributes:
        asked: architectures asked so far.
        pending: ``{number: arch}`` of the trials in flight, in ask order (what a checkpoint must keep).
    """

    def __init__(self, strategy: BlackBoxStrategy, estimator: Callable[[Any], Any], pool: Pool, budget: int,
                 workers: int, catch: tuple[type[BaseException], ...] = (), asked: int = 0,
                 pending: Sequence[tuple[int, Hashable]] = ()) -> None:
        if budget < 1 or workers < 1:
            raise ValueError(f"budget and workers must be >= 1; got {budget}, {workers}")
        if not 0 <= asked <= budget or len(pending) > asked:
            raise ValueError(f"asked must lie in 0 .. budget ({budget}) and cover the {len(pending)} pending "
                             f"trials; got {asked}")
        self.strategy, self.estimator, self.pool = strategy, estimator, pool
        self.budget, self.workers, self.catch = budget, workers, catch
        self.asked = asked
        self.pending: dict[int, Hashable] = dict(sorted(pending, key=lambda item: item[0]))

    def __iter__(self) -> Iterator[Trial]:
        for number, arch in self.pending.items():
            self.pool.submit(self.estimator, arch, number)
        self._top_up()
        while self.pending:
            number, result = self.pool.next_done(self.catch)
            arch = self.pending.pop(number)
            trial = _trial(number, arch, result)
            if trial.state is TrialState.COMPLETE:
                self.strategy.tell([arch], [result])
            self._top_up()
            yield trial

    def _top_up(self) -> None:
        """Asks for as many architectures as there are free workers (and budget), and submits them."""
        free = min(self.workers - len(self.pending), self.budget - self.asked)
        if free <= 0:
            return
        for arch in self.strategy.ask(free):
            self.pending[self.asked] = arch
            self.pool.submit(self.estimator, arch, self.asked)
            self.asked += 1


def _trial(number: int, arch: Hashable, result: Any) -> Trial:
    if isinstance(result, BaseException):
        return Trial(number, arch, TrialState.FAIL, error=f"{type(result).__name__}: {result}")
    return Trial(number, arch, TrialState.COMPLETE, score_of(result), result)


def run_blackbox_async(strategy: BlackBoxStrategy, estimator: Callable[[Any], Any], budget: int, workers: int,
                       pool: Pool, catch: tuple[type[BaseException], ...] = ()) -> Trajectory:
    """Runs :class:`AsyncTrials` to the end; the trajectory in tell order (a trial's ``number``: its ask order).

    For a run directory with checkpoints and resume, see :func:`parsecnas.blackbox_run.run_blackbox_search`
    with ``asynchronous: true``.
    """
    return Trajectory.of(list(AsyncTrials(strategy, estimator, pool, budget, workers, catch)))


def replay_async(name: str, space: Any, config: Any, seed: int, trials: Sequence[Trial], budget: int,
                 workers: int) -> BlackBoxStrategy:
    """A fresh strategy taken through the asks and tells that ``trials`` (in tell order) record.

    The loop's asks depend only on what was told before them, so this reproduces every asked architecture;
    one that differs from the record is a ValueError (the record is not of this strategy, seed or budget).
    Returns the strategy in the state the run left it in.
    """
    strategy = create_blackbox(name, space, config, seed)
    asked: dict[int, Hashable] = {}

    def ask(free: int) -> None:
        for arch in strategy.ask(min(free, budget - len(asked))):
            asked[len(asked)] = arch

    ask(workers)
    for told, trial in enumerate(trials):
        if asked.get(trial.number) != trial.arch:
            raise ValueError(f"trial {trial.number} of the record is {trial.arch!r}, but the replayed run asked "
                             f"{asked.get(trial.number)!r} there")
        if trial.state is TrialState.COMPLETE:
            strategy.tell([trial.arch], [trial.score])
        ask(workers - (len(asked) - told - 1))
    return strategy
