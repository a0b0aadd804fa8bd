"""Black-box trials per minute: in-process (sequential), Ray synchronous (batches of ``--workers``, told in the ask
order) and Ray asynchronous (``--workers`` in flight, each told as it finishes), on a local Ray instance of
``--workers`` CPUs.

The estimator is real training: :class:`~parsecnas.estimators.training.PartialTraining` of NAS-Bench-201 cells
on the shipped fashion-mnist-small for a tiny fidelity (``--steps`` SGD steps of ``--batch`` images, then the
accuracy on ``--valid`` held-out images), so a trial's time depends on its cell (convolutions against pools and
skips), which is what an asynchronous loop exploits. Every mode runs regularized evolution with the same seed
and budget; every trial trains at one thread (the driver's torch and the Ray workers' ``OMP_NUM_THREADS``). The
Ray workers are started and have imported torch before the timing starts (a warm-up map; its seconds are printed
apart), so the table measures trials, not Ray's start. Synchronous Ray trials are those of the sequential run
(same trajectory); asynchronous ones differ (they depend on timing).

On a machine shared with other jobs the numbers move with its load (printed); on 2 cores, 2 workers can at most
double the sequential rate.

Usage:
    python benchmarks/bench_ray.py [--budget 24] [--workers 2] [--steps 6] [--batch 32] [--valid 256]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from _measure import environment, load_line, markdown_table

from parsecnas.estimators.training import PartialTraining, PartialTrainingConfig
from parsecnas.run.ray_pool import RayPool, import_ray
from parsecnas.spaces import get_space
from parsecnas.strategies import create_blackbox, run_blackbox
from parsecnas.strategies.blackbox_async import run_blackbox_async


def _warm(_: int) -> int:
    """A task that makes a worker import torch and parsecnas (what every trial needs) before the timing."""
    return torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6, help="SGD steps per trial (the fidelity)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--valid", type=int, default=256, help="held-out images scored per trial")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"  # the Ray workers' threads (RayPool passes it on)
    torch.set_num_threads(1)
    import_ray()
    space = get_space("nb201")
    config = PartialTrainingConfig(net={"num_cells": 1, "channels": 8}, epochs=1.0, steps_per_epoch=args.steps,
                                   batch_size=args.batch, valid_examples=args.valid, device="cpu")
    estimator = PartialTraining(space, config)
    print(environment())
    print(f"PartialTraining on NB201 cells, fashion-mnist-small, {args.steps} steps x {args.batch} images, "
          f"{args.valid} validation images; evolution, budget {args.budget}, {args.workers} workers")

    def strategy():
        return create_blackbox("evolution", space, seed=args.seed)

    runs: dict[str, tuple[float, object]] = {}
    start = time.perf_counter()
    trajectory = run_blackbox(strategy(), estimator, args.budget, args.workers)
    runs["sequential"] = (time.perf_counter() - start, trajectory)
    with RayPool(num_cpus=args.workers) as pool:
        start = time.perf_counter()
        pool.map(_warm, list(range(4 * args.workers)))
        warm = time.perf_counter() - start
        start = time.perf_counter()
        trajectory = run_blackbox(strategy(), estimator, args.budget, args.workers, mapper=pool.map)
        runs["Ray synchronous"] = (time.perf_counter() - start, trajectory)
        start = time.perf_counter()
        trajectory = run_blackbox_async(strategy(), estimator, args.budget, args.workers, pool)
        runs["Ray asynchronous"] = (time.perf_counter() - start, trajectory)
    base = runs["sequential"][0]
    rows = []
    for name, (seconds, traj) in runs.items():
        rate = args.budget / seconds * 60
        best = max(traj.scores)  # type: ignore[attr-defined]
        rows.append([name, args.budget, f"{seconds:.1f}", f"{rate:.1f}", f"{base / seconds:.2f}x", f"{best:.3f}"])
    print(f"Ray start and worker warm-up (untimed above): {warm:.1f} s")
    print(markdown_table(["mode", "trials", "seconds", "trials/min", "speed-up", "best score"], rows))
    same = runs["sequential"][1].archs == runs["Ray synchronous"][1].archs  # type: ignore[attr-defined]
    print(f"Ray synchronous trajectory equals the sequential one: {same}; {load_line()} at the end")


if __name__ == "__main__":
    main()
