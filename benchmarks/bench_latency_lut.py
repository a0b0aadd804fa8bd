"""Latency lookup tables against measured latency: for each network setting, a table is profiled on this
device (every op at every shape it runs at, then the fixed part), and >= 30 seeded random architectures are
built and timed whole. Prints, per setting, the Spearman rank correlation and the mean absolute percentage
error (MAPE) of the predicted latency (op sum + fixed part) against the measured one.

Small networks, so it runs in minutes on one thread; timings are medians over ``--repeats`` runs after a
warm-up, in inference mode, batch 1, on this process's CPU time by default (``--clock cpu``: on a machine
shared with other jobs, a single-threaded run's CPU time is what it would take alone; ``--clock wall`` on an
idle machine).

    OMP_NUM_THREADS=1 python benchmarks/bench_latency_lut.py --archs 30 --threads 1
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _measure import environment, markdown_table, set_threads

from parsecnas.estimators.latency import measure_latency, profile_latency
from parsecnas.spaces import get_space, sample_uniform

SETTINGS = (
    ("darts", "cifar10", {"num_cells": 5, "channels": 8}),
    ("darts", "cifar10", {"num_cells": 8, "channels": 16}),
    ("nb201", "cifar10", {"num_cells": 2, "channels": 16}),
    ("nb201", "cifar10", {"num_cells": 5, "channels": 16}),
)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the ranks (the timings are continuous, so ties do not arise)."""
    ranks = [np.argsort(np.argsort(v)).astype(float) for v in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


def validate(space_name: str, setting_name: str, options: dict, archs: int, repeats: int, seed: int,
             clock: str) -> list:
    space = get_space(space_name)
    setting = space.net_setting(setting_name, **options)
    lut = profile_latency(space, setting, warmup=5, repeats=repeats, fixed_archs=5, seed=seed, clock=clock)
    cost = lut.cost(space)
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(*setting.input_shape())
    predicted, measured = [], []
    for _ in range(archs):
        arch = sample_uniform(space, generator)
        predicted.append(cost(arch))
        net = space.build(arch, **setting.options)
        measured.append(measure_latency(net, x, warmup=5, repeats=repeats, clock=clock))
    p, m = np.array(predicted), np.array(measured)
    label = f"{space_name} {setting_name} " + " ".join(f"{k}={v}" for k, v in options.items())
    return [label, len(lut.ops), f"{lut.fixed:.2f}", archs, f"{np.median(m):.2f}",
            f"{m.min():.2f}-{m.max():.2f}", f"{spearman(p, m):.3f}", f"{float(np.corrcoef(p, m)[0, 1]):.3f}",
            f"{100 * float(np.mean(np.abs(p - m) / m)):.1f}%"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="cpu",
                        help="cpu (default): process CPU time, robust to other jobs on a shared machine (1 thread)")
    args = parser.parse_args()
    set_threads(args.threads)
    print(environment())
    rows = [validate(*setting, args.archs, args.repeats, args.seed, args.clock) for setting in SETTINGS]
    print(markdown_table(["setting", "op sites", "fixed ms", "archs", "median ms", "range ms", "Spearman",
                          "Pearson", "MAPE"], rows))


if __name__ == "__main__":
    main()
