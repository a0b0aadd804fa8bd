"""Hyper-parameter search of the training recipe with Optuna (``parsecnas tune``).

A study tunes the :class:`~parsecnas.train.TrainConfig` fields named by a
:class:`~parsecnas.tune_space.SearchSpace` for one genotype. Each trial is an ordinary training run
(``RUN_DIR/trial-NNNN``, its own ``config.yaml``, ``metrics.jsonl``, ``result.json``) scored by its validation
accuracy on training images held out (``validation: held_out``, ``val_examples`` of them; the test set never ranks
a trial). The sampler is Optuna's TPE (default), CMA-ES or random; epochs are the fidelity of Hyperband or
successive-halving pruning (Optuna's pruners), which see the validation accuracy after every epoch, so TPE +
Hyperband is the BOHB recipe. With two objectives (validation accuracy up, parameters down) the sampler is
multi-objective (TPE, NSGA-II or random) and the summary lists the Pareto front; Optuna does not prune
multi-objective trials.

With ``architecture: SPACE`` in the search space the study searches the architecture jointly with the recipe:
every decision of the space is one more categorical parameter (``arch:<decision>``, its choices the decision's
labels), each trial trains the architecture its choices make, and a given genotype is tried first. Only spaces
whose architectures ``train_genotype`` trains from scratch (DARTS genotypes) can be searched this way.

The study lives in ``RUN_DIR/study.journal`` (Optuna's journal storage, which ``optuna-dashboard`` opens): a
killed study resumes with ``resume=True`` and keeps its finished trials; a trial that was running when the
process died is marked failed (``interrupted``) and its parameters are tried again first. ``summary.json`` holds
the best parameters and value, the best trial's run directory and every trial's state.

Example:
    >>> from parsecnas.train import TrainConfig
    >>> from parsecnas.tune_space import parse_space
    >>> base = TrainConfig(dataset="fashion-mnist-small", num_cells=3, channels=8, epochs=3, steps_per_epoch=5)
    >>> space = parse_space({"lr": {"low": 0.01, "high": 0.1, "log": True}}, TrainConfig, base)
    >>> tune("DARTS_V2", base, space, TuneConfig(trials=4), "/tmp/parsecnas-tune-doc")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from .config import ConfigError, check_finite, to_dict
from .run import Run
from .run.divergence import DivergedError
from .spaces import Space, get_space
from .spaces.genotype import Genotype, resolve_genotype
from .train import TrainConfig, train_genotype
from .tune_space import SearchSpace

__all__ = ["OBJECTIVES", "PRUNERS", "SAMPLERS", "TuneConfig", "tune"]

SAMPLERS = ("tpe", "cmaes", "random", "nsga2")
PRUNERS = ("hyperband", "halving", "none")
OBJECTIVES: dict[str, Literal["maximize", "minimize"]] = {"val_accuracy": "maximize", "params_m": "minimize"}
STUDY_FILE = "study.journal"
ARCH_PREFIX = "arch:"


@dataclass(frozen=True)
class TuneConfig:
    """How a study searches.

    Attributes:
        trials: trials to finish (complete, pruned or failed; interrupted ones are not counted). A resume may
            raise it.
        sampler: ``tpe`` (default), ``cmaes`` (needs the ``cmaes`` package; categorical fields are sampled at
            random), ``random``, or ``nsga2`` (multi-objective).
        pruner: ``hyperband`` (default), ``halving`` (successive halving) or ``none``; epochs are the resource.
        min_epochs: the pruners' minimum resource: epochs every trial trains before it can be stopped.
        reduction_factor: the pruners' eta: the share 1 / eta of trials promoted at each rung.
        startup_trials: TPE's random trials before it models the results (Optuna's default 10).
        objectives: ``[val_accuracy]``, or ``[val_accuracy, params_m]`` for accuracy against parameters.
        seed: the sampler's seed (the trials' own seeds are the ``TrainConfig`` seed).
    """

    trials: int = 20
    sampler: str = "tpe"
    pruner: str = "hyperband"
    min_epochs: int = 1
    reduction_factor: int = 3
    startup_trials: int = 10
    objectives: tuple[str, ...] = ("val_accuracy",)
    seed: int = 0

    def __post_init__(self) -> None:
        check_finite(self)
        if self.trials < 1 or self.min_epochs < 1 or self.reduction_factor < 2 or self.startup_trials < 0:
            raise ConfigError(f"need trials >= 1, min_epochs >= 1, reduction_factor >= 2 and startup_trials >= 0; "
                              f"got {self.trials}, {self.min_epochs}, {self.reduction_factor}, {self.startup_trials}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"unknown sampler {self.sampler!r}; valid: {', '.join(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"unknown pruner {self.pruner!r}; valid: {', '.join(PRUNERS)}")
        objectives = tuple(self.objectives)
        if not objectives or objectives[0] != "val_accuracy" or len(set(objectives)) != len(objectives) or any(
                o not in OBJECTIVES for o in objectives):
            raise ConfigError(f"objectives {list(objectives)}: give [val_accuracy] or [val_accuracy, params_m]")
        object.__setattr__(self, "objectives", objectives)
        if len(objectives) > 1 and self.pruner != "none":
            raise ConfigError("Optuna prunes single-objective studies only: with two objectives give pruner none")
        if len(objectives) > 1 and self.sampler == "cmaes":
            raise ConfigError("CMA-ES is single-objective; with two objectives use sampler tpe, nsga2 or random")


TrialHook = Callable[[dict[str, Any]], None]
"""Called with each trial's record (number, state, params, values, epochs, run_dir) when it ends (logging)."""


def tune(genotype: Genotype | str | Path | None, base: TrainConfig, space: SearchSpace, config: TuneConfig,
         run_dir: str | Path, *, resume: bool = False, first: Sequence[Mapping[str, Any]] = (),
         on_trial: TrialHook | None = None) -> dict[str, Any]:
    """Runs (or resumes) a study over ``space`` around ``base`` for ``genotype``; returns ``summary.json``.

    ``first`` lists parameter sets a new study tries before its sampler's own (a known recipe, a baseline);
    ``on_trial`` sees each trial's record as it ends (see :data:`TrialHook`). When ``space`` searches the
    architecture too, ``genotype`` (optional then) is the architecture of the first trials.

    Trials are scored on held-out training images (``validation=held_out``, ``val_examples`` of them), so
    ``base.validation`` must be ``held_out``: the test set never ranks a recipe.
    """
    import optuna

    if base.validation != "held_out":
        raise ConfigError(f"tune scores trials on held-out training images: give validation=held_out, not "
                          f"{base.validation!r}")
    arch_space = _architecture_space(space.architecture)
    if genotype is None and arch_space is None:
        raise ConfigError("give the genotype whose recipe to tune, or search it too with 'architecture: darts' in "
                          "the search space")
    arch = None if genotype is None else resolve_genotype(genotype)
    sampler, pruner = _sampler(config), _pruner(config, base.epochs)  # a missing package: before any file is written
    run = Run(run_dir)
    with run.lock(resume=resume):
        run.create({"genotype": None if arch is None else arch.to_dict(), "tune": to_dict(config),
                    "space": space.to_dict(), "train": to_dict(base)}, resume=resume, extendable=("tune.trials",))
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(run.path_of(STUDY_FILE))))
        study = optuna.create_study(study_name="tune", storage=storage, load_if_exists=True,
                                    sampler=sampler, pruner=pruner,
                                    directions=[OBJECTIVES[o] for o in config.objectives])
        if not study.trials:
            given = {} if arch_space is None or arch is None else _arch_params(arch_space, arch)
            for params in list(first) or ([{}] if given else []):
                study.enqueue_trial({**given, **params})
        _recover_interrupted(study, storage)
        distributions = {**space.distributions(), **_arch_distributions(arch_space)}
        while _finished(study) < config.trials:
            record = _run_trial(study, distributions, _trial_arch(arch_space, arch), base, config, run)
            if on_trial is not None:
                on_trial(record)
        summary = _summary(study, config, run)
        run.write_json("summary.json", summary)
        return summary


def _architecture_space(name: str | None) -> Space | None:
    """The space a study searches jointly with the recipe, checked to be one ``train_genotype`` trains."""
    if name is None:
        return None
    try:
        space = get_space(name)
    except (KeyError, ValueError) as err:
        raise ConfigError(f"search space entry 'architecture': {err}") from err
    if not isinstance(space.from_choices([0] * len(space.decisions)), Genotype):
        raise ConfigError(f"search space entry 'architecture': tune trains DARTS-space genotypes from scratch; "
                          f"the {name!r} space's architectures are not genotypes (give architecture: darts)")
    return space


def _arch_distributions(space: Space | None) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution

    decisions = () if space is None else space.decisions
    return {ARCH_PREFIX + d.name: CategoricalDistribution(list(d.choices)) for d in decisions}


def _arch_params(space: Space, arch: Genotype) -> dict[str, str]:
    """The ``arch:`` parameters of ``arch`` (how a given genotype is enqueued as a trial)."""
    return {ARCH_PREFIX + d.name: d.choices[c] for d, c in zip(space.decisions, space.to_choices(arch), strict=True)}


def _trial_arch(space: Space | None, fixed: Genotype | None) -> Callable[[Mapping[str, Any]], Genotype]:
    """A trial's architecture from its parameters: ``fixed``, or the one its ``arch:`` choices make."""
    def arch_of(params: Mapping[str, Any]) -> Genotype:
        if space is None:
            assert fixed is not None
            return fixed
        choices = [d.choices.index(params[ARCH_PREFIX + d.name]) for d in space.decisions]
        arch = space.from_choices(choices)
        assert isinstance(arch, Genotype)
        return arch

    return arch_of


def _sampler(config: TuneConfig) -> Any:
    import optuna

    if config.sampler == "cmaes":
        try:
            import cmaes  # noqa: F401 - Optuna's CmaEsSampler needs it
        except ImportError as err:
            raise ImportError("sampler cmaes needs the cmaes package: pip install 'parsecnas[tune]'") from err
        return optuna.samplers.CmaEsSampler(seed=config.seed, n_startup_trials=config.startup_trials,
                                            warn_independent_sampling=False)
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=config.seed)
    if config.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=config.seed)
    return optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=config.startup_trials)


def _pruner(config: TuneConfig, epochs: int) -> Any:
    import optuna

    if config.pruner == "hyperband" and epochs > config.min_epochs:
        return optuna.pruners.HyperbandPruner(min_resource=config.min_epochs, max_resource=epochs,
                                              reduction_factor=config.reduction_factor)
    if config.pruner == "halving" and epochs > config.min_epochs:
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=config.min_epochs,
                                                      reduction_factor=config.reduction_factor)
    return optuna.pruners.NopPruner()


def _recover_interrupted(study: Any, storage: Any) -> None:
    """Trials left running by a killed process: marked failed (``interrupted``), their parameters enqueued."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def _finished(study: Any) -> int:
    from optuna.trial import TrialState

    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return sum(1 for t in study.get_trials(deepcopy=False, states=done) if not t.user_attrs.get("interrupted"))


def _run_trial(study: Any, distributions: dict[str, Any], arch_of: Callable[[Mapping[str, Any]], Genotype],
               base: TrainConfig, config: TuneConfig, run: Run) -> dict[str, Any]:
    """One trial: ask, train in its own run directory while reporting each epoch's validation accuracy, tell."""
    import optuna
    from optuna.trial import TrialState

    trial = study.ask(fixed_distributions=distributions)
    name = f"trial-{trial.number:04d}"
    trial.set_user_attr("run_dir", name)
    arch = arch_of(trial.params)
    trial.set_user_attr("architecture", str(arch))
    recipe = {k: v for k, v in trial.params.items() if not k.startswith(ARCH_PREFIX)}
    epochs: list[int] = []

    def report(record: dict[str, Any]) -> None:
        epochs.append(int(record["epoch"]))
        if len(config.objectives) == 1:
            trial.report(float(record["val_accuracy"]), int(record["epoch"]))
            if trial.should_prune():
                raise optuna.TrialPruned()

    values: list[float] | None = None
    try:
        trial_config = replace(base, **recipe)
        result = train_genotype(arch, trial_config, run.path_of(name), progress=False, on_epoch=report)
    except optuna.TrialPruned:
        state = TrialState.PRUNED
    except (ValueError, DivergedError) as err:  # a refused combination of values, or a diverged run
        trial.set_user_attr("error", str(err).splitlines()[0])
        state = TrialState.FAIL
    else:
        state = TrialState.COMPLETE
        values = [float(result[o]) for o in config.objectives]
    trial.set_user_attr("epochs", max(epochs, default=0))
    study.tell(trial, values, state=state)
    return _record(study.trials[trial.number])


def _record(trial: Any) -> dict[str, Any]:
    return {"number": trial.number, "state": trial.state.name, "params": trial.params,
            "values": trial.values, "epochs": trial.user_attrs.get("epochs", 0),
            "run_dir": trial.user_attrs.get("run_dir"), "architecture": trial.user_attrs.get("architecture"),
            **({"error": trial.user_attrs["error"]} if "error" in trial.user_attrs else {})}


def _summary(study: Any, config: TuneConfig, run: Run) -> dict[str, Any]:
    from optuna.trial import TrialState

    trials = [t for t in study.trials if not t.user_attrs.get("interrupted")]
    count = {s: sum(t.state == s for t in trials) for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    summary: dict[str, Any] = {
        "objectives": list(config.objectives), "sampler": config.sampler, "pruner": config.pruner,
        "trials": len(trials), "complete": count[TrialState.COMPLETE], "pruned": count[TrialState.PRUNED],
        "failed": count[TrialState.FAIL], "epochs_trained": sum(t.user_attrs.get("epochs", 0) for t in trials),
        "study": str(run.path_of(STUDY_FILE)),
    }
    if count[TrialState.COMPLETE] and len(config.objectives) == 1:
        best = study.best_trial
        summary.update(best_params=best.params, best_value=best.value, best_trial=best.number,
                       best_run_dir=str(run.path_of(best.user_attrs["run_dir"])),
                       best_architecture=best.user_attrs.get("architecture"))
    elif count[TrialState.COMPLETE]:
        summary["pareto_front"] = [_record(t) for t in study.best_trials]
    summary["records"] = [_record(t) for t in trials]
    return summary
