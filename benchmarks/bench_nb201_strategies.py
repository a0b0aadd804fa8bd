"""Black-box strategies on the NAS-Bench-201 table: test accuracy of the best-by-validation cell vs queries.

For each dataset and strategy, every seed runs ``run_blackbox`` against the 200-epoch table; after k queries the
incumbent is the queried cell with the best score, and its test accuracy is reported (mean +- std over seeds).
CIFAR-10 selects by the ``cifar10-valid`` validation accuracy; the table has no 200-epoch validation for
CIFAR-100 / ImageNet16-120, so there the score is the test accuracy (NB201's x-valid and x-test are two halves
of one held-out set), which makes those rows optimistic.

    PARSECNAS_DATA=/work/shared/data OMP_NUM_THREADS=1 python benchmarks/bench_nb201_strategies.py \\
        --seeds 10 --queries 100                                                      # short
    PARSECNAS_DATA=/work/shared/data python benchmarks/bench_nb201_strategies.py --seeds 100 --queries 300  # full
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from parsecnas.estimators.tabular import NB201Benchmark, NB201Table
from parsecnas.spaces.nb201 import NB201Space
from parsecnas.strategies.blackbox import create_blackbox, list_blackbox, run_blackbox

PUBLISHED = {  # NAS-Bench-201 paper (Dong & Yang 2020), Table 5: test accuracy after a 12,000 s simulated budget
    "cifar10": {"evolution": "93.92 +- 0.30", "random": "93.70 +- 0.36", "reinforce": "93.85 +- 0.37"},
    "cifar100": {"evolution": "71.84 +- 0.99", "random": "71.04 +- 1.07", "reinforce": "71.71 +- 1.09"},
    "imagenet16": {"evolution": "45.54 +- 1.03", "random": "44.57 +- 1.25", "reinforce": "45.24 +- 1.18"},
}


def run_dataset(table: NB201Table, dataset: str, strategies: list[str], seeds: int, queries: int,
                checkpoints: list[int]) -> None:
    select = "valid" if dataset == "cifar10" else "test"
    bench = NB201Benchmark(dataset, select=select, table=table)
    space = NB201Space()
    _, optimum = table.best(dataset, 200, "test")
    print(f"\n### {dataset} (select by {select}; optimum test {optimum:.2f}; {seeds} seeds)\n")
    head = " | ".join(f"{k} queries" for k in checkpoints)
    print(f"| strategy | {head} | s / run | published (NB201 Table 5, time budget) |")
    print("|---|" + "---|" * (len(checkpoints) + 2))
    for name in strategies:
        accs = np.empty((seeds, len(checkpoints)))
        start = time.perf_counter()
        for seed in range(seeds):
            trajectory = run_blackbox(create_blackbox(name, space, seed=seed), bench, queries)
            accs[seed] = [trajectory.incumbent_result(k).test_accuracy for k in checkpoints]
        cells = " | ".join(f"{m:.2f} +- {s:.2f}" for m, s in zip(accs.mean(0), accs.std(0)))
        seconds = (time.perf_counter() - start) / seeds
        print(f"| {name} | {cells} | {seconds:.2f} | {PUBLISHED[dataset].get(name, '-')} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--checkpoints", type=int, nargs="+", default=[10, 50, 100, 300])
    p.add_argument("--strategies", nargs="+", default=list_blackbox())
    p.add_argument("--datasets", nargs="+", default=["cifar10", "cifar100", "imagenet16"])
    args = p.parse_args()
    checkpoints = [k for k in args.checkpoints if k <= args.queries] or [args.queries]
    table = NB201Table()
    for dataset in args.datasets:
        run_dataset(table, dataset, args.strategies, args.seeds, args.queries, checkpoints)


if __name__ == "__main__":
    main()
