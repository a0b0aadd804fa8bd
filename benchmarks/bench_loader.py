"""Loader throughput with augmentation: batched tensor ops vs a per-sample Python loop.

Both paths do the same work on CIFAR-sized data (3x32x32 uint8): shuffle, random crop with 4 px zero
padding, horizontal flip, normalisation, 16 px cutout (DARTS' training pipeline), then collate a batch. The
per-sample path augments one image at a time with tensor ops, as a ``Dataset.__getitem__`` with per-image
transforms does.

On a CPU shared with other busy processes (load average above the core count), torch's OpenMP ops stall at
their barriers and every batched op slows down by orders of magnitude; run with ``--threads 1`` there.

Usage:
    python benchmarks/bench_loader.py [--num-examples 10240] [--device cpu|cuda] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from parsecnas.data import Loader, LoaderConfig

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
PADDING, CUTOUT = 4, 16


class PerSampleLoader:
    """Reference: augments and normalises each image separately, then stacks the batch."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int = 0) -> None:
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.mean = torch.tensor(MEAN, device=images.device).view(3, 1, 1)
        self.std = torch.tensor(STD, device=images.device).view(3, 1, 1)

    def _randint(self, high: int) -> int:
        return int(torch.randint(0, high, (1,), generator=self.generator))

    def _augment(self, image: torch.Tensor) -> torch.Tensor:
        _, h, w = image.shape
        padded = F.pad(image, (PADDING,) * 4)
        dy, dx = self._randint(2 * PADDING + 1), self._randint(2 * PADDING + 1)
        image = padded[:, dy : dy + h, dx : dx + w]
        if self._randint(2):
            image = image.flip(-1)
        out = (image.float() / 255.0 - self.mean) / self.std
        cy, cx = self._randint(h), self._randint(w)
        y0, x0 = max(cy - CUTOUT // 2, 0), max(cx - CUTOUT // 2, 0)
        out[:, y0 : cy - CUTOUT // 2 + CUTOUT, x0 : cx - CUTOUT // 2 + CUTOUT] = 0.0
        return out

    def __iter__(self):  # noqa: ANN204 - a benchmark helper
        order = torch.randperm(len(self.labels), generator=self.generator).tolist()
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            batch = torch.stack([self._augment(self.images[i]) for i in index])
            yield batch, self.labels[index]


def _epoch_rate(
    make_iter: Callable[[], object], num_examples: int, device: torch.device, repeats: int
) -> float:
    """Best images/s over ``repeats`` full epochs, after one warm-up epoch."""
    best = 0.0
    for run in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for images, _ in make_iter():  # type: ignore[attr-defined]
            last = images
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        if run > 0:
            best = max(best, num_examples / elapsed)
    del last
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-examples", type=int, default=10240)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: leave as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.num_examples, 3, 32, 32), generator=gen, dtype=torch.uint8)
    labels = torch.randint(0, 10, (args.num_examples,), generator=gen)
    images_dev, labels_dev = images.to(device), labels.to(device)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} cpus={os.cpu_count()} "
        f"load={load:.1f} N={args.num_examples}"
    )
    print("augmentation: crop pad 4 + flip + cutout 16 + normalise, 3x32x32 uint8\n")
    print(f"| {'loader':<22} | {'batch':>5} | {'images/s':>12} | {'speedup':>7} |")
    print(f"|{'-' * 24}|{'-' * 7}|{'-' * 14}|{'-' * 9}|")
    for batch_size in args.batch_sizes:
        config = LoaderConfig(batch_size=batch_size, crop_padding=PADDING, flip=True, cutout=CUTOUT)
        loader = Loader(images_dev, labels_dev, MEAN, STD, config, device=device, seed=0)
        reference = PerSampleLoader(images_dev, labels_dev, batch_size)
        loop_rate = _epoch_rate(
            lambda r=reference: iter(r), args.num_examples, device, max(1, args.repeats - 2)
        )
        batched_rate = _epoch_rate(lambda l=loader: iter(l), args.num_examples, device, args.repeats)
        print(f"| {'per-sample loop':<22} | {batch_size:>5} | {loop_rate:>12,.0f} | {1.0:>6.1f}x |")
        print(
            f"| {'Loader (batched)':<22} | {batch_size:>5} | {batched_rate:>12,.0f} | "
            f"{batched_rate / loop_rate:>6.1f}x |"
        )


if __name__ == "__main__":
    main()
