"""Peak activation memory of inference, counted (``ideal``: each tensor freed after its last reader; ``eager``:
as PyTorch frees them) against the CPU allocator's measured peak, for seeded random architectures of the NB201
and DARTS networks (batch 1, float32).

``eager`` + the input should equal the allocator's peak to the byte (the profiler sees allocations outside
kernels' private workspaces only); ``ideal`` is what a memory-planning runtime needs for the same op order.

    OMP_NUM_THREADS=1 python benchmarks/bench_peak_memory.py --archs 3
"""

from __future__ import annotations

import argparse

import torch
from _measure import environment, markdown_table, set_threads

from parsecnas.estimators.memory import allocator_peak_bytes, trace_activations
from parsecnas.spaces import get_space, sample_uniform

SETTINGS = (("nb201", "cifar10"), ("nb201", "imagenet16"), ("darts", "cifar10"), ("darts", "imagenet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    set_threads(args.threads)
    rows = []
    for space_name, setting_name in SETTINGS:
        space = get_space(space_name)
        setting = space.net_setting(setting_name)
        generator = torch.Generator().manual_seed(0)
        for k in range(args.archs):
            net = space.build(sample_uniform(space, generator), **setting.options)
            x = torch.zeros(setting.input_shape(1))
            trace = trace_activations(net, x)
            measured = allocator_peak_bytes(net, x) + x.nbytes
            mib = [v / 2 ** 20 for v in (trace.peak_bytes(), trace.peak_bytes("eager"), measured)]
            rows.append([f"{space_name}/{setting_name}", k, trace.ops, *[f"{v:.3f}" for v in mib],
                         "yes" if measured == trace.peak_bytes("eager") else f"{measured - trace.peak_bytes('eager')}"])
    print(markdown_table(["network", "arch", "ops", "ideal MiB", "eager MiB", "allocator MiB", "eager = allocator"],
                         rows))
    print(f"\n{environment()}")


if __name__ == "__main__":
    main()
