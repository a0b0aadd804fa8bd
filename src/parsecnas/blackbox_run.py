"""Black-box search in a run directory, in Optuna's shape: every evaluation a trial record with a state, one
failing evaluation does not end the run (``catch``), and a killed run resumes exactly.

Layout of a run::

    run_dir/
        config.yaml      the BlackBoxConfig (strategy, its settings, space, benchmark, budget, seed)
        metrics.jsonl    one record per trial: number, arch, state, score, the result's numbers, incumbent
        checkpoint.pt    the strategy's state after the last told batch (its generator, history, population)
        result.json      the incumbent (best score) and the trial counts

The estimator is the space's tabular benchmark (NAS-Bench-201: ``select`` picks the validation or test
accuracy as the score; the test accuracy is always recorded), so a resumed run replays nothing. With a ``cost``
and a ``cost_target`` the score is MnasNet's reward, accuracy * (cost / target)^w
(:class:`~parsecnas.estimators.rewards.MnasReward`), and each trial records its ``accuracy`` and ``cost`` too.

Example:
    >>> cfg = BlackBoxConfig(strategy="evolution", budget=20, seed=0)
    >>> result = run_blackbox_search(cfg, "/tmp/parsecnas-bb-doc")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import statistics
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .config import check_finite, check_min, fill_typed_fields, to_dict, typed_by
from .estimators.cost_specs import check_cost_spec, make_cost
from .estimators.rewards import EXPONENTS, MnasReward
from .estimators.tabular import NB201Benchmark, canonical_dataset
from .run import Run, Timer
from .run.ray_pool import RayPool, SequentialPool, import_ray, sequential_map
from .run.tracking import check_trackers, tracking_names
from .spaces import get_space
from .spaces.base import Space
from .strategies.blackbox import (
    BlackBoxStrategy,
    Trajectory,
    Trial,
    TrialState,
    blackbox_config_type,
    create_blackbox,
    evaluate_batch,
    list_blackbox,
)
from .strategies.blackbox_async import AsyncTrials

__all__ = ["BlackBoxConfig", "run_blackbox_search", "run_blackbox_seeds"]


_log = logging.getLogger(__name__)

@dataclass(frozen=True)
class BlackBoxConfig:
    """One black-box search on a tabular benchmark.

    Attributes:
        strategy: a registered black-box strategy (``parsecnas.strategies.list_blackbox()``).
        settings: its config (``EvolutionConfig`` for ``evolution``, ...); ``None`` takes its defaults.
        space: the search space (its tabular benchmark is the estimator; today ``nb201``).
        dataset: the benchmark's dataset: ``cifar10``, ``cifar100`` or ``imagenet16``.
        select: the score the search maximises: the table's ``valid`` or ``test`` accuracy.
        budget: evaluations (table queries), failed ones included.
        batch_size: architectures asked for at once (a checkpoint after each batch).
        seed: seeds the strategy's generator.
        data_dir: folder holding the benchmark files (else ``$PARSECNAS_DATA``, else the user cache).
        tracking: mirrors of ``metrics.jsonl``, the record that stays the source of truth: any of ``csv``
            (``metrics.csv``), ``tensorboard`` (``tensorboard/``; the ``tensorboard`` extra) and ``mlflow``
            (``mlflow.db``; the ``mlflow`` extra), as a list or comma-separated (``--tracking=csv,tensorboard``).
        ray: evaluate each batch's trials in parallel as Ray tasks on a local Ray instance (the ``ray`` extra);
            results are told in the ask order, so the trajectory equals the in-process one for the same seed.
        ray_address: an existing Ray cluster to run the trials on (``"auto"``, ``"ray://head:10001"``); giving
            one implies ``ray``. Neither is stored in ``config.yaml``: the results do not depend on them, so a run
            may resume with or without Ray.
        asynchronous: no batch barrier (:mod:`parsecnas.strategies.blackbox_async`): ``batch_size`` trials are
            in flight at once and a trial that finishes is told at once and its worker gets the next ask. On Ray
            the trials are told in the order they finish, so the results then depend on timing; the records keep
            that order (``trial``: place in the tell order, ``number``: in the ask order) and the checkpoint
            after every trial keeps the trials still in flight, which a resume evaluates again first. In-process
            the tell order is the ask order, and a run is deterministic.
        cost: a cost (:func:`~parsecnas.estimators.cost_specs.make_cost`: ``nb201:<device>``, ``params``,
            ``madds``, ``peak_mem``, ``lut:<file.json>``) folded into the score by MnasNet's reward,
            score = accuracy * (cost / cost_target)^w; ``None``: the accuracy alone.
        cost_target: the target T, in the cost's unit (ms, M, MiB); needed with ``cost``.
        cost_constraint: ``soft`` (w = -0.07 on both sides of the target, MnasNet's soft constraint) or ``hard``
            (w = 0 within the target, -1 beyond it).
        cost_exponent: replaces MnasNet's w (<= 0): both sides' with ``soft``, the side beyond the target's
            with ``hard``.
        cost_setting: the network setting ``params``, ``madds`` and ``peak_mem`` are counted on (the
            ``dataset``'s own when ``None``).
    """

    strategy: str = "evolution"
    settings: Any = field(default=None, metadata=typed_by("strategy", blackbox_config_type, list_blackbox))
    space: Literal["nb201"] = "nb201"
    dataset: str = "cifar10"
    select: Literal["valid", "test"] = "valid"
    budget: int = 100
    batch_size: int = 1
    seed: int = 0
    data_dir: str | None = None
    tracking: tuple[str, ...] | str = ()
    ray: bool = False
    ray_address: str | None = None
    asynchronous: bool = False
    cost: str | None = None
    cost_target: float | None = None
    cost_constraint: Literal["soft", "hard"] = "soft"
    cost_exponent: float | None = None
    cost_setting: str | None = None

    def __post_init__(self) -> None:
        check_finite(self)
        fill_typed_fields(self)
        object.__setattr__(self, "tracking", tracking_names(self.tracking))
        canonical_dataset(self.dataset)  # an unknown one names the valid ones
        check_min(self, 0, "seed")
        if self.budget < 1 or self.batch_size < 1:
            raise ValueError(f"budget and batch_size must be >= 1; got {self.budget}, {self.batch_size}")
        for name in ("ray", "asynchronous"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.ray_address is not None and (not isinstance(self.ray_address, str) or not self.ray_address.strip()):
            raise ValueError(f"ray_address must be a Ray cluster address such as 'auto' or 'ray://head:10001', "
                             f"or None; got {self.ray_address!r}")
        self._check_cost()

    def _check_cost(self) -> None:
        if self.cost is not None:
            check_cost_spec(str(self.cost))
            if self.cost_target is None or not self.cost_target > 0:
                raise ValueError(f"cost={self.cost!r} needs cost_target > 0 (in the cost's unit), got "
                                 f"{self.cost_target}")
        elif self.cost_target is not None or self.cost_exponent is not None:
            raise ValueError("cost_target / cost_exponent are set but cost is not; name the cost, e.g. "
                             "cost='nb201:raspi4'")
        if self.cost_constraint not in EXPONENTS:
            raise ValueError(f"cost_constraint must be one of {tuple(EXPONENTS)}, got {self.cost_constraint!r}")
        if self.cost_exponent is not None and not self.cost_exponent <= 0:
            raise ValueError(f"cost_exponent must be <= 0 (a positive w would reward cost), got "
                             f"{self.cost_exponent}")

    def reward(self, space: Space, estimator: Any) -> Any:
        """``estimator`` with the cost folded in (:class:`MnasReward`), or unchanged without a cost."""
        if self.cost is None:
            return estimator
        cost = make_cost(self.cost, space, self.cost_setting or canonical_dataset(self.dataset), self.data_dir)
        alpha, beta = EXPONENTS[self.cost_constraint]
        if self.cost_exponent is not None:
            alpha, beta = (alpha if self.cost_constraint == "hard" else self.cost_exponent), self.cost_exponent
        return MnasReward(estimator, cost, float(self.cost_target or 0), alpha=alpha, beta=beta)

    @property
    def uses_ray(self) -> bool:
        """Whether trials run as Ray tasks (``ray`` or a ``ray_address``)."""
        return self.ray or self.ray_address is not None


def run_blackbox_search(config: BlackBoxConfig, run_dir: str | Path, *, resume: bool = False,
                        catch: tuple[type[BaseException], ...] = (ValueError, RuntimeError)) -> dict[str, Any]:
    """Runs (or resumes) a black-box search into ``run_dir``; returns (and writes) ``result.json``'s content.

    ``catch``: exception types that fail one trial instead of the run (Optuna's ``catch=``). With
    ``config.ray`` (or ``ray_address``) each batch's trials run as parallel Ray tasks, told in the ask order.
    """
    space = get_space(config.space)
    table = NB201Benchmark(config.dataset, select=config.select, data_dir=config.data_dir)
    estimator = config.reward(space, table)
    strategy = create_blackbox(config.strategy, space, config.settings, config.seed)
    len(table.table)  # reads the table now: a missing one is an error before the run directory exists
    check_trackers(config.tracking)
    if config.uses_ray:
        import_ray()  # a missing extra is one line naming it, before the run directory exists
    run = Run(run_dir)
    with run.lock(resume=resume):
        resuming = run.create(_stored(config), resume=resume, defaults=_stored(BlackBoxConfig(config.strategy)))
        state = run.restore(key="trial", limit=config.budget, parts={"strategy": strategy.load_state_dict},
                            numbers=("elapsed",)) if resuming else None
        records = [r for r in run.metrics() if "trial" in r]
        timer = Timer(offset=0.0 if state is None else float(state["elapsed"])).start()
        best = max((r for r in records if r["state"] == "complete"), key=lambda r: r["score"], default=None)
        if best is not None:  # a logged line: the trial's record without the incumbent fields logged beside it
            best = {k: v for k, v in best.items() if k not in ("best_score", "best_arch")}
        pool = RayPool(config.ray_address) if config.uses_ray else None
        with run.tracking(config.tracking), pool or contextlib.nullcontext():  # mirrors of metrics.jsonl
            trials = (_asynchronous if config.asynchronous else _synchronous)(
                config, space, strategy, estimator, pool, catch, state)
            for done, trial, checkpoint in trials:
                record = _record(space, trial, done)
                if trial.state is TrialState.COMPLETE and (best is None or record["score"] > best["score"]):
                    best = record
                run.log({**record, "best_score": None if best is None else best["score"],
                         "best_arch": None if best is None else best["arch"]})
                if checkpoint is not None:
                    run.save_checkpoint({"trial": done, "elapsed": timer.elapsed, **checkpoint})
        records = [r for r in run.metrics() if "trial" in r]
        result = {"strategy": config.strategy, "space": config.space, "dataset": config.dataset,
                  "select": config.select, "trials": len(records),
                  "failed": sum(r["state"] == "fail" for r in records), "best": best, "seconds": timer.elapsed}
        if config.cost is not None:
            result["cost"] = {"cost": config.cost, "target": config.cost_target, "alpha": estimator.alpha,
                              "beta": estimator.beta, "trials_within_target": sum(
                                  r["cost"] <= float(config.cost_target or 0) for r in records if "cost" in r)}
        for stem, obj in strategy.outputs().items():
            run.write_json(f"{stem}.json", obj)
        try:
            from .report import plot_search_curves

            plot_search_curves(records, run.path_of("incumbent.png"), keys=("best_score", "score"), x="trial",
                               title=f"{config.strategy}: each trial and the incumbent")
            strategy.figures(run.path)
        except ImportError as err:  # plots need the `plot` extra; the numbers are in the files
            _log.warning("no figures written to %s (%s); the numbers are all in its JSON files", run.path, err)
        run.write_json("result.json", result)
        return result


_Told = Iterator[tuple[int, Trial, dict[str, Any] | None]]
"""Each trial with its place in the tell order (1-based) and, after the last trial a checkpoint covers, what
the checkpoint holds besides the count and the time."""


def _synchronous(config: BlackBoxConfig, space: Space, strategy: BlackBoxStrategy, estimator: Any,
                 pool: RayPool | None, catch: tuple[type[BaseException], ...], state: dict[str, Any] | None
                 ) -> _Told:
    """Batches of ``batch_size``: asked, evaluated (as Ray tasks with a pool), told in the ask order; one
    checkpoint per batch."""
    done = 0 if state is None else int(state["trial"])
    mapper = sequential_map if pool is None else pool.map
    while done < config.budget:
        trials = evaluate_batch(strategy, estimator, min(config.batch_size, config.budget - done), done, catch,
                                mapper)
        for k, trial in enumerate(trials, 1):
            yield done + k, trial, {"strategy": strategy.state_dict()} if k == len(trials) else None
        done += len(trials)


def _asynchronous(config: BlackBoxConfig, space: Space, strategy: BlackBoxStrategy, estimator: Any,
                  pool: RayPool | None, catch: tuple[type[BaseException], ...], state: dict[str, Any] | None
                  ) -> _Told:
    """``batch_size`` trials in flight, each told as it finishes; a checkpoint after every trial, keeping the
    trials still in flight (asked, not yet told)."""
    done = 0 if state is None else int(state["trial"])
    asked = done if state is None else int(state.get("asked", done))
    pending = [] if state is None else [(int(n), space.parse(a)) for n, a in state.get("pending", [])]
    loop = AsyncTrials(strategy, estimator, pool or SequentialPool(), config.budget, config.batch_size, catch,
                       asked, pending)
    for trial in loop:
        done += 1
        yield done, trial, {"strategy": strategy.state_dict(), "asked": loop.asked,
                            "pending": [[n, space.format(a)] for n, a in loop.pending.items()]}


def _stored(config: BlackBoxConfig) -> dict[str, Any]:
    """The config as ``config.yaml`` keeps it: without where the trials ran, which changes no result."""
    return {k: v for k, v in to_dict(config).items() if k not in ("ray", "ray_address")}


def _record(space: Space, trial: Trial, told: int) -> dict[str, Any]:
    """A trial as one metrics line: its place in the tell order (the 1-based ``trial`` count) and in the ask
    order (``number``, 0-based; the same place in a synchronous run), state, score, arch and the numbers of the
    estimator's result."""
    out: dict[str, Any] = {"trial": told, "number": trial.number, "arch": space.format(trial.arch),
                           "state": trial.state.value, "score": trial.score}
    if trial.error is not None:
        out["error"] = trial.error
    if dataclasses.is_dataclass(trial.result) and not isinstance(trial.result, type):
        fields = dataclasses.asdict(trial.result)
        nested = [v for v in fields.values() if isinstance(v, dict)]  # a wrapped result (a reward's accuracy)
        for part in (fields, *nested):
            out.update({k: v for k, v in part.items() if isinstance(v, (int, float, str)) and k not in out})
    return out


def trajectory_of(run_dir: str | Path) -> Trajectory:
    """The trajectory of a black-box run directory, from its trial records (results: the records)."""
    space = get_space(str(Run(run_dir).config().get("space", "nb201")))
    trials: list[Trial] = []
    for r in Run(run_dir).metrics():
        if "trial" not in r:
            continue
        arch: Hashable = space.parse(r["arch"])
        trials.append(Trial(r["number"], arch, TrialState(r["state"]), r["score"], r, r.get("error")))
    return Trajectory.of(trials)


def run_blackbox_seeds(config: BlackBoxConfig, root: str | Path, seeds: Sequence[int], *, resume: bool = False
                       ) -> dict[str, Any]:
    """One run per seed into ``root/seed-N``; returns (and writes ``root/summary.json``) the incumbents' mean
    and std of the score and of the test accuracy."""
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    root = Path(root)
    results = [run_blackbox_search(dataclasses.replace(config, seed=s), root / f"seed-{s}",
                                   resume=resume and Run(root / f"seed-{s}").exists()) for s in seeds]
    found = [r["best"] for r in results if r["best"] is not None]

    def mean_std(key: str) -> dict[str, float | None]:
        values = [float(b[key]) for b in found if isinstance(b.get(key), (int, float))]
        return {"mean": statistics.mean(values) if values else None,
                "std": statistics.stdev(values) if len(values) > 1 else 0.0 if values else None}

    summary = {"strategy": config.strategy, "dataset": config.dataset, "budget": config.budget,
               "seeds": list(seeds), "score": mean_std("score"), "test_accuracy": mean_std("test_accuracy"),
               **({"cost": mean_std("cost")} if config.cost is not None else {}),
               "runs": [str(root / f"seed-{s}") for s in seeds]}
    root.mkdir(parents=True, exist_ok=True)
    Run(root).write_json("summary.json", summary)
    return summary
