"""``parsecnas tune``: hyper-parameter search of a genotype's training recipe with Optuna (the library call is
:func:`parsecnas.tune.tune`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

__all__ = ["add_parsers", "run_tune"]


def run_tune(args: argparse.Namespace, overrides: Sequence[str], run_dir: str) -> int:
    """Tunes the ``TrainConfig`` fields of ``--space`` for GENOTYPE: one training run per trial, scored on a
    held-out part of the training set; prints and writes ``summary.json``. ``overrides`` are the base recipe's
    ``key=value`` fields; ``cli.cmd_tune`` parses them and names ``run_dir``."""
    from .config import load_config
    from .train import TrainConfig, protocol_config, search_data
    from .tune import TuneConfig, tune
    from .tune_space import load_space

    base = replace(protocol_config(args.protocol), **search_data(args.genotype))
    base = load_config(TrainConfig, args.config, overrides, base=base)
    space = load_space(args.space, TrainConfig, base)
    config = TuneConfig(trials=args.trials, sampler=args.sampler, pruner=args.pruner, min_epochs=args.min_epochs,
                        reduction_factor=args.eta, startup_trials=args.startup_trials,
                        objectives=tuple(args.objectives), seed=args.tune_seed)
    args.run_dir = run_dir  # named in the message of an interrupt
    if not args.quiet:
        print(f"tuning {', '.join(space.names)} of {args.genotype} on {base.dataset}: {config.trials} trials, "
              f"{config.sampler} sampler, {config.pruner} pruning over {base.epochs} epochs; study in "
              f"{run_dir}/study.journal", flush=True)

    def show(record: dict[str, Any]) -> None:
        if not args.quiet:
            values = ", ".join(f"{v:.4f}" for v in record["values"] or [])
            print(f"  trial {record['number']}: {record['state'].lower()} after {record['epochs']} epochs"
                  f"{' (' + values + ')' if values else ''} {json.dumps(record['params'])}", flush=True)

    summary = tune(args.genotype, base, space, config, run_dir, resume=args.resume, on_trial=show)
    print(json.dumps({k: v for k, v in summary.items() if k != "records"}, indent=2))
    print(f"\nsummary: {run_dir}/summary.json; trials: {run_dir}/trial-NNNN; "
          f"dashboard: optuna-dashboard {run_dir}/study.journal")
    return 0


def add_parsers(sub: Any, command: Callable[[argparse.Namespace, Sequence[str]], int]) -> None:
    """The ``tune`` sub-command on the CLI's sub-parsers, run by ``command``."""
    p = sub.add_parser("tune", help="tune a genotype's training recipe with Optuna (TPE + Hyperband, ...)",
                       allow_abbrev=False)
    p.add_argument("genotype", help="published name, genotype JSON file, search run directory or string")
    p.add_argument("--space", required=True, metavar="FILE.yaml",
                   help="the tuned TrainConfig fields: NAME: {low: .., high: .., log: true, step: ..} or "
                        "NAME: [choice, ...]")
    p.add_argument("--protocol", choices=("cifar", "imagenet"), default="cifar",
                   help="the base recipe's defaults; --key=value overrides any TrainConfig field")
    p.add_argument("--config", help="YAML file of TrainConfig fields: the base recipe")
    p.add_argument("--trials", type=int, default=20, help="trials to finish (default 20; a resume may raise it)")
    p.add_argument("--sampler", default="tpe", help="tpe (default), cmaes, random or nsga2")
    p.add_argument("--pruner", default="hyperband", help="hyperband (default), halving or none")
    p.add_argument("--min-epochs", type=int, default=1, help="epochs before a trial can be pruned (default 1)")
    p.add_argument("--eta", type=int, default=3, help="the pruners' reduction factor (default 3)")
    p.add_argument("--startup-trials", type=int, default=10, help="TPE's random trials first (default 10)")
    p.add_argument("--objectives", nargs="+", default=["val_accuracy"],
                   help="val_accuracy (default), or val_accuracy params_m (multi-objective, no pruning)")
    p.add_argument("--tune-seed", type=int, default=0, help="the sampler's seed (--seed is the trials' own)")
    p.add_argument("--run-dir", help="run directory (default runs/tune-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the study in --run-dir")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=command)
