"""PARSEC step time and peak memory per rank on 1 and N processes (torchrun, gloo on CPU, NCCL on GPUs).

Each configuration runs in fresh processes: one plain process for N = 1, ``torchrun --standalone
--nproc-per-node N`` for more. Every rank builds the same supernet and strategy and takes ``--repeats`` timed
steps after ``--warmup`` untimed ones (ranks meet at a barrier before and after each step); the table gives the
median step time, the speed-up over one process, the efficiency (speed-up / N) and the largest peak RSS of any
rank. Modes: ``samples`` (each rank a share of the K samples, whole batches) and ``data`` (each rank a share of
every batch, all K samples).

The ranks of one machine share its cores: on a 2-core machine two ranks of one thread each can at best halve the
step of one process of one thread, and any other load on the machine shows in the numbers (its load average is
printed). Threads per rank: ``--threads`` (1 by default, so 1 and N processes use 1 and N cores).

Usage:
    python benchmarks/bench_distributed.py [--ranks 1 2] [--modes samples data] [--samples 8] [--cells 5]
        [--channels 8] [--batch 32] [--repeats 3] [--warmup 1] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

import torch
from _measure import build_supernet, emit, environment, markdown_table, random_batch, set_threads, timed

from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.run import peak_rss_mb
from parsecnas.run.distributed import from_env
from parsecnas.run.resources import resolve_device
from parsecnas.spaces import get_space
from parsecnas.strategies import Parsec, ParsecConfig


def child(args: argparse.Namespace) -> None:
    """One rank's measurement; rank 0 emits every rank's median step time and peak RSS."""
    set_threads(args.threads)
    device = resolve_device(args.device)
    d = from_env(device)
    device = d.place(device)
    net = build_supernet("channels_last", num_cells=args.cells, channels=args.channels).to(device)
    parsec = Parsec(get_space("darts"), ParsecConfig(samples=args.samples, parallel=args.mode), seed=0)
    parsec.distribute(d)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1, distributed=d)
    batches = [tuple(t.to(device) for t in random_batch(args.batch, "channels_last", seed)) for seed in (0, 1)]
    if parsec.shards_batches:
        rows = d.shard(args.batch)
        batches = [(x[rows.start: rows.stop], y[rows.start: rows.stop]) for x, y in batches]

    def step() -> None:
        d.barrier()
        parsec.step(net, weights, *batches)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        d.barrier()

    for _ in range(args.warmup):
        step()
    seconds = statistics.median(timed(step) for _ in range(args.repeats))
    memory = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else peak_rss_mb()
    ranks = d.gather(torch.tensor([[seconds, memory]], dtype=torch.float64), d.world_size)
    if d.is_main:
        emit({"seconds": ranks[:, 0].tolist(), "memory_mb": ranks[:, 1].tolist()})


def measure(args: argparse.Namespace, ranks: int, mode: str) -> dict:
    flags = ["--child", "--mode", mode, "--samples", str(args.samples), "--cells", str(args.cells), "--channels",
             str(args.channels), "--batch", str(args.batch), "--repeats", str(args.repeats), "--warmup",
             str(args.warmup), "--threads", str(args.threads), "--device", args.device]
    launch = [sys.executable] if ranks == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                  "--nproc-per-node", str(ranks)]
    proc = subprocess.run([*launch, __file__, *flags], capture_output=True, text=True, check=False,
                          env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{ranks} rank(s), {mode}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="samples", help=argparse.SUPPRESS)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--modes", nargs="+", default=["samples", "data"], choices=["samples", "data"])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--cells", type=int, default=5)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(environment())
    print(f"PARSEC step: K = {args.samples}, {args.cells} cells, C = {args.channels}, batch {args.batch} "
          f"(train and search), {args.threads} thread(s) per rank, device {args.device}\n")
    rows = []
    for mode in args.modes:
        base = None
        for n in args.ranks:
            result = measure(args, n, mode)
            seconds = max(result["seconds"])
            base = seconds if n == 1 else base
            speedup = base / seconds if base else float("nan")
            rows.append([mode, n, f"{seconds:.3f}", f"{speedup:.2f}", f"{speedup / n:.2f}",
                         f"{max(result['memory_mb']):.0f}"])
    unit = "peak GPU MB per rank" if args.device.startswith("cuda") else "peak RSS MB per rank"
    print(markdown_table(["mode", "ranks", "s / step", "speed-up", "efficiency", unit], rows))


if __name__ == "__main__":
    main()
