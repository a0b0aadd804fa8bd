"""Weight-sharing search on the NAS-Bench-201 supernet: PARSEC, DARTS (1st order) and GDAS on real CIFAR-10.

Every (method, seed) runs ``run_search`` with ``space="nb201"`` in a fresh process (so its peak RSS is its own);
the derived cell is looked up in the NB201 table (200-epoch CIFAR-10 test accuracy, the NB201 paper's CIFAR-10
"test" column). Prints a Markdown table with the published NB201 numbers and a random-cell baseline: the mean
+- std of the table's CIFAR-10 test accuracy over all 15,625 cells (the expectation of a uniformly random cell).

Protocols (``--protocol auto``: ``paper`` when CUDA is available, else ``short``):

* ``paper``: the NB201 paper's search setting (Dong & Yang 2020, section 5; the authors' DARTS-V1/GDAS scripts):
  N = 5 cells per stage, C = 16, 50 epochs, batch 64, search on half of CIFAR-10 train (the other half drives the
  architecture updates), SGD lr 0.025 cosine to 0.001, momentum 0.9, weight decay 5e-4; Adam 3e-4 (wd 1e-3) on
  alpha; GDAS tau 10 -> 0.1. Differences: no Nesterov momentum, BN always on batch statistics (NB201 tracked
  running statistics), PARSEC with K = 8 (not in the paper), and the authors' GDAS config uses 240 epochs.
* ``short`` (2 CPU cores, 1 thread): N = 1, C = 8, 3 epochs x 100 steps of batch 64 (300 steps), held-out
  accuracy on 1,000 examples per epoch, PARSEC K = 4 with ``min_weight`` 1e-3; about 12 min for all three
  methods at 2 seeds; ``--parsec-warmup 100`` adds PARSEC's optional weights-only warm-up. Far too short to
  train the supernet: it shows the code path and each method's bias early in a search, not their quality.

    PARSECNAS_DATA=/work/shared/data OMP_NUM_THREADS=1 python benchmarks/bench_nb201_weight_sharing.py \\
        --out /work/bench-out/nb201-ws/runs                                                      # short (CPU)
    PARSECNAS_DATA=/path/to/data python benchmarks/bench_nb201_weight_sharing.py --protocol paper --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import torch
from _measure import emit, environment, markdown_table, run_child, set_threads

from parsecnas.estimators.tabular import NB201Table
from parsecnas.optim import WeightOptimConfig
from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search
from parsecnas.strategies import DartsConfig, ParsecConfig

METHODS = {"parsec": "PARSEC", "darts": "DARTS (1st order)", "gdas": "GDAS"}
PUBLISHED = {"darts": "54.30 +- 0.00 (DARTS-V1)", "gdas": "93.61 +- 0.09", "parsec": "-"}
"""NB201 paper (Dong & Yang, ICLR 2020), Table 5: CIFAR-10 test accuracy of the searched cell, 3 runs."""

PROTOCOLS: dict[str, dict[str, Any]] = {
    "paper": {"num_cells": 5, "channels": 16, "epochs": 50, "steps_per_epoch": None, "batch": 64,
              "eval_examples": 2000, "samples": 8, "parsec_warmup": 0, "seeds": [0, 1, 2]},
    "short": {"num_cells": 1, "channels": 8, "epochs": 3, "steps_per_epoch": 100, "batch": 64,
              "eval_examples": 1000, "samples": 4, "parsec_warmup": 0, "seeds": [0, 1]},
}


def search_config(method: str, seed: int, p: dict[str, Any]) -> SearchConfig:
    return SearchConfig(
        strategy=method, space="nb201", seed=seed, epochs=p["epochs"], steps_per_epoch=p["steps_per_epoch"],
        net=NetConfig(num_cells=p["num_cells"], channels=p["channels"]),
        data=DataConfig(dataset="cifar10", batch_size=p["batch"], search_fraction=0.5,
                        eval_examples=p["eval_examples"]),
        weights=WeightOptimConfig(lr=0.025, lr_min=0.001, momentum=0.9, weight_decay=5e-4),
        parsec=ParsecConfig(samples=p["samples"], min_weight=1e-3, warmup_steps=p["parsec_warmup"]),
        darts=DartsConfig(order=1))


def child(args: argparse.Namespace) -> None:
    """One search; hands back its derived cell, table lookup, time per step and peak memory."""
    set_threads(args.threads)
    p = json.loads(args.protocol_json)
    config = search_config(args.method, args.seed, p)
    result = run_search(config, Path(args.out) / f"{args.method}-seed{args.seed}", progress=False)
    last = result.metrics[-1]
    lookup = result.run_dir / "benchmark_lookup.json"
    found = json.loads(lookup.read_text()) if lookup.is_file() else {}
    cuda_mb = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    emit({"arch": str(result.architecture), "index": found.get("index"), "test": found.get("test_accuracy"),
          "curve": [r.get("table_test_accuracy") for r in result.metrics],
          "s_per_step": last["time_s"] / last["step"], "peak_rss_mb": last["peak_rss_mb"], "cuda_mb": cuda_mb})


def mean_std(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{statistics.mean(values):.2f} +- {statistics.pstdev(values):.2f}"


def main() -> None:
    args = parse_args()
    if args.child:
        child(args)
        return
    name = args.protocol if args.protocol != "auto" else ("paper" if torch.cuda.is_available() else "short")
    p = dict(PROTOCOLS[name])
    for key in ("num_cells", "channels", "epochs", "steps_per_epoch", "samples", "parsec_warmup"):
        if getattr(args, key) is not None:
            p[key] = getattr(args, key)
    seeds = args.seeds if args.seeds is not None else p.pop("seeds")
    p.pop("seeds", None)
    out = args.out or tempfile.mkdtemp(prefix="bench-nb201-ws-")
    print(environment())
    print(f"protocol {name}: N = {p['num_cells']} cells per stage, C = {p['channels']}, {p['epochs']} epochs x "
          f"{p['steps_per_epoch'] or 'all'} steps, batch {p['batch']}, CIFAR-10 (JPEG copy) train split 50/50, "
          f"PARSEC K = {p['samples']}, warm-up {p['parsec_warmup']} steps; runs under {out}\n", flush=True)
    rows = []
    for method in args.methods:
        results = []
        for seed in seeds:
            flags = ["--method", method, "--seed", str(seed), "--out", out, "--threads", str(args.threads),
                     "--protocol-json", json.dumps(p)]
            r = run_child(__file__, flags)
            print(f"{method} seed {seed}: {r['arch']} (index {r['index']}) table test {r['test']}, "
                  f"curve {r['curve']}, {r['s_per_step']:.3f} s/step", flush=True)
            results.append(r)
        tests = [r["test"] for r in results if r["test"] is not None]
        memory = f"{max(r['peak_rss_mb'] for r in results):.0f}"
        if results[0]["cuda_mb"] is not None:
            memory += f" (GPU {max(r['cuda_mb'] for r in results):.0f})"
        cells = "<br>".join(r["arch"].replace("|", "\\|") for r in results)  # escaped for the table
        seconds = statistics.mean(r["s_per_step"] for r in results)
        label = METHODS[method] + (f" (warm-up {p['parsec_warmup']} steps)"
                                   if method == "parsec" and p["parsec_warmup"] else "")
        rows.append([label, " ".join(map(str, seeds)), cells, mean_std(tests), f"{seconds:.3f}", memory,
                     PUBLISHED[method]])
    accuracies = NB201Table().accuracies("cifar10", 200, "test")
    _, best = NB201Table().best("cifar10")
    rows.append(["random cell (table, all 15,625)", "-", "-", f"{accuracies.mean():.2f} +- {accuracies.std():.2f}",
                 "-", "-", "-"])
    rows.append(["optimum (table)", "-", "-", f"{best:.2f}", "-", "-", "94.37"])
    print()
    print(markdown_table(["method", "seeds", "derived cell(s)", "table CIFAR-10 test (%)", "s / step",
                          "peak RSS MB", "published (NB201 Table 5)"], rows))
    print("\ns / step: search wall time / steps, including the end-of-epoch held-out evaluation.")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", choices=["auto", "paper", "short"], default="auto")
    p.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the protocol's")
    p.add_argument("--num-cells", dest="num_cells", type=int, default=None, help="override: cells per stage")
    p.add_argument("--channels", type=int, default=None, help="override: C")
    p.add_argument("--epochs", type=int, default=None, help="override")
    p.add_argument("--steps-per-epoch", dest="steps_per_epoch", type=int, default=None, help="override")
    p.add_argument("--samples", type=int, default=None, help="override: PARSEC's K")
    p.add_argument("--parsec-warmup", dest="parsec_warmup", type=int, default=None,
                   help="PARSEC steps that train the weights only (default 0: the paper's Algorithm 1)")
    p.add_argument("--threads", type=int, default=1 if not torch.cuda.is_available() else 0)
    p.add_argument("--out", default=None, help="folder for the run directories (default: a temp folder)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--protocol-json", dest="protocol_json", help=argparse.SUPPRESS)
    return p.parse_args()


if __name__ == "__main__":
    main()
