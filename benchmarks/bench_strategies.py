"""Weight-sharing strategies: seconds per search step and peak RSS, and DARTS first vs second order.

One search step is whatever the strategy's ``step`` does: the weight step on a train batch plus the architecture
step on a search batch (PARSEC: K sampled forwards plus the weighted training passes; SNAS: one joint step).
Each (strategy, batch) runs in a fresh process so that its peak RSS is its own. "setup RSS" is the peak after
building the net and the batches, before the first step. Time is the median over ``--repeats`` steps after
``--warmup`` untimed ones, each step on its own random CIFAR-shaped batches (the same ones for every strategy).

The second table puts DARTS's two orders side by side from the same seed, net and batches: time per step and the
genotype each derives after the steps it ran (on random data: a check that they differ, not a search result).

Usage:
    python benchmarks/bench_strategies.py [--quick] [--batch-sizes 16 64] [--strategies darts1 darts2 xnas ...]
        [--num-cells 8] [--channels 16] [--repeats 3] [--warmup 1] [--seed 0] [--threads 0]
"""

from __future__ import annotations

import argparse
from typing import Any

from _measure import build_supernet, emit, environment, markdown_table, random_batch, run_child, set_threads, timed

from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.run import peak_rss_mb
from parsecnas.spaces import get_space
from parsecnas.strategies import create_strategy
from parsecnas.strategies.darts import DartsConfig
from parsecnas.strategies.gumbel import GdasConfig, SnasConfig
from parsecnas.strategies.parsec import ParsecConfig
from parsecnas.strategies.xnas import XnasConfig

LONG = {"epochs": 50, "steps_per_epoch": 10_000}
"""Schedules long enough that no XNAS wipeout or temperature endpoint is reached while measuring."""

CONFIGS: dict[str, tuple[str, Any]] = {
    "darts1": ("darts", DartsConfig(order=1)),
    "darts2": ("darts", DartsConfig(order=2)),
    "xnas": ("xnas", XnasConfig(**LONG)),
    "gdas": ("gdas", GdasConfig(**LONG)),
    "snas": ("snas", SnasConfig(**LONG)),
    "parsec": ("parsec", ParsecConfig()),
}
REFERENCE = ("darts1", 16, 11.5, 2800.0)
"""The issue's well-known DARTS implementation on this machine: (config, batch, s per step, peak RSS MB), first
order, its "2.8 GB" read as 2800 MB."""


def child(args: argparse.Namespace) -> None:
    set_threads(args.threads)
    net = build_supernet("channels_last", seed=args.seed, num_cells=args.num_cells, channels=args.channels)
    name, config = CONFIGS[args.config]
    strategy = create_strategy(name, get_space("darts"), config, args.seed)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    steps = args.warmup + args.repeats
    batches = [(random_batch(args.batch, "channels_last", 2 * i), random_batch(args.batch, "channels_last", 2 * i + 1))
               for i in range(steps)]
    setup = peak_rss_mb()
    seconds = [timed(lambda b=b: strategy.step(net, weights, *b)) for b in batches]
    timed_part = sorted(seconds[args.warmup:])
    emit({"seconds": timed_part[len(timed_part) // 2], "peak_mb": peak_rss_mb(), "setup_mb": setup,
          "steps": steps, "genotype": str(strategy.derive())})


def child_args(args: argparse.Namespace, config: str, batch: int) -> list[str]:
    return ["--config", config, "--batch", str(batch), "--num-cells", str(args.num_cells), "--channels",
            str(args.channels), "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--seed",
            str(args.seed), "--threads", str(args.threads)]


def differing_ops(a: str, b: str) -> int:
    from parsecnas.spaces import Genotype

    ga, gb = Genotype.parse(a).canonical(), Genotype.parse(b).canonical()
    return sum(x != y for cell in ("normal", "reduce") for x, y in zip(ga.cell(cell), gb.cell(cell)))


def parent(args: argparse.Namespace) -> None:
    set_threads(args.threads)
    print(environment())
    print(f"supernet: {args.num_cells} cells, C = {args.channels}, 3x32x32 input, 10 classes, channels_last; "
          f"median of {args.repeats} steps after {args.warmup} warm-up; each row a fresh process\n")
    rows, measured = [], {}
    for batch in args.batch_sizes:
        for config in args.strategies:
            r = run_child(__file__, child_args(args, config, batch))
            measured[config, batch] = r
            rows.append([config, batch, f"{r['seconds']:.3f}", f"{r['peak_mb']:.0f}", f"{r['setup_mb']:.0f}",
                         f"{r['peak_mb'] - r['setup_mb']:.0f}"])
    config, batch, seconds, mb = REFERENCE
    rows.append([f"{config} (issue reference)", batch, f"{seconds:.3f}", f"{mb:.0f}", "", ""])
    print(markdown_table(["config", "batch", "s / step", "peak RSS MB", "setup RSS MB", "step adds MB"], rows))
    if (config, batch) in measured:
        r = measured[config, batch]
        print(f"\n{config} at batch {batch} against the issue's reference: time {r['seconds'] / seconds:.2f}x, "
              f"peak RSS {r['peak_mb'] / mb:.2f}x (below 1.00x is better)")
    pairs = [b for b in args.batch_sizes if ("darts1", b) in measured and ("darts2", b) in measured]
    if pairs:
        print(f"\nDARTS first vs second order (seed {args.seed}, same net and batches):\n")
        compare = []
        for b in pairs:
            first, second = measured["darts1", b], measured["darts2", b]
            compare.append([b, first["steps"], f"{first['seconds']:.3f}", f"{second['seconds']:.3f}",
                            f"{second['seconds'] / first['seconds']:.2f}x",
                            differing_ops(first["genotype"], second["genotype"])])
        print(markdown_table(["batch", "steps", "1st order s", "2nd order s", "2nd / 1st", "ops differing"],
                             compare))
        for b in pairs:
            print(f"\nbatch {b}, first order:  {measured['darts1', b]['genotype']}")
            print(f"batch {b}, second order: {measured['darts2', b]['genotype']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 5 cells, C = 8, batch 8, one step after one warm-up")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--strategies", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--num-cells", type=int, default=8)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="seed of the net, alpha and the strategies' RNG")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", choices=list(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.batch_sizes, args.num_cells, args.channels, args.repeats, args.warmup = [8], 5, 8, 1, 1
    if args.child:
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
