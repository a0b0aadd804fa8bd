"""Ensembles from a learnt PARSEC distribution against its mode alone and against uniform random ensembles.

At the same per-member training budget, for each seed s: the search run's mode trained alone; an ensemble of M
architectures sampled from the run's learnt distribution (``--with-mode``: the mode and M - 1 samples); and an
ensemble of M uniform random architectures of the same space. Every member is trained from scratch with the
same protocol (member i with seed s + i); an ensemble predicts the mean of its members' softmax outputs on the
test split (``parsecnas.ensemble``).

    python benchmarks/bench_ensemble.py --search-run runs/search-1 --m 4 --seeds 0 1 2 --epochs 2 --steps 60
    python benchmarks/bench_ensemble.py --search-run runs/search-1 --m 2 --seeds 0 --epochs 1 --steps 2 \\
        --cells 2 --channels 4                                                         # smoke test, < 1 min

Each member's ``result.json`` and each ensemble's ``ensemble.json`` are written under ``--out`` as they finish,
and ``results.json`` after each ensemble; rerunning the same command resumes, skipping finished members.
Prints a markdown table per seed and one of the mean +- std over seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

from _measure import environment, markdown_table

from parsecnas.ensemble import random_ensemble, run_space, sample_ensemble, train_ensemble
from parsecnas.run import Run
from parsecnas.search import DataConfig
from parsecnas.train import TrainConfig

ENTRIES = ("mode", "learnt", "random")
LABELS = {"mode": "mode alone", "learnt": "ensemble of PARSEC samples", "random": "ensemble of uniform random"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--search-run", required=True, help="a PARSEC search run directory (distribution.json)")
    p.add_argument("--m", type=int, default=3, help="ensemble size M")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="sampling and training seeds")
    p.add_argument("--with-mode", action="store_true", help="the learnt ensemble's member 0 is the mode")
    p.add_argument("--epochs", type=int, default=2, help="training epochs per member")
    p.add_argument("--steps", type=int, default=60, help="steps per epoch per member (0: one pass over the data)")
    p.add_argument("--cells", type=int, default=5)
    p.add_argument("--channels", type=int, default=12)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--dataset", help="default: the search run's dataset")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="runs/bench-ensemble")
    args = p.parse_args()
    if args.m < 1:
        p.error(f"--m {args.m}: the ensemble size must be >= 1")
    return args


def members_of(entry: str, args: argparse.Namespace, seed: int) -> list[Hashable]:
    if entry == "mode":
        return sample_ensemble(args.search_run, 1, seed, include_mode=True)
    if entry == "learnt":
        return sample_ensemble(args.search_run, args.m, seed, include_mode=args.with_mode)
    return random_ensemble(run_space(args.search_run), args.m, seed)


def search_dataset(search_run: str) -> str:
    """The dataset the search ran on (``data.dataset`` of its config.yaml, else the search's default)."""
    run = Run(search_run)
    data = (run.config().get("data") if run.exists() else None) or {}
    return str(data.get("dataset") or DataConfig().dataset)


def train_config(args: argparse.Namespace, seed: int) -> TrainConfig:
    return TrainConfig(dataset=args.dataset or search_dataset(args.search_run), num_cells=args.cells,
                       channels=args.channels, epochs=args.epochs, steps_per_epoch=args.steps or None,
                       batch_size=args.batch, cutout=0, seed=seed, device=args.device)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def seed_rows(results: dict[str, dict[str, Any]]) -> list[list[object]]:
    return [[LABELS[e], r["size"], fmt(r["test_error_pct"]), fmt(r["test_top5_error_pct"]),
             fmt(r["mean_member_error_pct"])] for e, r in results.items()]


def mean_std(values: Sequence[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} +- {std:.2f}"


def summary_rows(by_seed: dict[int, dict[str, dict[str, Any]]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for entry in ENTRIES:
        runs = [results[entry] for results in by_seed.values()]
        rows.append([LABELS[entry], runs[0]["size"], mean_std([r["test_error_pct"] for r in runs]),
                     mean_std([r["mean_member_error_pct"] for r in runs]), len(runs)])
    return rows


def main() -> None:
    args = parse_args()
    out = Path(args.out)
    print(environment(), flush=True)
    by_seed: dict[int, dict[str, dict[str, Any]]] = {}
    for seed in args.seeds:
        config = train_config(args, seed)
        by_seed[seed] = {}
        for entry in ENTRIES:
            root = out / f"seed-{seed}" / entry
            started = root.is_dir() and any(root.glob("member-*/config.yaml"))  # resume what a rerun left
            result = train_ensemble(members_of(entry, args, seed), config, root,
                                    mode_first=entry == "mode" or (entry == "learnt" and args.with_mode),
                                    resume=started, progress=False)
            by_seed[seed][entry] = result
            print(json.dumps({"seed": seed, "entry": entry, "size": result["size"],
                              "test_error_pct": result["test_error_pct"],
                              "mean_member_error_pct": result["mean_member_error_pct"]}), flush=True)
            Run(out).write_json("results.json", {"args": vars(args), "results": by_seed})
    budget = (f"{args.epochs} epochs x {args.steps or 'all'} steps, {args.cells} cells, C = {args.channels}, "
              f"batch {args.batch}, on {config.dataset}")
    print(f"\n## Ensembles from {args.search_run}: M = {args.m}, each member {budget}\n")
    for seed, results in by_seed.items():
        print(f"seed {seed}:\n")
        print(markdown_table(["entry", "networks", "test error (%)", "top-5 error (%)", "mean member error (%)"],
                             seed_rows(results)) + "\n")
    print("over seeds:\n")
    print(markdown_table(["entry", "networks", "test error (%)", "mean member error (%)", "seeds"],
                         summary_rows(by_seed)))
    print(f"\nfiles: {out}/seed-<s>/<entry>/ensemble.json, member-<i>/result.json; {out}/results.json")


if __name__ == "__main__":
    main()
