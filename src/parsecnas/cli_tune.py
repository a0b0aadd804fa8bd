"""``parsecnas tune``: hyper-parameter search of a genotype's training recipe with Optuna (the library call is
:func:`parsecnas.tune.tune`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .config import ConfigError

__all__ = ["add_parsers", "from_stored", "run_tune"]

_TUNE_FLAGS = {"trials": "trials", "sampler": "sampler", "pruner": "pruner", "min_epochs": "min_epochs",
               "eta": "reduction_factor", "startup_trials": "startup_trials", "objectives": "objectives",
               "tune_seed": "seed"}
"""``parsecnas tune`` flags -> ``TuneConfig`` fields (a flag left out keeps the stored or default value)."""


def _stored(run_dir: str) -> dict[str, Any] | None:
    """The settings a study stored in ``run_dir/config.yaml`` (None for a new run directory)."""
    from .config import read_yaml

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return None
    data = read_yaml(path, "stored config", "the run's own config.yaml")
    if not isinstance(data, dict) or not {"train", "tune", "space"} <= set(data):
        raise ConfigError(f"{run_dir} is not a tune run directory (its config.yaml has no train/tune/space); "
                          "give another --run-dir")
    return data


def from_stored(cls: type, stored: dict[str, Any], key: str, run_dir: str) -> Any:
    """The ``cls`` config stored under ``key`` of a tune run's config.yaml."""
    from .config import stored_config

    return stored_config(cls, stored[key], f"the stored {key} settings of {run_dir}")


def _stored_genotype(stored: dict[str, Any]) -> Any:
    from .spaces.genotype import Genotype

    return None if stored.get("genotype") is None else Genotype.from_dict(stored["genotype"])



def run_tune(args: argparse.Namespace, overrides: Sequence[str], run_dir: str) -> int:
    """Tunes the ``TrainConfig`` fields of ``--space`` for GENOTYPE (or GENOTYPE too, with ``architecture:`` in
    the space): one training run per trial, scored on a held-out part of the training set; prints and writes
    ``summary.json``. ``overrides`` are the base recipe's ``key=value`` fields; ``cli.cmd_tune`` parses them and
    names ``run_dir``. ``--resume`` continues the study in ``run_dir`` with the settings it stored (flags given
    go over them; ``--trials`` may be raised)."""
    from .config import load_config
    from .train import TrainConfig, protocol_config, search_data
    from .tune import TuneConfig, tune
    from .tune_space import load_space, parse_space

    stored = _stored(run_dir) if args.resume else None
    genotype = args.genotype if args.genotype or stored is None else _stored_genotype(stored)
    if stored is not None and args.config is None:
        base = load_config(TrainConfig, None, overrides, base=from_stored(TrainConfig, stored, "train", run_dir))
    else:
        base = replace(protocol_config(args.protocol), **(search_data(genotype) if genotype else {}))
        base = load_config(TrainConfig, args.config, overrides, base=base)
    if args.space is not None:
        space = load_space(args.space, TrainConfig, base)
    elif stored is not None:
        space = parse_space(stored.get("space"), TrainConfig, base)
    else:
        raise ConfigError("give --space FILE.yaml: the TrainConfig fields to tune (see parsecnas tune --help)")
    given = {k: v for k, v in vars(args).items() if k in _TUNE_FLAGS and v is not None}
    tuned = from_stored(TuneConfig, stored, "tune", run_dir) if stored is not None else TuneConfig()
    config = replace(tuned, **{_TUNE_FLAGS[k]: tuple(v) if k == "objectives" else v for k, v in given.items()})
    args.run_dir = run_dir  # named in the message of an interrupt
    if not args.quiet:
        what = args.genotype or ("the architecture" if space.architecture else "the stored genotype")
        print(f"tuning {', '.join(space.names)} of {what} on {base.dataset}: {config.trials} trials, "
              f"{config.sampler} sampler, {config.pruner} pruning over {base.epochs} epochs; study in "
              f"{run_dir}/study.journal", flush=True)

    def show(record: dict[str, Any]) -> None:
        if not args.quiet:
            values = ", ".join(f"{v:.4f}" for v in record["values"] or [])
            print(f"  trial {record['number']}: {record['state'].lower()} after {record['epochs']} epochs"
                  f"{' (' + values + ')' if values else ''} {json.dumps(record['params'])}", flush=True)

    summary = tune(genotype, base, space, config, run_dir, resume=args.resume, on_trial=show)
    print(json.dumps({k: v for k, v in summary.items() if k != "records"}, indent=2))
    print(f"\nsummary: {run_dir}/summary.json; trials: {run_dir}/trial-NNNN; "
          f"dashboard: optuna-dashboard {run_dir}/study.journal")
    return 0


def add_parsers(sub: Any, command: Callable[[argparse.Namespace, Sequence[str]], int]) -> None:
    """The ``tune`` sub-command on the CLI's sub-parsers, run by ``command``."""
    p = sub.add_parser("tune", help="tune a genotype's training recipe with Optuna (TPE + Hyperband, ...)",
                       allow_abbrev=False)
    p.add_argument("genotype", nargs="?",
                   help="published name, genotype JSON file, search run directory or string (optional with "
                        "'architecture: darts' in the space, or with --resume)")
    p.add_argument("--space", metavar="FILE.yaml",
                   help="the tuned TrainConfig fields: NAME: {low: .., high: .., log: true, step: ..} or "
                        "NAME: [choice, ...]; 'architecture: darts' searches the genotype too (with --resume: "
                        "the stored one)")
    p.add_argument("--protocol", choices=("cifar", "imagenet"), default="cifar",
                   help="the base recipe's defaults; --key=value overrides any TrainConfig field")
    p.add_argument("--config", help="YAML file of TrainConfig fields: the base recipe")
    p.add_argument("--trials", type=int, help="trials to finish (default 20; a resume may raise it)")
    p.add_argument("--sampler", help="tpe (default), cmaes, random or nsga2")
    p.add_argument("--pruner", help="hyperband (default), halving or none")
    p.add_argument("--min-epochs", type=int, help="epochs before a trial can be pruned (default 1)")
    p.add_argument("--eta", type=int, help="the pruners' reduction factor (default 3)")
    p.add_argument("--startup-trials", type=int, help="TPE's random trials first (default 10)")
    p.add_argument("--objectives", nargs="+",
                   help="val_accuracy (default), or val_accuracy params_m (multi-objective, no pruning)")
    p.add_argument("--tune-seed", type=int, help="the sampler's seed (default 0; --seed is the trials' own)")
    p.add_argument("--run-dir", help="run directory (default runs/tune-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the study in --run-dir with its stored settings (flags given go over them)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=command)
