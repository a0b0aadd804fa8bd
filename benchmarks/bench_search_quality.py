"""Search quality, honestly: a short PARSEC search, then its mode and random architectures of the same space
trained from scratch with the same small budget; mean and std over seeds. The defaults are the demo's budget
(``parsecnas.demo``: what ``parsecnas demo`` searches and trains); each flag changes one part of it.

    python benchmarks/bench_search_quality.py --dataset fashion-mnist-small --seeds 0 1 2 --random 3
    PARSECNAS_DATA=../shared/data python benchmarks/bench_search_quality.py --dataset cifar10 --seeds 0 1 2

Prints a Markdown table per seed and a summary; writes every run under --out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from parsecnas.demo import demo_search_config, demo_train_config
from parsecnas.search import NetConfig, run_search
from parsecnas.spaces import get_space, sample_uniform
from parsecnas.train import train_genotype

DEMO, DEMO_TRAIN = demo_search_config(), demo_train_config("fashion-mnist-small")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="fashion-mnist-small")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--random", type=int, default=5, help="random architectures trained per seed")
    p.add_argument("--preset", choices=["robust", "paper"], default="robust", help="PARSEC's preset")
    p.add_argument("--search-epochs", type=int, default=DEMO.epochs)
    p.add_argument("--search-steps", type=int, default=DEMO.steps_per_epoch)
    p.add_argument("--samples", type=int, default=DEMO.settings.samples, help="PARSEC's K")
    p.add_argument("--min-weight", type=float, default=DEMO.settings.min_weight)
    p.add_argument("--warmup-steps", type=int, default=None,
                   help="PARSEC steps that train weights only (default: the preset's; both presets have none)")
    p.add_argument("--search-cells", type=int, default=DEMO.net.num_cells)
    p.add_argument("--search-channels", type=int, default=DEMO.net.channels)
    p.add_argument("--batch", type=int, default=DEMO.data.batch_size)
    p.add_argument("--train-epochs", type=int, default=DEMO_TRAIN.epochs)
    p.add_argument("--train-steps", type=int, default=DEMO_TRAIN.steps_per_epoch)
    p.add_argument("--train-cells", type=int, default=DEMO_TRAIN.num_cells)
    p.add_argument("--train-channels", type=int, default=DEMO_TRAIN.channels)
    p.add_argument("--out", default="runs/bench-quality")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    out = Path(args.out) / args.dataset
    space = get_space("darts")
    train_cfg = replace(DEMO_TRAIN, dataset=args.dataset, num_cells=args.train_cells, channels=args.train_channels,
                        epochs=args.train_epochs, steps_per_epoch=args.train_steps)
    rows, mode_accs, random_accs = [], [], []
    for seed in args.seeds:
        cfg = replace(DEMO, seed=seed, epochs=args.search_epochs, steps_per_epoch=args.search_steps,
                      net=NetConfig(args.search_cells, args.search_channels),
                      data=replace(DEMO.data, dataset=args.dataset, batch_size=args.batch),
                      settings=replace(DEMO.settings, preset=args.preset, samples=args.samples,
                                       min_weight=args.min_weight, warmup_steps=args.warmup_steps))
        start = time.perf_counter()
        search_dir = out / f"seed{seed}" / f"search-{args.preset}"
        result = run_search(cfg, search_dir, resume=(search_dir / "config.yaml").is_file(), progress=False)
        search_s = time.perf_counter() - start
        gen = torch.Generator().manual_seed(1000 + seed)
        candidates = [("mode", result.architecture)] + [
            (f"random{i}", sample_uniform(space, gen)) for i in range(args.random)]
        accs = {}
        for name, genotype in candidates:
            run_dir = out / f"seed{seed}" / (f"mode-{args.preset}" if name == "mode" else name)
            res = train_genotype(genotype, replace(train_cfg, seed=seed), run_dir,
                                 resume=(run_dir / "config.yaml").is_file(), progress=False)
            accs[name] = res["test_accuracy"]
        mode_accs.append(accs["mode"])
        rand = [v for k, v in accs.items() if k != "mode"]
        random_accs.extend(rand)
        last = result.metrics[-1]
        rows.append((seed, accs["mode"], statistics.mean(rand), min(rand), max(rand), last["mode_accuracy"],
                     last["entropy"], search_s))
        print(json.dumps({"seed": seed, **accs, "search_s": round(search_s, 1)}), flush=True)
    print(f"\n## Search quality on {args.dataset}: PARSEC mode vs random architectures (same training budget)\n")
    print(f"search: PARSEC preset {args.preset}, {args.search_epochs} epochs x {args.search_steps} steps "
          f"(warm-up {result.strategy.config.warmup_steps} steps), "
          f"K = {args.samples}, "
          f"{args.search_cells} cells, C = {args.search_channels}, batch {args.batch}; "
          f"train from scratch: {args.train_epochs} epochs x {args.train_steps} steps, {args.train_cells} cells, "
          f"C = {args.train_channels}, batch 64\n")
    print("| seed | mode test acc | random mean | random min | random max | mode acc (shared weights) "
          "| entropy (nats) | search s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.4f} | {r[2]:.4f} | {r[3]:.4f} | {r[4]:.4f} | {r[5]:.4f} | {r[6]:.2f} | {r[7]:.0f} |")
    sd = statistics.stdev
    print(f"\nmode: {statistics.mean(mode_accs):.4f} +- {sd(mode_accs) if len(mode_accs) > 1 else 0:.4f} "
          f"({len(mode_accs)} seeds); random: {statistics.mean(random_accs):.4f} +- "
          f"{sd(random_accs) if len(random_accs) > 1 else 0:.4f} ({len(random_accs)} architectures)")
    gaps = [r[1] - r[2] for r in rows]  # paired: each seed's mode against that seed's random mean
    se = sd(gaps) / len(gaps) ** 0.5 if len(gaps) > 1 else float("nan")
    wins = sum(g > 0 for g in gaps)
    print(f"paired (mode - mean random of the same seed): {statistics.mean(gaps):+.4f} +- {se:.4f} (standard "
          f"error); the mode wins on {wins} of {len(gaps)} seeds")


if __name__ == "__main__":
    main()
