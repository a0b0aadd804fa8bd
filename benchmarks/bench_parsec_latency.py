"""PARSEC with a latency (lookup table) or multiply-add target against unconstrained PARSEC, on the DARTS space
and the built-in data (Fashion-MNIST, 6,000 images), on a short CPU budget.

Steps:

1. profile a latency lookup table of the deployed network (the DARTS evaluation network of the ``cifar10``
   setting, ``--cells`` cells of ``--channels`` channels, batch 1) on this CPU (process CPU time, one thread);
2. the target: ``--fraction`` (0.7) of the median LUT latency of 1,000 uniformly drawn architectures (for
   ``madds``: the same fraction of their median multiply-adds, counted as the search's ``madds`` cost counts
   them, on the standard CIFAR-10 network of 20 cells and 36 channels);
3. per mode and seed, a PARSEC search on a tiny supernet (``--search-cells`` cells, ``--search-channels``
   channels, 16-pixel images, K = ``--samples``) for ``--steps`` steps: ``none`` (no cost), ``latency``
   (``cost=lut:<table>``, Lagrangian toward the target) and ``madds`` (the same on multiply-adds);
4. for every run, under the final p(alpha | pi): the mode's predicted cost (LUT ms, M multiply-adds), the mode
   network's measured latency (median of ``--repeats`` timings), the exact expected cost, the share of 4,096
   sampled architectures within the target, and the mode's held-out accuracy on the shared weights (the
   search's own short-budget measure, not a from-scratch training).

Prints a Markdown table per run and the mean +- std per mode, and writes both to ``--out`` (JSON and ``.md``).

    OMP_NUM_THREADS=1 nohup python benchmarks/bench_parsec_latency.py --out runs/parsec-latency > bench.log &
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from _measure import environment, markdown_table, set_threads

from parsecnas.estimators.cost import Cost
from parsecnas.estimators.cost_specs import make_cost
from parsecnas.estimators.latency import LatencyTable, measure_latency, profile_latency
from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search
from parsecnas.spaces import get_space, sample_uniform
from parsecnas.strategies import ParsecConfig
from parsecnas.strategies.cost_budget import CostBudget

MODES = ("none", "latency", "madds")


def target_of(space: Any, cost: Cost, fraction: float, draws: int = 1000) -> float:
    """``fraction`` of the median cost of ``draws`` uniformly drawn architectures (a fixed generator)."""
    generator = torch.Generator().manual_seed(12345)
    return fraction * statistics.median(cost(sample_uniform(space, generator)) for _ in range(draws))


def search(mode: str, seed: int, args: argparse.Namespace, lut_path: Path, targets: dict[str, float],
           out: Path) -> Any:
    cost = {"none": None, "latency": f"lut:{lut_path}", "madds": "madds"}[mode]
    settings = ParsecConfig(samples=args.samples, cost=cost, cost_target=targets.get(mode),
                            cost_method="lagrangian", cost_weight=args.cost_weight)
    config = SearchConfig(space="darts", strategy="parsec", seed=seed, epochs=args.epochs,
                          steps_per_epoch=args.steps // args.epochs,
                          net=NetConfig(num_cells=args.search_cells, channels=args.search_channels),
                          data=DataConfig(batch_size=args.batch, eval_examples=500, image_size=16),
                          settings=settings)
    return run_search(config, out / f"{mode}-seed{seed}", progress=False)


def evaluate(result: Any, costs: dict[str, Cost], targets: dict[str, float], setting: Any, repeats: int
             ) -> dict[str, Any]:
    """The final distribution's numbers for one run (see the module)."""
    space, distribution = result.space, result.strategy.distribution
    mode = result.architecture  # PARSEC derives the mode of p(alpha | pi)
    row: dict[str, Any] = {"arch": space.format(mode), "mode_accuracy": result.metrics[-1].get("mode_accuracy")}
    for name, cost in costs.items():
        table = cost.table()
        budget = CostBudget(table.padded(distribution.valid.shape[1]), table.offset, targets[name])
        metrics = budget.metrics(distribution, samples=4096)
        row[f"{name}_mode"] = metrics["cost_mode"]
        row[f"{name}_expected"] = metrics["cost_expected"]
        row[f"{name}_within"] = metrics["cost_within_target"]
    x = torch.randn(setting.input_shape(), generator=torch.Generator().manual_seed(0))
    row["latency_measured"] = measure_latency(space.build(mode, **setting.options), x, warmup=5, repeats=repeats,
                                              clock="cpu")
    return row


COLUMNS = (("latency_mode", "mode LUT ms", 3), ("latency_measured", "mode measured ms", 3),
           ("latency_expected", "E[LUT ms]", 3), ("latency_within", "P(lat <= T)", 2),
           ("madds_mode", "mode M madds", 1), ("madds_expected", "E[M madds]", 1), ("madds_within", "P(madds <= T)", 2),
           ("mode_accuracy", "mode acc (shared w.)", 3))


def tables(rows: list[dict[str, Any]], targets: dict[str, float]) -> str:
    def fmt(v: Any, digits: int) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    per_run = markdown_table(["mode", "seed", *[c[1] for c in COLUMNS]],
                             [[r["mode"], r["seed"], *[fmt(r[k], d) for k, _, d in COLUMNS]] for r in rows])
    summary = []
    for mode in dict.fromkeys(r["mode"] for r in rows):
        group = [r for r in rows if r["mode"] == mode]
        cells = []
        for key, _, digits in COLUMNS:
            values = [float(r[key]) for r in group if r[key] is not None]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.{digits}f} +- {std:.{digits}f}" if values else "-")
        summary.append([mode, len(group), *cells])
    head = (f"targets: latency {targets['latency']:.3f} ms (LUT), madds {targets['madds']:.1f} M; "
            "mean +- std over seeds")
    return "\n\n".join([head, markdown_table(["mode", "seeds", *[c[1] for c in COLUMNS]], summary), per_run])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", nargs="+", default=["none", "latency"], choices=MODES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--steps", type=int, default=240)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--search-cells", type=int, default=5)
    parser.add_argument("--search-channels", type=int, default=8)
    parser.add_argument("--cells", type=int, default=5, help="cells of the deployed (costed) network")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--fraction", type=float, default=0.7)
    parser.add_argument("--cost-weight", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/bench-parsec-latency")
    args = parser.parse_args()
    set_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.process_time()
    space = get_space("darts")
    setting = space.net_setting("cifar10", num_cells=args.cells, channels=args.channels)
    lut_path = out / "lut.json"
    if not lut_path.exists():
        profile_latency(space, setting, warmup=3, repeats=args.repeats, fixed_archs=5, seed=0, clock="cpu"
                        ).save(str(lut_path))
    costs: dict[str, Cost] = {"latency": LatencyTable.load(str(lut_path)).cost(space),
                              "madds": make_cost("madds", space, "cifar10")}
    targets = {name: target_of(space, cost, args.fraction) for name, cost in costs.items()}
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        for mode in args.modes:
            run_start = time.process_time()
            result = search(mode, seed, args, lut_path, targets, out)
            row = {"mode": mode, "seed": seed, **evaluate(result, costs, targets, setting, args.repeats),
                   "cpu_seconds": time.process_time() - run_start}
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = {"environment": environment(), "args": vars(args), "targets": targets, "rows": rows,
              "cpu_seconds": time.process_time() - start}
    (out / "results.json").write_text(json.dumps(report, indent=2))
    text = tables(rows, targets) + f"\n\n{environment()}; {report['cpu_seconds'] / 60:.1f} CPU minutes in all\n"
    (out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
