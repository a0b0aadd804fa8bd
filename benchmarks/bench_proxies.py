"""Zero-cost proxies on NAS-Bench-201: Spearman rank correlation with the 200-epoch CIFAR-10 test accuracy.

Each of N cells drawn uniformly (seeded) from the table is built as the benchmark's CIFAR-10 network (N = 5,
C = 16), initialised from --seed, and scored on one minibatch of real CIFAR-10 training images (the JPEG copy;
lossy, so numbers differ slightly from the papers'). Cells where a proxy is not finite are left out of that
proxy's correlation (and counted). Published correlations (all 15,625 cells) are printed beside ours.

    PARSECNAS_DATA=/work/shared/data OMP_NUM_THREADS=1 python benchmarks/bench_proxies.py --archs 100
    PARSECNAS_DATA=/work/shared/data python benchmarks/bench_proxies.py --archs 1000 --out proxies-1000.npz  # full

With ``--out`` the per-cell scores and times are saved every 10 cells, and a rerun with the same arguments resumes
from that file (a 1,000-cell run takes about 2 hours on one CPU thread). A long run splits over processes with
``--start`` (each its own ``--out``), and ``--merge A.npz B.npz`` prints the table of their union.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from parsecnas.data import load_dataset
from parsecnas.estimators.proxies import PROXIES, build_seeded, spearman
from parsecnas.estimators.tabular import NB201Table
from parsecnas.spaces.nb201 import NB201Space

PUBLISHED = {  # Spearman rho with NB201 CIFAR-10 test accuracy over all cells, Abdelfattah et al. 2021, Table 2
    "grad_norm": 0.58, "snip": 0.58, "grasp": 0.48, "fisher": 0.36, "synflow": 0.74, "jacob_cov": 0.73,
}


def minibatch(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_dataset("cifar10")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds.train_labels), generator=gen)[:batch]
    x = ds.train_images[idx].float() / 255.0
    mean, std = torch.tensor(ds.mean)[:, None, None], torch.tensor(ds.std)[:, None, None]
    return (x - mean) / std, ds.train_labels[idx]


def _save(out: str | None, indices: np.ndarray, scores: dict, seconds: dict, start: int, done: int) -> None:
    if out is None:
        return
    tmp = Path(out).with_suffix(".tmp.npz")
    np.savez(tmp, indices=indices, start=start, done=done, **{f"score_{k}": v for k, v in scores.items()},
             **{f"seconds_{k}": np.array(v) for k, v in seconds.items()})
    tmp.replace(out)


def _load(out: str, indices: np.ndarray, scores: dict, seconds: dict) -> tuple[int, int]:
    """Fills ``scores`` for the cells ``out`` holds and adds its seconds; returns its (start, done) range."""
    saved = np.load(out)
    if not np.array_equal(saved["indices"], indices) or any(f"score_{k}" not in saved for k in scores):
        raise SystemExit(f"{out} was written with other --archs/--seed/--proxies; remove it or pick another --out")
    first, done = int(saved["start"]) if "start" in saved else 0, int(saved["done"])
    for name in scores:
        scores[name][first:done] = saved[f"score_{name}"][first:done]
        seconds[name] += float(saved[f"seconds_{name}"])
    return first, done


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", type=int, default=100)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--proxies", nargs="+", default=list(PROXIES))
    p.add_argument("--out", help="npz file of per-cell scores; saved every 10 cells, resumed from if present")
    p.add_argument("--start", type=int, default=0, help="first cell to score (split a long run over processes)")
    p.add_argument("--stop", type=int, help="score cells before this one only (default: --archs)")
    p.add_argument("--merge", nargs="+", metavar="NPZ", help="print the table from --out files of runs with the "
                   "same --archs/--seed/--proxies (e.g. different --start), scoring nothing")
    args = p.parse_args()

    table, space = NB201Table(), NB201Space()
    indices = np.random.default_rng(args.seed).choice(len(table), size=args.archs, replace=False)
    target = table.accuracies("cifar10", 200, "test")[indices]
    scores = {name: np.full(args.archs, np.nan) for name in args.proxies}
    seconds = {name: 0.0 for name in args.proxies}
    covered = np.zeros(args.archs, dtype=bool)
    scored = 0  # cells scored, counting overlaps of merged files (the seconds are summed over them)
    if args.merge:
        for path in args.merge:
            first, done = _load(path, indices, scores, seconds)
            print(f"  {path}: cells {first}..{done - 1}", flush=True)
            covered[first:done] = True
            scored += done - first
    else:
        x, y = minibatch(args.batch, args.seed)
        done = args.start
        if args.out and Path(args.out).exists():
            first, done = _load(args.out, indices, scores, seconds)
            if first != args.start:
                raise SystemExit(f"{args.out} started at cell {first}, not --start {args.start}")
            print(f"  resuming from {args.out}: cells {first}..{done - 1} done", flush=True)
        stop = args.stop or args.archs
        for k in range(done, stop):
            net = build_seeded(space, table.arch(int(indices[k])), seed=args.seed)
            for name in args.proxies:
                began = time.perf_counter()
                scores[name][k] = PROXIES[name](net, x, y, torch.Generator().manual_seed(args.seed))
                seconds[name] += time.perf_counter() - began
            if (k + 1) % 10 == 0:
                print(f"  {k + 1}/{args.archs} cells", flush=True)
                _save(args.out, indices, scores, seconds, args.start, k + 1)
        _save(args.out, indices, scores, seconds, args.start, stop)
        covered[args.start:stop] = True
        scored = stop - args.start
    _print_table(args, table, indices[covered], target[covered], {k: v[covered] for k, v in scores.items()},
                 seconds, scored)


def _print_table(args: argparse.Namespace, table: NB201Table, indices: np.ndarray, target: np.ndarray,
                 scores: dict, seconds: dict, scored: int) -> None:
    threads = "see each --out run's log" if args.merge else torch.get_num_threads()
    print(f"\nNB201 CIFAR-10, {len(indices)} cells (seed {args.seed}), batch {args.batch} real CIFAR-10 images, "
          f"torch threads {threads}\n")
    print("| proxy | Spearman rho (ours) | cells used | s / cell | published rho (all cells) |")
    print("|---|---|---|---|---|")
    for name in args.proxies:
        ok = np.isfinite(scores[name])
        rho = spearman(scores[name][ok], target[ok]) if ok.sum() > 2 else math.nan
        ref = f"{PUBLISHED[name]:.2f} (Abdelfattah et al. 2021)" if name in PUBLISHED else "-"
        print(f"| {name} | {rho:.3f} | {int(ok.sum())} | {seconds[name] / max(1, scored):.3f} | {ref} |")
    for column, label in (("naswot_score_v1", "NASWOT scores released by Mellor et al. (table)"),
                          ("params_M_cifar10", "parameter count (table)")):
        values = table.column(column)[indices]
        ok = np.isfinite(values)
        print(f"| {label} | {spearman(values[ok], target[ok]):.3f} | {int(ok.sum())} | - | reference |")


if __name__ == "__main__":
    main()
