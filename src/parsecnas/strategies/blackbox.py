"""Black-box search: the ask/tell interface, its registry and the loop that runs a strategy against an estimator.

A black-box strategy proposes architectures (``ask``) and learns from their results (``tell``); it never sees a
network. An estimator is any callable ``arch -> result`` where the result is a number or has a ``score``
attribute (higher is better), e.g. :class:`~parsecnas.estimators.tabular.NB201Benchmark`.

Example:
    >>> from parsecnas.spaces import get_space
    >>> space = get_space("nb201")
    >>> strategy = create_blackbox("random", space, seed=0)
    >>> trajectory = run_blackbox(strategy, lambda arch: space.to_choices(arch).count(3), budget=20)
    >>> trajectory.best_scores[-1] == strategy.best_score_
    True
"""

from __future__ import annotations

import enum
import importlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..run.ray_pool import Mapper, sequential_map
from ..spaces.base import Space


def score_of(result: Any) -> float:
    """The number a search maximises: the result itself if it is a number, else ``result.score``."""
    if isinstance(result, (int, float)):
        return float(result)
    score = getattr(result, "score", None)
    if score is None:
        raise TypeError(f"an estimator must return a number or an object with a 'score'; got {type(result).__name__}")
    return float(score)


class BlackBoxStrategy(ABC):
    """Base of ask/tell strategies. Subclasses implement :meth:`ask` and :meth:`_update`.

    Attributes learnt (after at least one ``tell``): ``best_arch_``, ``best_score_``, ``best_result_``, and
    ``history_`` (every told ``(arch, score)`` in order). Each strategy owns ``self.generator``
    (a ``torch.Generator`` seeded from ``seed``); subclasses extend :meth:`state_dict` with their own state.
    """

    name: str = ""

    def __init__(self, space: Space, seed: int = 0) -> None:
        self.space = space
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.history_: list[tuple[Hashable, float]] = []
        self.best_arch_: Hashable | None = None
        self.best_score_ = -math.inf
        self.best_result_: Any = None

    @abstractmethod
    def ask(self, n: int = 1) -> list[Hashable]:
        """``n`` architectures to evaluate next."""

    def tell(self, archs: Sequence[Hashable], results: Sequence[Any]) -> None:
        """Results of evaluating ``archs`` (numbers, or records with ``score``)."""
        if len(archs) != len(results):
            raise ValueError(f"tell got {len(archs)} architectures but {len(results)} results")
        scores = [score_of(r) for r in results]
        for arch, score, result in zip(archs, scores, results):
            self.history_.append((arch, score))
            if score > self.best_score_:
                self.best_arch_, self.best_score_, self.best_result_ = arch, score, result
        self._update(list(archs), scores)

    @abstractmethod
    def _update(self, archs: list[Hashable], scores: list[float]) -> None:
        """Learns from newly told scores (the base class has already recorded them)."""

    def outputs(self) -> dict[str, Any]:
        """What a run directory keeps of the search beyond its trials, as JSON files by stem; default: none."""
        return {}

    def figures(self, directory: Path) -> list[Path]:
        """Plots written into the run directory (need the ``plot`` extra); default: none."""
        return []

    def seen(self) -> set[Hashable]:
        return {arch for arch, _ in self.history_}

    def state_dict(self) -> dict[str, Any]:
        """Generator state and history (architectures in their string form); subclasses add their own keys."""
        return {"seed": self.seed, "generator": self.generator.get_state(),
                "history": [(self.space.format(a), s) for a, s in self.history_],
                "best": None if self.best_arch_ is None else (self.space.format(self.best_arch_), self.best_score_)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = int(state["seed"])
        self.generator.set_state(state["generator"])
        self.history_ = [(self.space.parse(a), float(s)) for a, s in state["history"]]
        best = state["best"]
        self.best_arch_, self.best_score_ = (None, -math.inf) if best is None else (self.space.parse(best[0]), best[1])
        self.best_result_ = None  # results are the estimator's objects; only their scores are kept


class TrialState(str, enum.Enum):
    """How an evaluation ended (Optuna's trial states, the two a synchronous loop can reach)."""

    COMPLETE = "complete"
    FAIL = "fail"


@dataclass(frozen=True)
class Trial:
    """One evaluation: its place in the run, the architecture, how it ended and what it gave.

    Attributes:
        number: 0-based position among all evaluations of the run.
        arch: the architecture evaluated.
        state: ``COMPLETE`` (``score`` and ``result`` set) or ``FAIL`` (``error`` names the exception).
        score: the number the search maximises, or ``None`` for a failed trial.
        result: the estimator's result, or ``None``.
        error: ``"ExceptionType: message"`` of a failed trial.
    """

    number: int
    arch: Hashable
    state: TrialState
    score: float | None = None
    result: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Trajectory:
    """What :func:`run_blackbox` returns: every completed query in order, the incumbent (best score so far)
    after each, and every trial (failed ones included).

    Attributes:
        archs: completed architectures in query order.
        results: the estimator's results, in the same order.
        scores: their scores.
        best_scores: best score among the first k + 1 completed queries.
        incumbents: position (into ``archs``) of that best, after each query.
        trials: every evaluation, complete or failed, in order.
    """

    archs: tuple[Hashable, ...]
    results: tuple[Any, ...]
    scores: tuple[float, ...]
    best_scores: tuple[float, ...]
    incumbents: tuple[int, ...]
    trials: tuple[Trial, ...] = ()

    def incumbent_result(self, queries: int) -> Any:
        """The result of the best-scoring architecture among the first ``queries`` completed queries."""
        if not 1 <= queries <= len(self.archs):
            raise ValueError(f"queries must be in 1 .. {len(self.archs)}, got {queries}")
        return self.results[self.incumbents[queries - 1]]

    @classmethod
    def of(cls, trials: Sequence[Trial]) -> Trajectory:
        """The trajectory of ``trials`` (the completed ones define archs, scores and incumbents)."""
        done = [t for t in trials if t.state is TrialState.COMPLETE]
        scores = [float(t.score) for t in done if t.score is not None]
        best, incumbents, best_scores = 0, [], []
        for k, score in enumerate(scores):
            if score > scores[best]:
                best = k
            incumbents.append(best)
            best_scores.append(scores[best])
        return cls(tuple(t.arch for t in done), tuple(t.result for t in done), tuple(scores), tuple(best_scores),
                   tuple(incumbents), tuple(trials))


def evaluate_batch(strategy: BlackBoxStrategy, estimator: Callable[[Any], Any], n: int, first: int,
                   catch: tuple[type[BaseException], ...] = (), mapper: Mapper = sequential_map) -> list[Trial]:
    """Asks ``strategy`` for ``n`` architectures, evaluates each, tells it the completed ones; returns the
    trials numbered from ``first``. An exception of a type in ``catch`` fails that trial only (Optuna's
    ``catch=``); any other propagates. ``mapper`` evaluates the batch (in order, here by default, or as Ray
    tasks with :class:`~parsecnas.run.ray_pool.RayPool`); the strategy sees the same results either way."""
    archs = strategy.ask(n)
    trials = []
    for k, (arch, result) in enumerate(zip(archs, mapper(estimator, archs, catch))):
        if isinstance(result, BaseException):
            trials.append(Trial(first + k, arch, TrialState.FAIL, error=f"{type(result).__name__}: {result}"))
        else:
            trials.append(Trial(first + k, arch, TrialState.COMPLETE, score_of(result), result))
    done = [t for t in trials if t.state is TrialState.COMPLETE]
    if done:
        strategy.tell([t.arch for t in done], [t.result for t in done])
    return trials


def run_blackbox(strategy: BlackBoxStrategy, estimator: Callable[[Any], Any], budget: int,
                 batch_size: int = 1, catch: tuple[type[BaseException], ...] = (),
                 mapper: Mapper = sequential_map) -> Trajectory:
    """Asks, evaluates and tells until ``budget`` architectures have been evaluated; returns the trajectory.

    Failed evaluations (exceptions of a type in ``catch``) count against the budget and are recorded as
    ``FAIL`` trials; the strategy is told only completed ones. ``mapper``: how each batch is evaluated
    (:meth:`RayPool.map <parsecnas.run.ray_pool.RayPool.map>` runs it as parallel Ray tasks, with the same
    trajectory as the default, in-process one). For a run directory with exact resume, see
    :func:`parsecnas.blackbox_run.run_blackbox_search`.
    """
    if budget < 1 or batch_size < 1:
        raise ValueError(f"budget and batch_size must be >= 1; got {budget}, {batch_size}")
    trials: list[Trial] = []
    while len(trials) < budget:
        trials += evaluate_batch(strategy, estimator, min(batch_size, budget - len(trials)), len(trials), catch,
                                 mapper)
    return Trajectory.of(trials)


BlackBoxFactory = Callable[..., BlackBoxStrategy]
_REGISTRY: dict[str, tuple[BlackBoxFactory, type | None]] = {}
_BUILTIN = ("random_search", "evolution", "reinforce", "local_search", "bananas", "nsga2")


def register_blackbox(name: str, factory: BlackBoxFactory, config_type: type | None = None) -> None:
    """Registers ``factory(space, config, seed)`` under ``name``; ``config_type()`` is the default config."""
    _REGISTRY[name] = (factory, config_type)


def _load_builtins() -> None:
    for module in _BUILTIN:
        importlib.import_module(f"{__package__}.{module}")


def create_blackbox(name: str, space: Space, config: Any = None, seed: int = 0) -> BlackBoxStrategy:
    """Creates a registered black-box strategy, e.g. ``create_blackbox("evolution", space, seed=0)``."""
    _load_builtins()
    try:
        factory, config_type = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown black-box strategy {name!r}; valid: {', '.join(list_blackbox())}") from None
    if config is None and config_type is not None:
        config = config_type()
    return factory(space, config, seed)


def list_blackbox() -> list[str]:
    """Names of the registered black-box strategies."""
    _load_builtins()
    return sorted(_REGISTRY)


def blackbox_config_type(name: str) -> type | None:
    """The config dataclass registered with black-box strategy ``name``; a ValueError lists the valid names."""
    _load_builtins()
    try:
        return _REGISTRY[name][1]
    except KeyError:
        raise ValueError(f"unknown black-box strategy {name!r}; valid: {', '.join(list_blackbox())}") from None
