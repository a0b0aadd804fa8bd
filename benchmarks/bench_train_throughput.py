"""Training throughput of the DARTS_V2 evaluation network against the machine's matrix-multiply peak.

What it measures, on one device:
  1. matmul peak: the best fp32 (and, on a GPU, bf16) GFLOP/s of square ``torch.mm`` over a few sizes
     (2 n^3 FLOPs per product; median time of ``--repeats`` calls after a warm-up);
  2. the training step of the CIFAR evaluation network (DARTS_V2, 20 cells, C = 36, auxiliary head weight 0.4,
     drop path 0.2, SGD with momentum, clipping 5) at batch 96, the same code path as ``parsecnas train``: images/s
     and achieved GFLOP/s, counting a step as 3 x forward multiply-adds x 2 FLOPs (forward once, backward twice;
     the multiply-adds are the network's conv + linear ones, auxiliary head excluded), and that as a share of the
     measured matmul peak;
  3. inference (eval mode, no grad) at batch 256: images/s and GFLOP/s (forward multiply-adds x 2).

Variants: CPU in channels-last and contiguous layout; on a GPU, fp32, bf16 autocast, and bf16 + torch.compile.
Inputs are seeded random CIFAR-shaped batches (data loading is not part of the step; see bench_loader.py).

    OMP_NUM_THREADS=2 python benchmarks/bench_train_throughput.py                  # this machine, ~5 min
    python benchmarks/bench_train_throughput.py --cells 5 --channels 16 --steps 2  # quick look
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from typing import Any

import torch
from _measure import LAYOUTS, environment, markdown_table, median_seconds

from parsecnas.estimators.cost import count_multiply_adds, count_parameters
from parsecnas.nets import build_network
from parsecnas.run import device_name
from parsecnas.train import training_loss


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, sizes: list[int], repeats: int) -> tuple[float, int]:
    """Best GFLOP/s of ``torch.mm`` over ``sizes`` and the size that reached it."""
    best, best_n = 0.0, 0
    for n in sizes:
        gen = torch.Generator(device=device).manual_seed(n)
        a = torch.randn(n, n, device=device, dtype=dtype, generator=gen)
        b = torch.randn(n, n, device=device, dtype=dtype, generator=gen)

        def product(a: torch.Tensor = a, b: torch.Tensor = b) -> None:
            torch.mm(a, b)
            sync(device)

        seconds = median_seconds(product, repeats, warmup=2)
        if 2 * n**3 / seconds / 1e9 > best:
            best, best_n = 2 * n**3 / seconds / 1e9, n
    return best, best_n


def make_step(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device,
              amp: torch.dtype | None, compiled: bool) -> Callable[[], None]:
    """One training step of ``parsecnas train`` (forward with aux head, loss, backward, clip, SGD)."""
    sgd = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    forward = torch.compile(net.forward_train) if compiled else net.forward_train  # type: ignore[attr-defined]
    net.train()
    net.drop_path_prob = 0.2  # type: ignore[assignment]

    def step() -> None:
        with torch.autocast(device.type, dtype=amp) if amp is not None else contextlib.nullcontext():
            logits, aux = forward(x)
        loss = training_loss(logits, aux, y, 0.4)
        sgd.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        sgd.step()
        sync(device)

    return step


def make_inference(net: torch.nn.Module, x: torch.Tensor, device: torch.device,
                   amp: torch.dtype | None) -> Callable[[], None]:
    def infer() -> None:
        net.eval()
        with torch.no_grad(), torch.autocast(device.type, dtype=amp) if amp is not None else contextlib.nullcontext():
            net(x)
        sync(device)

    return infer


def measure(args: argparse.Namespace, device: torch.device, layout: str, amp: torch.dtype | None,
            compiled: bool, forward_macs: int, peak: float) -> list[Any]:
    torch.manual_seed(0)
    net = build_network("DARTS_V2", num_cells=args.cells, channels=args.channels, auxiliary=True)
    net = net.to(device, memory_format=LAYOUTS[layout])  # type: ignore[call-overload]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 3, 32, 32, generator=gen).to(device, memory_format=LAYOUTS[layout])
    y = torch.randint(0, 10, (args.batch,), generator=gen).to(device)
    step_s = median_seconds(make_step(net, x, y, device, amp, compiled), args.steps, warmup=args.warmup)
    x_eval = torch.randn(args.eval_batch, 3, 32, 32, generator=gen).to(device, memory_format=LAYOUTS[layout])
    infer_s = median_seconds(make_inference(net, x_eval, device, amp), args.steps, warmup=args.warmup)
    train_flops = 3 * forward_macs * 2 * args.batch / step_s
    infer_flops = forward_macs * 2 * args.eval_batch / infer_s
    precision = "fp32" if amp is None else f"{str(amp).removeprefix('torch.')} autocast"
    return [f"{device.type} {layout}, {precision}{' + compile' if compiled else ''}", f"{step_s:.3f}",
            f"{args.batch / step_s:,.0f}", f"{train_flops / 1e9:,.1f}", f"{100 * train_flops / 1e9 / peak:.1f}%",
            f"{args.eval_batch / infer_s:,.0f}", f"{infer_flops / 1e9:,.1f}"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto (a GPU when present), cpu or cuda")
    p.add_argument("--cells", type=int, default=20)
    p.add_argument("--channels", type=int, default=36)
    p.add_argument("--batch", type=int, default=96)
    p.add_argument("--eval-batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=3, help="timed steps (median)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)

    probe = build_network("DARTS_V2", num_cells=args.cells, channels=args.channels, auxiliary=False)
    forward_macs = count_multiply_adds(probe, (3, 32, 32))
    sizes = [1024, 2048, 4096] if device.type == "cpu" else [4096, 8192]
    peak32, n32 = matmul_peak(device, torch.float32, sizes, args.steps)
    print(f"{environment()}\ndevice: {device_name(device)}")
    print(f"DARTS_V2 CIFAR network: {args.cells} cells, C = {args.channels}, {count_parameters(probe) / 1e6:.2f}M "
          f"params, {forward_macs / 1e6:.0f}M forward multiply-adds per image; a training step counts as "
          f"3 x {forward_macs / 1e6:.0f}M x 2 x batch {args.batch} = {6 * forward_macs * args.batch / 1e9:.0f} GFLOP")
    print(f"fp32 matmul peak: {peak32:,.1f} GFLOP/s (n = {n32})")
    variants: list[tuple[str, torch.dtype | None, bool]]
    if device.type == "cpu":
        variants = [("channels_last", None, False), ("contiguous", None, False)]
    else:
        torch.backends.cudnn.benchmark = True
        peak16, n16 = matmul_peak(device, torch.bfloat16, sizes, args.steps)
        print(f"bf16 matmul peak: {peak16:,.1f} GFLOP/s (n = {n16}); the share column uses the fp32 peak for fp32 "
              f"rows and the bf16 peak for bf16 rows")
        variants = [("channels_last", None, False), ("channels_last", torch.bfloat16, False),
                    ("channels_last", torch.bfloat16, True)]
    rows = []
    for layout, amp, compiled in variants:
        peak = peak32 if amp is None else peak16
        rows.append(measure(args, device, layout, amp, compiled, forward_macs, peak))
        print(f"  measured {rows[-1][0]}", flush=True)
    print()
    print(markdown_table(["variant", "s / step", "train img/s", "train GFLOP/s", "of matmul peak",
                          f"infer img/s (batch {args.eval_batch})", "infer GFLOP/s"], rows))


if __name__ == "__main__":
    main()
