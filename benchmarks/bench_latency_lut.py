"""Latency lookup tables against measured latency, beside predictors learnt from measured networks.

For each network setting, a table is profiled on this device (every op at every shape it runs at, then the
fixed part); then ``--archs`` seeded random architectures are built and timed whole (the test set), and as many
others (the training set of the learnt predictors). Printed per setting and predictor: the Spearman rank
correlation, Pearson correlation and mean absolute percentage error (MAPE) of predicted against measured
latency on the test set. Predictors: ``lut`` (op sum + fixed part, no network measured beyond the fixed part's),
``ridge`` (an additive table fitted to the training networks), ``mlp`` (a two-layer MLP on the encoding).

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
from parsecnas.estimators.latency_predictor import fit_additive_latency, fit_latency_mlp
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
             clock: str) -> list[list[object]]:
    space = get_space(space_name)
    setting = space.net_setting(setting_name, **options)
    lut = profile_latency(space, setting, warmup=5, repeats=repeats, fixed_archs=5, seed=seed, clock=clock)
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(*setting.input_shape())

    def measured_set(n: int) -> tuple[list, np.ndarray]:
        drawn = [sample_uniform(space, generator) for _ in range(n)]
        times = [measure_latency(space.build(a, **setting.options), x, warmup=5, repeats=repeats, clock=clock)
                 for a in drawn]
        return drawn, np.array(times)

    test, measured = measured_set(archs)
    train, train_times = measured_set(archs)
    predictors = {"lut": lut.cost(space), "ridge": fit_additive_latency(space, train, train_times.tolist()),
                  "mlp": fit_latency_mlp(space, train, train_times.tolist())}
    label = f"{space_name} {setting_name} " + " ".join(f"{k}={v}" for k, v in options.items())
    rows: list[list[object]] = []
    for name, predictor in predictors.items():
        p = np.array([predictor(a) for a in test])
        rows.append([label, name, len(lut.ops), f"{lut.fixed:.2f}", archs, f"{np.median(measured):.2f}",
                     f"{spearman(p, measured):.3f}", f"{float(np.corrcoef(p, measured)[0, 1]):.3f}",
                     f"{100 * float(np.mean(np.abs(p - measured) / measured)):.1f}%"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=30, help="test networks (and as many training networks)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="cpu",
                        help="cpu (default): process CPU time, robust to other jobs on a shared machine (1 thread)")
    args = parser.parse_args()
    set_threads(args.threads)
    print(environment())
    rows = [row for setting in SETTINGS for row in validate(*setting, args.archs, args.repeats, args.seed, args.clock)]
    print(markdown_table(["setting", "predictor", "op sites", "fixed ms", "test archs", "median ms", "Spearman",
                          "Pearson", "MAPE"], rows))


if __name__ == "__main__":
    main()
