"""Compound scaling against scaling one axis, on the built-in data, at one short training budget.

A small DARTS_V2 network (8 cells, C = 8, Fashion-MNIST-small area-averaged to 16 px, so that a higher resolution
has real detail to recover up to the stored 28 px) is scaled:

* by compound scaling: the coefficients from ``parsecnas.scaling.scale``'s grid search at phi = 1 (the default
  grid; rounded networks more than 15% off twice the base's multiply-adds do not compete), then phi = 1, 2;
* in depth only (alpha = 2), width only (beta = sqrt 2) or resolution only (gamma = sqrt 2), to the same
  2^phi multiply-adds (before rounding).

Every network trains from scratch for the same steps (SGD, cosine, batch 64, seed 0) and is scored on 1,000
held-out training images (``val``) and on the test split (``test``). Networks of the same size train once.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/bench_scaling.py --out /tmp/bench-scaling --steps 100

A killed run continues where it stopped when started again with the same ``--out``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch

from parsecnas.run import Run
from parsecnas.scaling import Coefficients, Dims, GenotypeNet, ScaleConfig, scale
from parsecnas.spaces import resolve_genotype
from parsecnas.train import TrainConfig

BASELINES = {"depth only": Coefficients(2.0, 1.0, 1.0), "width only": Coefficients(1.0, math.sqrt(2), 1.0),
             "resolution only": Coefficients(1.0, 1.0, math.sqrt(2))}


def trained(net: GenotypeNet, dims: Dims, root: Path, epochs: int, steps: int,
            searched: dict[Dims, Path]) -> dict[str, Any]:
    """The result of ``dims``'s network trained at the budget: a search candidate's when it is one, read back
    when it already finished, else trained now."""
    path = searched.get(dims, root / f"d{dims.depth}-w{dims.width}-r{dims.resolution}")
    if (path / "result.json").is_file():
        return dict(Run(path).read_json("result.json"))
    return net.train(dims, path, epochs, steps, resume=Run(path).exists())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=100, help="training steps of every network")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--phis", type=float, nargs="+", default=[1.0, 2.0])
    args = parser.parse_args()
    torch.manual_seed(0)
    base = TrainConfig(dataset="fashion-mnist-small", num_cells=8, channels=8, image_size=16, batch_size=64,
                       cutout=0, drop_path=0.0, auxiliary_weight=0.0, val_examples=1000, eval_batch_size=500,
                       seed=args.seed, device="cpu")
    config = ScaleConfig(phi=max(args.phis), channel_divisor=2, search_epochs=args.epochs,
                         search_steps_per_epoch=args.steps, net=base)
    search_dir = args.out / "search"
    result = scale("DARTS_V2", config, search_dir, resume=Run(search_dir).exists(),
                   on_candidate=lambda r: print(f"  candidate {r['candidate']}: {r['depth']}/{r['width']}/"
                                                f"{r['resolution']} x{r['madds_ratio']:.2f} val {r['val_accuracy']}",
                                                flush=True))
    chosen = Coefficients(**result["coefficients"])
    net = GenotypeNet(resolve_genotype("DARTS_V2"), base, "DARTS_V2")
    base_dims, base_madds = net.base(), net.cost(net.base()).madds
    searched = {Dims(r["depth"], r["width"], r["resolution"]): search_dir / r["run_dir"]
                for r in result["candidates"] if r["run_dir"]}
    rows = [("base", 0.0, base_dims)]
    for phi in args.phis:
        rows.append((f"compound ({chosen.alpha:g}, {chosen.beta:g}, {chosen.gamma:g})", phi,
                     net.scaled(*chosen.multipliers(phi), config.rounding)))
        rows += [(name, phi, net.scaled(*c.multipliers(phi), config.rounding)) for name, c in BASELINES.items()]
    print(f"\nDARTS_V2 on fashion-mnist-small, {args.epochs} x {args.steps} steps each, seed {args.seed}; chosen "
          f"alpha {chosen.alpha:g}, beta {chosen.beta:g}, gamma {chosen.gamma:g} "
          f"(product {chosen.product:.3f}) out of {sum(r['val_accuracy'] is not None for r in result['candidates'])}"
          f" competing candidates\n")
    print("| network | phi | cells | C | side | params (M) | multiply-adds (M) | x base | val acc | test acc |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, phi, dims in rows:
        out = trained(net, dims, args.out / "runs", args.epochs, args.steps, searched)
        cost = net.cost(dims)
        print(f"| {name} | {phi:g} | {dims.depth} | {dims.width} | {dims.resolution} | {cost.params / 1e6:.4f} | "
              f"{cost.madds / 1e6:.2f} | {cost.madds / base_madds:.2f} | {out['val_accuracy']:.4f} | "
              f"{out['test_accuracy']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
