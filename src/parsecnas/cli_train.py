"""``parsecnas train``: train a genotype from scratch, once, once per seed (in-process or as Ray tasks), or as
an ensemble of samples from a search's learnt distribution (the library calls:
:func:`parsecnas.train.train_genotype`, :func:`parsecnas.train_seeds.train_seeds` and
:func:`parsecnas.ensemble.train_ensemble`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ConfigError

if TYPE_CHECKING:
    from .train import TrainConfig

__all__ = ["run_train"]

RunDirNamer = Callable[..., str]
"""``cli._run_dir``: the given ``--run-dir``, or a new time-stamped folder of a kind (``train``, ``ensemble``)."""


def run_train(args: argparse.Namespace, config: TrainConfig, name_run_dir: RunDirNamer) -> int:
    """Runs the training ``cli.cmd_train`` resolved ``config`` for; ``name_run_dir`` names the run directory."""
    from .train import train_genotype
    from .train_seeds import train_seeds

    if (args.ray or args.ray_address) and not args.seeds:
        raise ConfigError("--ray runs each seed of --seeds as a Ray task; add --seeds S1 S2 ... (one training "
                          "runs in this process, or under torchrun)")
    if args.ensemble is not None or args.ensemble_random or args.with_mode:
        return _train_ensemble(args, config, name_run_dir)
    run_dir = args.run_dir = name_run_dir("train", args.run_dir, config.device)  # named if interrupted
    if args.seeds:
        pool = _seed_pool(args)
        with pool or contextlib.nullcontext():
            summary = train_seeds(args.genotype, config, run_dir, args.seeds, resume=args.resume,
                                  progress=not args.quiet, **({} if pool is None else {"mapper": pool.map}))
        print(json.dumps({k: v for k, v in summary.items() if k not in ("genotype", "runs")}, indent=2))
        print(f"\nresults: {run_dir}/summary.json; compare runs with: parsecnas table {run_dir}")
        return 0
    result = train_genotype(args.genotype, config, run_dir, resume=args.resume, progress=not args.quiet)
    print(json.dumps({k: v for k, v in result.items() if k != "genotype"}, indent=2))
    print(f"\nmodel: {run_dir}/model.pt (evaluate: parsecnas evaluate {run_dir}; "
          f"export: parsecnas export {run_dir} --format torchscript)")
    return 0


def _seed_pool(args: argparse.Namespace) -> Any:
    """The Ray pool that ``train --seeds ... --ray`` runs its seeds on, or None without ``--ray``."""
    if not (args.ray or args.ray_address):
        return None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("--ray and torchrun do not combine: under torchrun every rank trains each seed together; "
                          "launch without torchrun to run the seeds as Ray tasks")
    from .run.ray_pool import RayPool, import_ray

    import_ray()  # a missing extra is one line before any seed starts
    return RayPool(args.ray_address)


def _train_ensemble(args: argparse.Namespace, config: TrainConfig, name_run_dir: RunDirNamer) -> int:
    """``train RUN_DIR --ensemble M``: M members sampled from the search's learnt distribution (or, with
    ``--ensemble-random``, uniform over its space), each trained from scratch; their softmax outputs averaged."""
    from .ensemble import random_ensemble, run_space, sample_ensemble, train_ensemble
    from .spaces.genotype import genotype_path

    m, source = args.ensemble, Path(args.genotype)
    if m is None:
        raise ConfigError("--ensemble-random and --with-mode need the ensemble size: --ensemble M")
    if m < 1:
        raise ConfigError(f"--ensemble {m}: the ensemble size M must be an integer >= 1 (e.g. --ensemble 4)")
    if args.seeds:
        raise ConfigError(f"--ensemble {m} and --seeds {args.seeds} do not combine; member i trains with seed "
                          "S + i (set S with --seed=S)")
    if args.ensemble_random and args.with_mode:
        raise ConfigError("--with-mode puts the learnt mode first; --ensemble-random draws uniform members only")
    if genotype_path(args.genotype) is None or not (source / "distribution.json").is_file():
        raise ConfigError(f"--ensemble needs a PARSEC search run directory holding distribution.json; "
                          f"{args.genotype!r} is not one (train a genotype name or file without --ensemble)")
    if args.ensemble_random:
        members = random_ensemble(run_space(source), m, config.seed)
    else:
        members = sample_ensemble(source, m, config.seed, include_mode=args.with_mode)
    out = args.run_dir = name_run_dir("ensemble", args.run_dir)  # named in the message of an interrupt
    summary = train_ensemble(members, config, out, mode_first=args.with_mode, resume=args.resume,
                             progress=not args.quiet)
    print(json.dumps({k: v for k, v in summary.items() if k != "members"}, indent=2))
    print(f"\nresults: {out}/ensemble.json; members: {out}/member-0 .. member-{m - 1}")
    return 0
