"""NSGA-II (Deb et al. 2002) over a space's decisions: accuracy up, a cost down, as an ask/tell strategy.

The algorithm is Optuna's ``NSGAIISampler`` (non-dominated sorting, crowding distance, uniform crossover,
per-decision mutation; ``pip install 'parsecnas[moo]'``), driven through an in-memory study whose parameters
are the space's decisions. The second objective is a :class:`~parsecnas.estimators.cost.Cost`: a known
function of the architecture (parameters, a latency table), which the strategy computes for each told
architecture, as Optuna's constraint functions do; the estimator supplies only the score.

Resume is exact without pickling Optuna's objects: the state keeps the sequence of asks and tells, and loading
replays it on a fresh study with the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import check_finite
from ..estimators.cost import Cost
from ..estimators.cost_specs import make_cost
from ..pareto import pareto_mask
from ..spaces.base import Space
from .blackbox import BlackBoxStrategy, register_blackbox


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as error:
        raise ImportError("NSGA-II needs Optuna: pip install 'parsecnas[moo]'") from error
    return optuna


@dataclass(frozen=True)
class NsgaIIConfig:
    """Attributes:
        cost: the objective minimised beside the score (a :func:`~parsecnas.estimators.cost_specs.make_cost`
            form: ``params``, ``madds``, ``nb201:<device>``, ``lut:<file.json>``). ``None``: the score alone (a
            genetic algorithm; any space, even one that cannot cost its architectures).
        cost_setting: the network setting ``params`` / ``madds`` count (the space's default when ``None``).
        population_size: individuals per generation; the first generation is uniform.
        crossover_prob: probability that a child comes from crossover (else copies a parent).
        swapping_prob: uniform crossover's per-decision probability of taking the second parent's choice.
        mutation_prob: per-decision mutation probability (``None``: 1 / number of decisions).
    """

    cost: str | None = None
    cost_setting: str | None = None
    population_size: int = 20
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5
    mutation_prob: float | None = None

    def __post_init__(self) -> None:
        check_finite(self)
        if self.population_size < 2:
            raise ValueError(f"population_size must be >= 2, got {self.population_size}")
        probs = [self.crossover_prob, self.swapping_prob] + ([] if self.mutation_prob is None else [self.mutation_prob])
        if not all(0 <= p <= 1 for p in probs):
            raise ValueError(f"crossover_prob, swapping_prob and mutation_prob must lie in [0, 1]; got {probs}")


class NsgaII(BlackBoxStrategy):
    """Multi-objective search: maximise the estimator's score, minimise ``cost``.

    Attributes learnt: besides the base class's, ``costs_`` (the cost of each told architecture, in order; empty
    without a cost) and :meth:`front` (the non-dominated ones).

    Example:
        >>> from parsecnas.spaces import get_space
        >>> space = get_space("nb201")
        >>> nsga = NsgaII(space, NsgaIIConfig(population_size=4, cost="params"), seed=0)  # doctest: +SKIP
        >>> archs = nsga.ask(4); nsga.tell(archs, [1.0, 2.0, 3.0, 4.0])  # doctest: +SKIP
        >>> len(nsga.front()) >= 1  # doctest: +SKIP
        True
    """

    name = "nsga2"

    def __init__(self, space: Space, config: NsgaIIConfig | None = None, seed: int = 0,
                 cost: Cost | None = None) -> None:
        super().__init__(space, seed)
        self.config = config or NsgaIIConfig()
        if cost is None and self.config.cost is not None:
            cost = make_cost(self.config.cost, space, self.config.cost_setting)
        self.cost = cost
        self._start()

    def _start(self) -> None:
        optuna = _optuna()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial otherwise
        c = self.config
        sampler = optuna.samplers.NSGAIISampler(population_size=c.population_size, crossover_prob=c.crossover_prob,
                                                swapping_prob=c.swapping_prob, mutation_prob=c.mutation_prob,
                                                seed=self.seed)
        directions = ["maximize"] if self.cost is None else ["maximize", "minimize"]
        self.study = optuna.create_study(directions=directions, sampler=sampler)
        self._distributions = {d.name: optuna.distributions.CategoricalDistribution(list(range(d.size)))
                               for d in self.space.decisions}
        self._pending: dict[Hashable, list[Any]] = {}
        self._log: list[tuple[str, Any]] = []
        self.costs_: list[float] = []

    def ask(self, n: int = 1) -> list[Hashable]:
        self._log.append(("ask", n))
        out = []
        for _ in range(n):
            trial = self.study.ask(self._distributions)
            arch = self.space.from_choices([int(trial.params[d.name]) for d in self.space.decisions])
            self._pending.setdefault(arch, []).append(trial)
            out.append(arch)
        return out

    def _update(self, archs: list[Hashable], scores: list[float]) -> None:
        self._log.append(("tell", [(self.space.format(a), s) for a, s in zip(archs, scores)]))
        for arch, score in zip(archs, scores):
            values = [score]
            if self.cost is not None:
                self.costs_.append(float(self.cost(arch)))
                values.append(self.costs_[-1])
            waiting = self._pending.get(arch)
            if waiting:
                self.study.tell(waiting.pop(0), values)
            else:  # told without being asked: it joins the study as a finished trial
                params = dict(zip(self._distributions, self.space.to_choices(arch)))
                self.study.add_trial(_optuna().trial.create_trial(params=params, distributions=self._distributions,
                                                                  values=values))

    def front(self) -> list[tuple[Hashable, float, float]]:
        """The non-dominated told architectures as ``(arch, score, cost)``, by decreasing score (without a cost:
        the best-scoring ones, cost NaN)."""
        if not self.history_:
            return []
        if self.cost is None:
            return sorted({(a, s, math.nan) for a, s in self.history_ if s == self.best_score_}, key=str)
        points = np.array([(s, c) for (_, s), c in zip(self.history_, self.costs_)])
        keep = pareto_mask(points, (True, False))
        rows = {(a, s, c) for (a, s), c, k in zip(self.history_, self.costs_, keep) if k}
        return sorted(rows, key=lambda row: (-row[1], row[2]))

    def outputs(self) -> dict[str, Any]:
        """``pareto_front``: the non-dominated architectures with their score and cost."""
        if self.cost is None:
            return {}
        rows = [{"arch": self.space.format(a), "score": s, self.cost.name: c} for a, s, c in self.front()]
        return {"pareto_front": {"objectives": ["score", self.cost.name], "unit": self.cost.unit, "front": rows}}

    def figures(self, directory: Path) -> list[Path]:
        """``pareto_front.png``: the front among every told architecture."""
        if self.cost is None or not self.history_:
            return []
        from ..report.pareto import plot_fronts

        points = np.array([(s, c) for (_, s), c in zip(self.history_, self.costs_)])
        front = np.array([(s, c) for _, s, c in self.front()])
        return [plot_fronts({"NSGA-II front": front}, Path(directory) / "pareto_front.png", points=points,
                            points_label="told", xlabel=f"{self.cost.name} ({self.cost.unit})", ylabel="score")]

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "log": [list(entry) for entry in self._log]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._start()
        for kind, value in state["log"]:
            if kind == "ask":
                self.ask(int(value))
            else:
                self._update([self.space.parse(a) for a, _ in value], [float(s) for _, s in value])


register_blackbox("nsga2", lambda space, config, seed: NsgaII(space, config, seed), NsgaIIConfig)
