"""PARSEC step cost: peak memory against one sampled network and against DARTS, and time against K plain steps.

Memory (each row a fresh process; 8 cells, C = 16, 3x32x32, 10 classes, train and search batches of ``--batch``):

* ``parsec``: one ``Parsec.step`` with K samples.
* ``single (heaviest of K)``: one training step (forward+backward+SGD) of each of the K architectures that
  PARSEC's first step draws (same seed), one after another; its peak is that of the heaviest one, so the ratio
  compares like with like. ``single (first of K)``: the training step of only the first of them.
* ``darts (1st order)``: a minimal first-order DARTS step written below (not part of the library): an
  architecture step (forward+backward of the mixed supernet on the search batch, w.r.t. alpha only, then Adam)
  followed by a weight step (forward+backward of the mixed supernet on the train batch, then SGD).

"setup" is the process's peak RSS after importing torch and building the net, optimisers and batches, before the
first step; a fixed few hundred MB of torch runtime sits in every process, so the ratios are given twice: of
the raw peaks, and of the increases over setup (what the step itself needs).

Speed: one ``Parsec.step`` against K x (a no_grad forward of one architecture on the search batch + one training
step of it on the train batch), on the very same K architectures: before each step the strategy's generator
state is saved, the K architectures drawn, and the state restored, so the step draws them again. The two sides
alternate which runs first; both medians are over ``--repeats`` steps after ``--warmup``.

Usage:
    python benchmarks/bench_parsec_step.py [--quick] [--batch 64] [--mem-samples 8] [--speed-samples 8 16]
        [--mem-layouts channels_last contiguous] [--speed-layouts channels_last] [--repeats 5] [--warmup 1]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from _measure import (
    LAYOUTS,
    build_supernet,
    emit,
    environment,
    load_line,
    markdown_table,
    random_batch,
    run_child,
    set_threads,
    timed,
)
from torch import nn

from parsecnas.nets import SuperNet
from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.run import peak_rss_mb
from parsecnas.spaces import get_space
from parsecnas.strategies import Parsec
from parsecnas.strategies.parsec import ParsecConfig

Batch = tuple[torch.Tensor, torch.Tensor]
METHODS = ("single-first", "single-max", "parsec", "darts")
LABELS = {"single-first": "single (first of K)", "single-max": "single (heaviest of K)", "parsec": "parsec",
          "darts": "darts (1st order)"}
PARSEC_SINGLE_MAX, DARTS_PARSEC_MIN, SPEED_MAX = 1.10, 5.0, 1.15


class FirstOrderDarts:
    """Minimal first-order DARTS for this benchmark only: alpha per cell type, Adam on alpha (DARTS settings).

    The architecture gradient is taken w.r.t. alpha alone (``backward(inputs=...)``), which spares the weight
    gradients DARTS's own code also computes there and then discards; this can only flatter DARTS.
    """

    def __init__(self, net: SuperNet, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.alphas = {cell: (1e-3 * torch.randn(14, len(net.primitives), generator=gen)).requires_grad_()
                       for cell in ("normal", "reduce")}
        self.optimizer = torch.optim.Adam(self.alphas.values(), lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)

    def mixing(self) -> dict[str, torch.Tensor]:
        return {cell: alpha.softmax(dim=-1) for cell, alpha in self.alphas.items()}

    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(net(search[0], self.mixing()), search[1]).backward(inputs=list(self.alphas.values()))
        self.optimizer.step()
        weights.zero_grad()
        mixing = {cell: w.detach() for cell, w in self.mixing().items()}
        F.cross_entropy(net(train[0], mixing), train[1]).backward()
        weights.step()


def train_step(net: nn.Module, weights: WeightOptimizer, arch: Any, train: Batch) -> None:
    """One plain training step of one architecture: forward, backward, clipped SGD step."""
    weights.zero_grad()
    F.cross_entropy(net(train[0], arch), train[1]).backward()
    weights.step()


@torch.no_grad()
def search_forward(net: nn.Module, arch: Any, search: Batch) -> float:
    """What PARSEC computes per sample on the search batch: the summed log-likelihood, no graph kept."""
    return -float(F.cross_entropy(net(search[0], arch), search[1], reduction="sum"))


def _setup(args: argparse.Namespace) -> tuple[SuperNet, WeightOptimizer, Parsec, Batch, Batch]:
    set_threads(args.threads)
    net = build_supernet(args.layout, num_cells=args.num_cells, channels=args.channels)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    parsec = Parsec(get_space("darts"), ParsecConfig(samples=args.samples), seed=args.seed)
    return net, weights, parsec, random_batch(args.batch, args.layout, 1), random_batch(args.batch, args.layout, 2)


def memory_workload(args: argparse.Namespace) -> Callable[[], object]:
    """The child's one step of ``args.method``, everything it needs already built."""
    net, weights, parsec, train, search = _setup(args)
    if args.method == "parsec":
        return lambda: parsec.step(net, weights, train, search)
    if args.method == "darts":
        darts = FirstOrderDarts(net, args.seed)
        return lambda: darts.step(net, weights, train, search)
    _, archs = parsec.sample()
    archs = archs[:1] if args.method == "single-first" else archs
    return lambda: [train_step(net, weights, arch, train) for arch in archs]


def memory_child(args: argparse.Namespace) -> None:
    step = memory_workload(args)
    setup = peak_rss_mb()
    seconds = timed(step)
    emit({"peak_mb": peak_rss_mb(), "setup_mb": setup, "seconds": seconds})


def speed_child(args: argparse.Namespace) -> None:
    net, weights, parsec, train, search = _setup(args)

    def baseline(archs: list[Any]) -> None:
        for arch in archs:
            search_forward(net, arch, search)
            train_step(net, weights, arch, train)

    parsec_s, baseline_s = [], []
    for i in range(args.warmup + args.repeats):
        state = parsec.generator.get_state()
        _, archs = parsec.sample()
        parsec.generator.set_state(state)
        runs = [lambda: parsec.step(net, weights, train, search), lambda a=archs: baseline(a)]
        first, second = (runs[0], runs[1]) if i % 2 == 0 else (runs[1], runs[0])
        t_first, t_second = timed(first), timed(second)
        t_parsec, t_base = (t_first, t_second) if i % 2 == 0 else (t_second, t_first)
        if i >= args.warmup:
            parsec_s.append(t_parsec)
            baseline_s.append(t_base)
    emit({"parsec": parsec_s, "baseline": baseline_s})


def _common_args(args: argparse.Namespace, layout: str, samples: int) -> list[str]:
    return ["--layout", layout, "--samples", str(samples), "--batch", str(args.batch), "--num-cells",
            str(args.num_cells), "--channels", str(args.channels), "--seed", str(args.seed), "--threads",
            str(args.threads)]


def memory_report(args: argparse.Namespace) -> None:
    k = args.mem_samples
    rows, ratios = [], []
    for layout in args.mem_layouts:
        r = {m: run_child(__file__, ["--task", "memory", "--method", m, *_common_args(args, layout, k)])
             for m in METHODS}
        for m, res in r.items():
            rows.append([LABELS[m], layout, f"{res['peak_mb']:.0f}", f"{res['setup_mb']:.0f}",
                         f"{res['peak_mb'] - res['setup_mb']:.0f}", f"{res['seconds']:.2f}"])
        peak = {m: res["peak_mb"] for m, res in r.items()}
        inc = {m: res["peak_mb"] - res["setup_mb"] for m, res in r.items()}
        for single in ("single-max", "single-first"):
            ps_raw, ps_inc = peak["parsec"] / peak[single], inc["parsec"] / inc[single]
            dp_raw, dp_inc = peak["darts"] / peak["parsec"], inc["darts"] / inc["parsec"]
            ratios.append([layout, LABELS[single], f"{ps_raw:.3f}", f"{ps_inc:.3f}",
                           _verdict(ps_raw <= PARSEC_SINGLE_MAX), f"{dp_raw:.2f}", f"{dp_inc:.2f}",
                           _verdict(dp_raw >= DARTS_PARSEC_MIN)])
    print(f"## Memory: one step, K = {k}, batch {args.batch} (train) + {args.batch} (search), each row a fresh "
          "process\n")
    headers = ["method", "layout", "peak RSS MB", "setup RSS MB", "step adds MB", "s (1 cold step)"]
    print(markdown_table(headers, rows))
    print("\nratios: 'raw' divides peak RSS; 'increase' divides peak RSS minus setup RSS. Claims (on raw peaks): "
          f"PARSEC / single <= {PARSEC_SINGLE_MAX:.2f}, DARTS / PARSEC >= {DARTS_PARSEC_MIN:g}\n")
    headers = ["layout", "single", "PARSEC/single raw", "PARSEC/single increase", "claim <= 1.10",
               "DARTS/PARSEC raw", "DARTS/PARSEC increase", "claim >= 5"]
    print(markdown_table(headers, ratios))


def speed_report(args: argparse.Namespace) -> None:
    rows = []
    for layout in args.speed_layouts:
        for k in args.speed_samples:
            r = run_child(__file__, ["--task", "speed", "--repeats", str(args.repeats), "--warmup",
                                     str(args.warmup), *_common_args(args, layout, k)])
            p, b = statistics.median(r["parsec"]), statistics.median(r["baseline"])
            paired = statistics.median(x / y for x, y in zip(r["parsec"], r["baseline"]))
            rows.append([k, layout, f"{p:.2f}", f"{b:.2f}", f"{p / b:.3f}", f"{paired:.3f}",
                         f"{min(r['parsec']) / min(r['baseline']):.3f}", _verdict(p / b <= SPEED_MAX)])
    print(f"\n## Speed: one PARSEC step vs K x (no_grad search forward + training step), same archs, batch "
          f"{args.batch}; median of {args.repeats} after {args.warmup} warm-up\n")
    headers = ["K", "layout", "PARSEC s", "K x plain s", "ratio of medians", "median paired ratio",
               "ratio of minima", f"claim <= {SPEED_MAX}"]
    print(markdown_table(headers, rows))


def _verdict(ok: bool) -> str:
    return "holds" if ok else "FAILS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: batch 8, K = 2, one repeat")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--mem-samples", type=int, default=8, help="K of the memory comparison")
    parser.add_argument("--speed-samples", type=int, nargs="+", default=[8, 16], help="K values of the timing")
    parser.add_argument("--mem-layouts", nargs="+", choices=sorted(LAYOUTS), default=["channels_last", "contiguous"])
    parser.add_argument("--speed-layouts", nargs="+", choices=sorted(LAYOUTS), default=["channels_last"])
    parser.add_argument("--num-cells", type=int, default=8)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="seed of PARSEC's sampler and of DARTS's alpha")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--task", choices=("memory", "speed"), help=argparse.SUPPRESS)
    parser.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--layout", choices=sorted(LAYOUTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.batch, args.mem_samples, args.speed_samples, args.repeats = 8, 2, [2], 1
        args.mem_layouts, args.speed_layouts = ["channels_last"], ["channels_last"]
    if args.child:
        (memory_child if args.task == "memory" else speed_child)(args)
        return
    set_threads(args.threads)
    print(environment() + f"\nsupernet: {args.num_cells} cells, C = {args.channels}, 3x32x32, 10 classes\n")
    if not args.skip_memory:
        memory_report(args)
    if not args.skip_speed:
        speed_report(args)
    print(f"\n{load_line()}")


if __name__ == "__main__":
    main()
