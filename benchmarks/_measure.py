"""Shared helpers of the benchmark scripts: fresh-process runs, timing, inputs and markdown tables.

Peak RSS only ever grows within a process, so every configuration whose memory is reported runs in a child
process of its own: the parent re-invokes the same script with ``--child`` and the configuration's flags, and
the child prints one JSON line (the last line of its stdout) with what it measured.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from parsecnas.nets import SuperNet
from parsecnas.run import device_name

LAYOUTS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
"""Memory layouts to run convolutions in (``--layout`` values)."""


def run_child(script: str, args: Sequence[str]) -> dict[str, Any]:
    """Runs ``script --child ARGS`` in a fresh interpreter and returns the JSON object on its last stdout line."""
    cmd = [sys.executable, script, "--child", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def emit(result: dict[str, Any]) -> None:
    """What a child hands back to its parent: one JSON line on stdout."""
    print(json.dumps(result), flush=True)


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall seconds of ``fn`` over ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    return statistics.median(timed(fn) for _ in range(repeats))


def build_supernet(layout: str, seed: int = 0, **options: Any) -> SuperNet:
    """The default search supernet (8 cells, C = 16, 10 classes), deterministically initialised, in ``layout``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SuperNet(**options)
    return net.to(memory_format=LAYOUTS[layout])  # type: ignore[call-overload]


def random_batch(size: int, layout: str, seed: int, num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """A CIFAR-shaped batch (3x32x32 normal noise, uniform labels) in ``layout``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(size, 3, 32, 32, generator=gen).contiguous(memory_format=LAYOUTS[layout])
    return x, torch.randint(0, num_classes, (size,), generator=gen)


def set_threads(threads: int) -> None:
    """Pins torch's intra-op threads (0 leaves torch's default)."""
    if threads:
        torch.set_num_threads(threads)


def load_line() -> str:
    """The 1-minute load average; above the core count, timings (and torch's OpenMP barriers) suffer."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"load={load:.2f}"


def environment() -> str:
    """One line naming the machine, torch and its threads, and the load when the run started."""
    return (f"cpu={device_name('cpu')} cpus={os.cpu_count()} torch={torch.__version__} "
            f"threads={torch.get_num_threads()} {load_line()}")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table, columns padded to their widest cell; the first column left-aligned, the rest right."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(":" + "-" * (w + 1) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])
