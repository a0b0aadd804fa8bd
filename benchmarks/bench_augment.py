"""Augmentation policies at a short training budget: none, cutout, RandAugment and TrivialAugment, each training
the same genotype from scratch with the same seeds (``parsecnas.train``; policies in
``parsecnas.data.autoaugment``).

    python benchmarks/bench_augment.py --seeds 0 1 2 --epochs 4 --steps 25     # fashion-mnist-small, ~15 min
    python benchmarks/bench_augment.py --dataset cifar10 --seeds 0 1 --epochs 4 --steps 40   # needs the data

Prints a markdown table of held-out validation and test accuracy per policy (mean +- std over seeds). At budgets
this short, stronger augmentation is expected to cost accuracy rather than buy it; the table says how much.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _measure import environment, markdown_table, set_threads

from parsecnas.train import TrainConfig, train_genotype

POLICIES = {"none": {}, "cutout": {"cutout": 8}, "randaugment": {"augment": "randaugment"},
            "trivialaugment": {"augment": "trivialaugment"}}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="fashion-mnist-small")
    p.add_argument("--data-dir")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--steps", type=int, default=30, help="steps per epoch")
    p.add_argument("--cells", type=int, default=3)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--n", type=int, default=2, help="RandAugment's N")
    p.add_argument("--m", type=int, default=9, help="RandAugment's M")
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args()


def mean_std(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} +- {sd:.4f}"


def main() -> None:
    args = parse_args()
    set_threads(args.threads)
    print(environment())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for policy, fields in POLICIES.items():
            results, start = [], time.perf_counter()
            for seed in args.seeds:
                config = TrainConfig(dataset=args.dataset, data_dir=args.data_dir, num_cells=args.cells,
                                     channels=args.channels, epochs=args.epochs, steps_per_epoch=args.steps,
                                     batch_size=args.batch, drop_path=0.0, auxiliary_weight=0.0,
                                     val_examples=1000, eval_batch_size=500, seed=seed, device="cpu",
                                     augment_n=args.n, augment_m=args.m, **{"cutout": 0, **fields})
                results.append(train_genotype("DARTS_V2", config, Path(tmp) / f"{policy}-{seed}", progress=False))
            rows.append([policy, mean_std([r["val_accuracy"] for r in results]),
                         mean_std([r["test_accuracy"] for r in results]),
                         f"{(time.perf_counter() - start) / len(args.seeds):.0f}"])
            print(markdown_table(["policy", "val acc", "test acc", "seconds per run"], rows[-1:]), flush=True)
    print(f"\n{args.dataset}, DARTS_V2 {args.cells} cells C={args.channels}, {args.epochs} epochs x {args.steps} steps "
          f"of {args.batch}, seeds {args.seeds}; RandAugment N={args.n} M={args.m}\n")
    print(markdown_table(["policy", "val acc", "test acc", "seconds per run"], rows))


if __name__ == "__main__":
    main()
