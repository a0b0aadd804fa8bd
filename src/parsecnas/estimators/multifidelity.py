"""Multi-fidelity selection: successive halving (Jamieson & Talwalkar 2016) and Hyperband (Li et al. 2017).

Both wrap candidate architectures and a multi-fidelity estimator ``estimator(arch, fidelity) -> result`` (a
number or a record with ``score``; higher is better), e.g. :class:`NB201Fidelity`, whose fidelities are the
benchmark's 12-epoch and 200-epoch tables. Cost is counted as the sum of the fidelities evaluated (epochs on
NB201; a promoted candidate is charged its full higher fidelity, as the tables hold separate runs).

The evaluations of one rung are independent: ``mapper=`` runs them (one after another here by default;
:meth:`RayPool.map <parsecnas.run.ray_pool.RayPool.map>` runs each as a Ray task). Results come back in the
candidates' order, so the rung decisions are those of the sequential run.

Example:
    >>> sh = SuccessiveHalving(fidelities=(1, 3, 9), eta=3)
    >>> result = sh.run(list(range(9)), lambda arch, fidelity: -abs(arch - 4) + fidelity)
    >>> result.best_arch, result.cost
    (4, 27.0)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from ..run.ray_pool import Mapper, sequential_map
from .tabular import NB201Table, TabularResult, canonical_dataset

MultiFidelityEstimator = Callable[[Any, float], Any]


def _score(result: Any) -> float:
    return float(result) if isinstance(result, (int, float)) else float(result.score)


@dataclass(frozen=True)
class MultiFidelityResult:
    """What a run returns.

    Attributes:
        best_arch: the best architecture at the highest fidelity reached.
        best_result: its result there.
        evaluations: every ``(arch, fidelity, result)`` in evaluation order.
        cost: sum of the fidelities evaluated.
    """

    best_arch: Hashable
    best_result: Any
    evaluations: tuple[tuple[Hashable, float, Any], ...]
    cost: float


@dataclass(frozen=True)
class _AtFidelity:
    """``estimator(arch, fidelity)`` as a function of one ``(arch, fidelity)`` item: one object per run, so a
    Ray pool ships the estimator once."""

    estimator: MultiFidelityEstimator

    def __call__(self, item: tuple[Hashable, float]) -> Any:
        return self.estimator(*item)


def _check_fidelities(fidelities: Sequence[float], eta: int) -> tuple[float, ...]:
    out = tuple(float(f) for f in fidelities)
    if not out or any(b <= a for a, b in zip(out, out[1:])) or out[0] <= 0:
        raise ValueError(f"fidelities must be positive and strictly increasing; got {list(fidelities)}")
    if eta < 2:
        raise ValueError(f"eta must be >= 2, got {eta}")
    return out


class SuccessiveHalving:
    """Evaluate all candidates at the lowest fidelity, keep the best 1/eta, move them up a fidelity, repeat."""

    def __init__(self, fidelities: Sequence[float], eta: int = 3) -> None:
        self.fidelities = _check_fidelities(fidelities, eta)
        self.eta = int(eta)

    def run(self, candidates: Sequence[Hashable], estimator: MultiFidelityEstimator,
            mapper: Mapper = sequential_map) -> MultiFidelityResult:
        """Runs the rungs on ``candidates`` (duplicates dropped); ``mapper`` evaluates each rung's candidates."""
        return self._run(candidates, _AtFidelity(estimator), mapper)

    def _run(self, candidates: Sequence[Hashable], call: _AtFidelity, mapper: Mapper) -> MultiFidelityResult:
        if not candidates:
            raise ValueError("successive halving needs at least one candidate")
        survivors = list(dict.fromkeys(candidates))
        evaluations: list[tuple[Hashable, float, Any]] = []
        for rung, fidelity in enumerate(self.fidelities):
            results = mapper(call, [(arch, fidelity) for arch in survivors], ())
            evaluations += [(a, fidelity, r) for a, r in zip(survivors, results)]
            ranked = sorted(zip(survivors, results), key=lambda item: -_score(item[1]))
            if rung == len(self.fidelities) - 1:
                best_arch, best_result = ranked[0]
                break
            keep = max(1, len(ranked) // self.eta)
            survivors = [a for a, _ in ranked[:keep]]
        return MultiFidelityResult(best_arch, best_result, tuple(evaluations), sum(f for _, f, _ in evaluations))


class Hyperband:
    """Successive halving in brackets that trade many cheap starts against few full evaluations.

    Bracket s = s_max .. 0 (s_max = number of fidelities - 1) draws ``ceil(scale * (s_max + 1) / (s + 1) *
    eta^s)`` candidates from ``sample`` and runs successive halving from fidelity ``s_max - s`` upwards; the best
    over brackets at the top fidelity wins.
    """

    def __init__(self, fidelities: Sequence[float], eta: int = 3, scale: float = 1.0) -> None:
        self.fidelities = _check_fidelities(fidelities, eta)
        self.eta = int(eta)
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale = float(scale)

    def bracket_sizes(self) -> list[int]:
        """Candidates drawn per bracket, from the most exploratory (s = s_max) to plain full evaluation."""
        s_max = len(self.fidelities) - 1
        return [math.ceil(self.scale * (s_max + 1) / (s + 1) * self.eta ** s) for s in range(s_max, -1, -1)]

    def run(self, sample: Callable[[int], Sequence[Hashable]], estimator: MultiFidelityEstimator,
            mapper: Mapper = sequential_map) -> MultiFidelityResult:
        """``sample(n)`` supplies n candidates (e.g. a random search's ``ask``); ``mapper`` evaluates each rung's
        candidates (the brackets run one after another, as each one's rungs do)."""
        s_max = len(self.fidelities) - 1
        evaluations: list[tuple[Hashable, float, Any]] = []
        best: tuple[Hashable, Any] | None = None
        call = _AtFidelity(estimator)
        for s, n in zip(range(s_max, -1, -1), self.bracket_sizes()):
            result = SuccessiveHalving(self.fidelities[s_max - s:], self.eta)._run(list(sample(n)), call, mapper)
            evaluations += result.evaluations
            if best is None or _score(result.best_result) > _score(best[1]):
                best = (result.best_arch, result.best_result)
        assert best is not None
        return MultiFidelityResult(best[0], best[1], tuple(evaluations), sum(f for _, f, _ in evaluations))


class NB201Fidelity:
    """NAS-Bench-201 as a two-fidelity estimator: ``estimator(arch, epochs)`` with epochs 12 or 200.

    Scores are validation accuracies where the table has them, else test (``select`` as in
    :class:`~parsecnas.estimators.tabular.NB201Benchmark`); the 12-epoch table always has validation.

    Example:
        >>> est = NB201Fidelity("cifar10")  # doctest: +SKIP
        >>> SuccessiveHalving(NB201Fidelity.FIDELITIES).run(candidates, est).best_result.test_accuracy  # doctest: +SKIP
    """

    FIDELITIES = (12, 200)

    def __init__(self, dataset: str = "cifar10", select: str = "valid", table: NB201Table | None = None,
                 data_dir: str | os.PathLike[str] | None = None) -> None:
        self.dataset = canonical_dataset(dataset)
        if select not in ("valid", "test"):
            raise ValueError(f"select must be 'valid' or 'test', got {select!r}")
        if select == "valid" and self.dataset != "cifar10":
            raise ValueError(f"the table has no 200-epoch validation accuracy for {self.dataset}; use select='test'")
        self.select = select
        self.table = table if table is not None else NB201Table(data_dir)

    def __call__(self, arch: Any, epochs: float) -> TabularResult:
        if int(epochs) not in self.FIDELITIES:
            raise ValueError(f"NB201 fidelities are {self.FIDELITIES} epochs, got {epochs}")
        select = "valid" if int(epochs) == 12 else self.select
        return self.table.query(arch, self.dataset, int(epochs), select)
