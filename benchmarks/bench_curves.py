"""Learning-curve extrapolation on real training curves: predict each architecture's final validation accuracy
from the first quarter of its curve, against the accuracy it reached.

N random DARTS-space architectures are trained from scratch on the built-in data with ``PartialTraining``
(validation accuracy after every epoch); the ensemble of :mod:`parsecnas.estimators.curves` sees the first
``--seen`` epochs and predicts the last. Printed: Spearman's rho between predicted and final accuracies (and,
as the baseline a practitioner would use, between the last seen accuracy and the final one), the mean absolute
error, and how often the final accuracy lies within the predicted mean +- 2 std.

    OMP_NUM_THREADS=1 python benchmarks/bench_curves.py --archs 20 --epochs 12 --seen 3 --out curves.json

With ``--out`` every finished curve is saved as it comes, and a rerun resumes from the file.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from parsecnas.estimators.curves import predict_final
from parsecnas.estimators.proxies import spearman
from parsecnas.estimators.training import PartialTraining, PartialTrainingConfig
from parsecnas.spaces import get_space, sample_uniform


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", type=int, default=20)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seen", type=int, default=3, help="epochs the prediction sees (default: a quarter)")
    p.add_argument("--steps-per-epoch", dest="steps_per_epoch", type=int, default=20)
    p.add_argument("--cells", type=int, default=3)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="JSON file of the curves (resumed from when present)")
    args = p.parse_args()
    if args.seen < 3 or args.seen >= args.epochs:
        raise SystemExit(f"--seen {args.seen}: need 3 <= seen < epochs ({args.epochs})")

    space = get_space("darts")
    config = PartialTrainingConfig(net={"num_cells": args.cells, "channels": args.channels},
                                   steps_per_epoch=args.steps_per_epoch, valid_examples=600, seed=args.seed)
    estimator = PartialTraining(space, config, curve=True)
    gen = torch.Generator().manual_seed(args.seed)
    archs = [sample_uniform(space, gen) for _ in range(args.archs)]
    out = Path(args.out) if args.out else None
    curves: list[list[float]] = json.loads(out.read_text())["curves"] if out and out.is_file() else []
    for k in range(len(curves), len(archs)):
        curves.append(list(estimator(archs[k], args.epochs).curve))
        print(f"  {k + 1}/{len(archs)}: final {curves[-1][-1]:.3f}", flush=True)
        if out:
            out.write_text(json.dumps({"args": vars(args), "curves": curves}))

    final = [c[-1] for c in curves]
    last_seen = [c[args.seen - 1] for c in curves]
    predictions = [predict_final(c[:args.seen], args.epochs) for c in curves]
    mean = [q.mean for q in predictions]
    covered = sum(abs(q.mean - f) <= 2 * q.std for q, f in zip(predictions, final))
    print(f"\n{len(curves)} DARTS architectures ({args.cells} cells, C = {args.channels}) on fashion-mnist-small, "
          f"{args.epochs} epochs x {args.steps_per_epoch} steps; prediction from the first {args.seen} epochs\n")
    print("| predictor of the final accuracy | Spearman rho | mean abs error | within 2 std |")
    print("|---|---|---|---|")
    print(f"| curve ensemble (pow3, exp3, loglinear) | {spearman(mean, final):.3f} | "
          f"{statistics.mean(abs(m - f) for m, f in zip(mean, final)):.4f} | {covered}/{len(curves)} |")
    print(f"| last seen accuracy (epoch {args.seen}) | {spearman(last_seen, final):.3f} | "
          f"{statistics.mean(abs(s - f) for s, f in zip(last_seen, final)):.4f} | - |")


if __name__ == "__main__":
    main()
