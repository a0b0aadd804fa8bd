"""Accuracy against latency on NAS-Bench-201: how much of the true Pareto front each black-box search finds.

On each of three devices of the NB201 latency table (a GPU at batch 256, a server CPU, a Raspberry Pi 4),
three searches run for ``--queries`` table lookups, ``--seeds`` seeds each:

* ``nsga2``: NSGA-II (Optuna's) on (CIFAR-10 validation accuracy up, latency down);
* ``evo-mnas``: regularized evolution on the MnasNet soft reward acc * (lat / T)^-0.07, T the median latency of
  the whole table on that device;
* ``random``: uniform random search.

The objectives are the 200-epoch ``cifar10-valid`` validation accuracy (what the searches see) and the latency.
After k = 50, 100 and 300 queries, the hypervolume of the queried architectures is reported as a percentage of
the hypervolume of the true front (computed from all 15,625 cells), mean +- std over seeds; the reference point
is (10th-percentile accuracy, 90th-percentile latency) of the whole table. Each device's true front is drawn
beside the fronts found by seed 0 (``--out``/pareto_<device>.png), and those fronts are written as JSON.

    PARSECNAS_DATA=/work/shared/data OMP_NUM_THREADS=1 python benchmarks/bench_nb201_pareto.py --seeds 20 \\
        --out /tmp/nb201-pareto
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _measure import markdown_table

from parsecnas.estimators.cost import nb201_latency_cost
from parsecnas.estimators.rewards import MnasReward
from parsecnas.estimators.tabular import NB201Benchmark, NB201Table
from parsecnas.pareto import hypervolume, pareto_front, write_front
from parsecnas.report.pareto import plot_fronts
from parsecnas.spaces import get_space
from parsecnas.strategies import create_blackbox, run_blackbox
from parsecnas.strategies.nsga2 import NsgaII

DEVICES = ("titan_rtx_256", "gold_6226", "raspi4")
STRATEGIES = ("nsga2", "evo-mnas", "random")
CHECKPOINTS = (50, 100, 300)


def search(name: str, device: str, seed: int, queries: int, table: NB201Table, target: float
           ) -> tuple[list[str], np.ndarray]:
    """The architectures queried, in order, and their (validation accuracy, latency), (queries, 2)."""
    space = get_space("nb201")
    bench = NB201Benchmark("cifar10", select="valid", table=table)
    cost = nb201_latency_cost(device, table)
    if name == "nsga2":
        trajectory = run_blackbox(NsgaII(space, seed=seed, cost=cost), bench, queries)
    elif name == "evo-mnas":
        trajectory = run_blackbox(create_blackbox("evolution", space, seed=seed), MnasReward(bench, cost, target),
                                  queries)
    else:
        trajectory = run_blackbox(create_blackbox(name, space, seed=seed), bench, queries)
    points = np.array([(table.query(a, "cifar10", 200, "valid").score, cost(a)) for a in trajectory.archs])
    return [str(a) for a in trajectory.archs], points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", default="nb201-pareto")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = NB201Table()
    accuracy = table.accuracies("cifar10", 200, "valid")
    checkpoints = [k for k in CHECKPOINTS if k <= args.queries]
    rows, start = [], time.time()
    for device in DEVICES:
        latency = np.array([table.latency(i, device) for i in range(len(table))])
        everything = np.stack([accuracy, latency], axis=1)
        reference = (float(np.percentile(accuracy, 10)), float(np.percentile(latency, 90)))
        true_front = pareto_front(everything)
        best = hypervolume(true_front, reference)
        found = {}
        for name in STRATEGIES:
            ratios = np.zeros((args.seeds, len(checkpoints)))
            for seed in range(args.seeds):
                archs, points = search(name, device, seed, args.queries, table, float(np.median(latency)))
                ratios[seed] = [100 * hypervolume(points[:k], reference) / best for k in checkpoints]
                if seed == 0:
                    found[name] = pareto_front(points)
                    write_front(out / f"front_{device}_{name}.json", archs, points, ["valid_accuracy", "latency_ms"])
            rows.append([device, name, *(f"{ratios[:, j].mean():.1f} +- {ratios[:, j].std(ddof=1):.1f}"
                                         for j in range(len(checkpoints)))])
            print(" | ".join(map(str, rows[-1])), f"({time.time() - start:.0f} s)", flush=True)
        write_front(out / f"true_front_{device}.json", table.arch_strings, everything,
                    ["valid_accuracy", "latency_ms"])
        plot_fronts(found, out / f"pareto_{device}.png", true_front=true_front, points=everything,
                    xlabel=f"latency on {device} (ms)", ylabel="CIFAR-10 valid accuracy (%)",
                    title=f"NB201, {device}: fronts after {args.queries} queries (seed 0)",
                    ylim=(reference[0], float(accuracy.max()) + 0.5))
        rows.append([device, "true front", f"{len(true_front)} points", f"ref {reference[0]:.1f}%",
                     f"{reference[1]:.2f} ms"][: 2 + len(checkpoints)])
    print()
    print(f"hypervolume of the queried architectures, % of the true front's; {args.seeds} seeds")
    print(markdown_table(["device", "strategy", *(f"HV@{k}" for k in checkpoints)], rows))
    print(f"\nplots and fronts: {out}/")


if __name__ == "__main__":
    main()
