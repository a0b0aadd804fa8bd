"""TPE + Hyperband (the BOHB recipe) against random search over the same number of trials, tuning a genotype's
training recipe (``parsecnas.tune``) on the built-in data.

For each seed s, both methods tune the same space (learning rate, weight decay, momentum, label smoothing) of the
same base recipe with training seed s and sampler seed s, ``--trials`` trials each: random search trains every
trial for all ``--epochs``; TPE (``--startup`` random trials first) with Hyperband pruning (min 1 epoch,
eta 3) stops weak trials after their first rungs. Trials are scored on held-out training images; the test accuracy
reported is that of the best trial's own training run (``result.json``), never used to choose it.

    python benchmarks/bench_tune.py --seeds 0 1 2 3 4                     # about 20 min on one CPU thread
    python benchmarks/bench_tune.py --seeds 0 --trials 3 --epochs 2 --steps 2   # smoke test, < 1 min

Prints a markdown table per seed and one of the mean +- std over seeds; ``--out`` keeps the run directories.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _measure import environment, markdown_table, set_threads

from parsecnas.run import Run
from parsecnas.train import TrainConfig
from parsecnas.tune import TuneConfig, tune
from parsecnas.tune_space import parse_space

SPACE = {"lr": {"low": 1e-3, "high": 0.5, "log": True}, "weight_decay": {"low": 1e-5, "high": 1e-2, "log": True},
         "momentum": {"low": 0.0, "high": 0.95}, "label_smoothing": {"low": 0.0, "high": 0.2}}
METHODS = {"random": {"sampler": "random", "pruner": "none"}, "tpe+hyperband": {"sampler": "tpe",
                                                                                 "pruner": "hyperband"}}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--trials", type=int, default=10, help="trials per study (the same for both methods)")
    p.add_argument("--startup", type=int, default=4, help="TPE's random trials before it models the results")
    p.add_argument("--epochs", type=int, default=4, help="epochs of a full trial (Hyperband's max resource)")
    p.add_argument("--steps", type=int, default=15, help="steps per epoch")
    p.add_argument("--cells", type=int, default=3)
    p.add_argument("--channels", type=int, default=6)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--val-examples", type=int, default=500)
    p.add_argument("--dataset", default="fashion-mnist-small")
    p.add_argument("--genotype", default="DARTS_V2")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, help="keep the studies here (default: a temporary folder)")
    return p.parse_args()


def study(args: argparse.Namespace, method: str, seed: int, root: Path) -> dict[str, Any]:
    base = TrainConfig(dataset=args.dataset, num_cells=args.cells, channels=args.channels, epochs=args.epochs,
                       steps_per_epoch=args.steps, batch_size=args.batch, cutout=0, drop_path=0.0,
                       auxiliary_weight=0.0, val_examples=args.val_examples, eval_batch_size=500, seed=seed,
                       device="cpu")
    space = parse_space(SPACE, TrainConfig, base)
    config = TuneConfig(trials=args.trials, startup_trials=args.startup, seed=seed, **METHODS[method])
    start = time.perf_counter()
    summary = tune(args.genotype, base, space, config, root / f"{method}-seed{seed}")
    best = Run(summary["best_run_dir"]).read_json("result.json")
    return {"method": method, "seed": seed, "best_val": summary["best_value"], "test_of_best": best["test_accuracy"],
            "best_lr": summary["best_params"]["lr"], "epochs": summary["epochs_trained"],
            "pruned": summary["pruned"], "seconds": time.perf_counter() - start}


def rows_of(results: list[dict[str, Any]]) -> list[list[object]]:
    return [[r["method"], r["seed"], f"{r['best_val']:.4f}", f"{r['test_of_best']:.4f}", f"{r['best_lr']:.3g}",
             r["epochs"], r["pruned"], f"{r['seconds']:.0f}"] for r in results]


def mean_std(values: list[float], digits: int = 4) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} +- {sd:.{digits}f}"


def main() -> None:
    import optuna

    args = parse_args()
    set_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(environment())
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        results = []
        for seed in args.seeds:
            for method in METHODS:
                results.append(study(args, method, seed, root))
                print(markdown_table(["method", "seed", "best val acc", "test acc of best", "best lr",
                                      "epochs trained", "pruned", "seconds"], rows_of(results[-1:])), flush=True)
    print(f"\n{args.trials} trials per study, full trial {args.epochs} epochs x {args.steps} steps, "
          f"{args.cells} cells C={args.channels}, {args.dataset}, {len(args.seeds)} seeds\n")
    print(markdown_table(["method", "seed", "best val acc", "test acc of best", "best lr", "epochs trained",
                          "pruned", "seconds"], rows_of(results)))
    summary = []
    for method in METHODS:
        mine = [r for r in results if r["method"] == method]
        summary.append([method, mean_std([r["best_val"] for r in mine]), mean_std([r["test_of_best"] for r in mine]),
                        mean_std([float(r["epochs"]) for r in mine], 1), mean_std([r["seconds"] for r in mine], 0)])
    print()
    print(markdown_table(["method", "best val acc", "test acc of best", "epochs trained", "seconds"], summary))


if __name__ == "__main__":
    main()
