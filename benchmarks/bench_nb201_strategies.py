"""Black-box strategies on the NAS-Bench-201 table: test accuracy of the best-by-fitness cell against queries.

For each fitness signal, dataset and strategy, seeds 0 .. S-1 each run ``run_blackbox`` for Q queries against
the table. After k queries the incumbent is the queried cell with the best fitness; its 200-epoch test accuracy
is reported as mean +- std over seeds at a few k, and drawn for every k (mean +- standard error) with the
table's optimum as a dashed line. Two fitness signals (``--fitness``):

* ``valid`` (default): the 200-epoch ``cifar10-valid`` validation accuracy on CIFAR-10. The table has no
  200-epoch validation accuracy for CIFAR-100 / ImageNet16-120, so there fitness is the test accuracy itself
  (NB201's x-valid and x-test are two halves of one held-out set); those rows select on the reported metric and
  are optimistic.
* ``valid12``: the 12-epoch validation accuracy on every dataset, the fitness of the NB201 paper's baselines
  (AutoDL-Projects ``train_and_eval(..., use_012_epoch_training=True)``); no test data are seen by the search.

Every (fitness, dataset, strategy) is saved under ``--out`` after each seed, and a rerun with the same
arguments resumes where it stopped; finished parts are only read back. Writes ``results_<fitness>.md`` and
``nb201_strategies_<fitness>.png`` there.

    PARSECNAS_DATA=/work/shared/data OMP_NUM_THREADS=1 python benchmarks/bench_nb201_strategies.py \\
        --seeds 5 --queries 100 --out /tmp/nb201-short                                  # short
    PARSECNAS_DATA=/work/shared/data OMP_NUM_THREADS=1 python benchmarks/bench_nb201_strategies.py \\
        --out /work/bench-out/nb201-strategies    # full: 100 seeds x 300 queries, ~30-40 min per fitness signal
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from parsecnas.estimators.tabular import NB201Benchmark, NB201Table
from parsecnas.report._mpl import new_figure, save_figure
from parsecnas.spaces.nb201 import NB201Space
from parsecnas.strategies.blackbox import create_blackbox, run_blackbox

STRATEGIES = ("random", "evolution", "reinforce", "local_search", "bananas")
DATASETS = ("cifar10", "cifar100", "imagenet16")
TITLES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16": "ImageNet16-120"}

PUBLISHED = {  # (dataset, strategy) -> (number, source key in SOURCES)
    ("cifar10", "evolution"): ("93.92 +- 0.30", "T5"), ("cifar10", "random"): ("93.70 +- 0.36", "T5"),
    ("cifar10", "reinforce"): ("93.85 +- 0.37", "T5"),
    ("cifar100", "evolution"): ("71.84 +- 0.99", "T5"), ("cifar100", "random"): ("71.04 +- 1.07", "T5"),
    ("cifar100", "reinforce"): ("71.71 +- 1.09", "T5"),
    ("imagenet16", "evolution"): ("45.54 +- 1.03", "T5"), ("imagenet16", "random"): ("44.57 +- 1.25", "T5"),
    ("imagenet16", "reinforce"): ("45.24 +- 1.18", "T5"),
    ("cifar100", "local_search"): ("optimum after 127 queries on average", "LS"),
}
SOURCES = {
    "T5": "Dong & Yang, NAS-Bench-201 (ICLR 2020), Table 5: test accuracy after a 12,000 s simulated time budget "
          "(not a query count); fitness is the 12-epoch validation accuracy, as with --fitness valid12.",
    "LS": "White, Nolen & Savani, 'Local Search is State of the Art for NAS Benchmarks' (arXiv:2005.02960, "
          "abstract): on CIFAR-100 local search reaches the global optimum after 127 queries on average; compare "
          "the 'optimum found' column.",
}
NOT_FOUND = ("BANANAS and local search (naszilla) and NASLib report NAS-Bench-201 only as curves in figures; no "
             "citable number was found for them, hence '-'.")


def fitness_benchmark(table: NB201Table, dataset: str, fitness: str) -> tuple[NB201Benchmark, str]:
    """The estimator a search maximises, and a phrase naming its signal."""
    if fitness == "valid12":
        return NB201Benchmark(dataset, epochs=12, select="valid", table=table), "12-epoch validation accuracy"
    if dataset == "cifar10":
        return NB201Benchmark(dataset, select="valid", table=table), "200-epoch validation accuracy"
    return (NB201Benchmark(dataset, select="test", table=table),
            "200-epoch TEST accuracy (the table has no 200-epoch validation here; optimistic)")


def run_part(path: Path, bench: NB201Benchmark, strategy: str, seeds: int, queries: int) -> dict[str, np.ndarray]:
    """Runs (or resumes) seeds 0 .. seeds-1 of one strategy; returns the incumbent's NB201 index after every query
    (seeds, queries) and the seconds per seed, saving both to ``path`` after each seed."""
    incumbent, seconds = np.zeros((0, queries), dtype=np.int16), np.zeros(0)
    if path.exists():
        saved = np.load(path)
        if saved["incumbent"].shape[1] != queries:
            raise SystemExit(f"{path} holds {saved['incumbent'].shape[1]} queries per run, not {queries}; "
                             "remove it or pick another --out")
        incumbent, seconds = saved["incumbent"], saved["seconds"]
    space = NB201Space()
    for seed in range(len(incumbent), seeds):
        start = time.perf_counter()
        trajectory = run_blackbox(create_blackbox(strategy, space, seed=seed), bench, queries)
        row = [trajectory.results[i].index for i in trajectory.incumbents]
        incumbent = np.vstack([incumbent, np.array(row, dtype=np.int16)])
        seconds = np.append(seconds, time.perf_counter() - start)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, incumbent=incumbent, seconds=seconds)
        tmp.replace(path)
    return {"incumbent": incumbent[:seeds], "seconds": seconds[:seeds]}


def optimum_found(incumbent: np.ndarray, best: int) -> tuple[float, float]:
    """Share of runs whose incumbent became the table's best cell, and the mean query count at which it did."""
    hit = incumbent == best
    found = hit.any(1)
    first = hit.argmax(1)[found] + 1
    return float(found.mean()), float(first.mean()) if found.any() else float("nan")


def table_lines(table: NB201Table, dataset: str, signal: str, parts: dict[str, dict[str, np.ndarray]],
                checkpoints: list[int]) -> list[str]:
    """The Markdown table of one dataset, with its heading; published numbers name their source's key."""
    best, optimum = table.best(dataset, 200, "test")
    test = table.accuracies(dataset, 200, "test")
    seeds = min(len(p["seconds"]) for p in parts.values())
    lines = [f"### {TITLES[dataset]}: fitness = {signal}; optimum test {optimum:.2f}; {seeds} seeds", "",
             "| strategy | " + " | ".join(f"{k} queries" for k in checkpoints)
             + " | optimum found (runs, mean queries) | s / run | published |",
             "|---|" + "---|" * (len(checkpoints) + 3)]
    for name, part in parts.items():
        acc = test[part["incumbent"][:, [k - 1 for k in checkpoints]]]
        cells = " | ".join(f"{m:.2f} +- {s:.2f}" for m, s in zip(acc.mean(0), acc.std(0)))
        share, when = optimum_found(part["incumbent"], best)
        number, source = PUBLISHED.get((dataset, name), ("-", ""))
        published = f"{number} [{source}]" if source else "-"
        found = f"{100 * share:.0f}%, {when:.0f}" if share else "0%, -"
        lines.append(f"| {name} | {cells} | {found} | {part['seconds'].mean():.2f} | {published} |")
    return lines + [""]


def plot(table: NB201Table, results: dict[str, dict[str, dict[str, np.ndarray]]], fitness: str,
         path: Path) -> Path:
    """One panel per dataset: mean test accuracy of the incumbent against queries, +- one standard error."""
    fig = new_figure(5.0 * len(results), 4.0)
    for i, (dataset, parts) in enumerate(results.items()):
        ax = fig.add_subplot(1, len(results), i + 1)
        test = table.accuracies(dataset, 200, "test")
        for name, part in parts.items():
            acc = test[part["incumbent"]]
            mean, se = acc.mean(0), acc.std(0) / np.sqrt(len(acc))
            k = np.arange(1, acc.shape[1] + 1)
            (line,) = ax.plot(k, mean, lw=1.4, label=name)
            ax.fill_between(k, mean - se, mean + se, color=line.get_color(), alpha=0.25, lw=0)
        _, optimum = table.best(dataset, 200, "test")
        ax.axhline(optimum, color="black", ls="--", lw=1, label="table optimum")
        low = min(test[p["incumbent"][:, 9]].mean() for p in parts.values())
        ax.set_ylim(low - 0.5, optimum + 0.3)
        ax.set_xlim(1, acc.shape[1])
        ax.set_title(TITLES[dataset] + (" (fitness = test)" if fitness == "valid" and dataset != "cifar10" else ""))
        ax.set_xlabel("queries")
        ax.set_ylabel("test accuracy of incumbent (%)")
        ax.grid(True, alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8, loc="lower right")
    seeds = min(len(p["seconds"]) for parts in results.values() for p in parts.values())
    fig.suptitle(f"NAS-Bench-201, fitness '{fitness}': mean +- standard error over {seeds} seeds")
    fig.tight_layout()
    return save_figure(fig, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="folder for per-part .npz files, tables and figures")
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--checkpoints", type=int, nargs="+", default=[10, 50, 100, 300])
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--fitness", nargs="+", default=["valid"], choices=["valid", "valid12"])
    args = p.parse_args()
    checkpoints = [k for k in args.checkpoints if k <= args.queries] or [args.queries]
    table = NB201Table()
    for fitness in args.fitness:
        folder = args.out / fitness
        folder.mkdir(parents=True, exist_ok=True)
        results: dict[str, dict[str, dict[str, np.ndarray]]] = {d: {} for d in args.datasets}
        for name in args.strategies:  # cheap strategies first, so their tables are complete early
            for dataset in args.datasets:
                bench, _ = fitness_benchmark(table, dataset, fitness)
                start = time.perf_counter()
                results[dataset][name] = run_part(folder / f"{dataset}_{name}.npz", bench, name, args.seeds,
                                                  args.queries)
                print(f"{fitness} {dataset} {name}: done in {time.perf_counter() - start:.0f} s", flush=True)
        lines = [f"## NAS-Bench-201, fitness '{fitness}', {args.queries} queries per run", ""]
        for dataset, parts in results.items():
            lines += table_lines(table, dataset, fitness_benchmark(table, dataset, fitness)[1], parts, checkpoints)
        lines += [f"[{key}] {text}" for key, text in SOURCES.items()] + [NOT_FOUND]
        report = "\n".join(lines)
        print("\n" + report, flush=True)
        (args.out / f"results_{fitness}.md").write_text(report + "\n")
        print(f"figure: {plot(table, results, fitness, args.out / f'nb201_strategies_{fitness}.png')}")


if __name__ == "__main__":
    main()
