"""PARSEC's search quality on NAS-Bench-201 (weight sharing, CPU protocol): remedies, ablation, other methods.

Every (variant, seed) runs ``run_search`` with ``space="nb201"`` on real CIFAR-10 (the JPEG copy) in a fresh
process, then looks its derived cell up in the NB201 table (200-epoch test accuracy on CIFAR-10, CIFAR-100 and
ImageNet16-120). With the trained supernet it also measures:

* ranking quality: Kendall tau between the shared-weight held-out accuracy and the table's CIFAR-10 test
  accuracy over 64 cells drawn uniformly with a fixed seed (the same cells for every run);
* for ``rsps`` (random sampling with parameter sharing, Li & Talwalkar 2019): the supernet is trained on one
  uniform path per step, then the best of 100 uniform cells by shared-weight accuracy is returned.

Each run writes ``OUT/VARIANT-seedS.json`` when it ends; a rerun skips the ones that exist (resumable), and
``--jobs 2`` runs two at a time (one thread each). The printed table has the mean +- std over seeds.

CPU protocol (``short``): N = 1 cell per stage, C = 8, 20 epochs x 150 steps (3,000), batch 64, half of CIFAR-10
train as the train split and half as the search split, held-out accuracy on 500 search-split examples, SGD 0.025
cosine, PARSEC K = 4 with ``min_weight`` 1e-3 (samples weighted below it skip their training pass). At 600 steps
the supernet ranks cells *inversely* (Kendall tau -0.15 to -0.28), at 3,000 steps tau is +0.29: below that no
weight-sharing method can beat a random cell. ``--protocol paper`` (for a GPU) is the NB201 paper's: N = 5,
C = 16, 50 full epochs.

    PARSECNAS_DATA=/work/shared/data python benchmarks/bench_parsec_nb201.py --out /work/bench-out/nb201-parsec \\
        --variants parsec parsec-paper gdas darts rsps --seeds 0 1 2 3 4 --jobs 2
    PARSECNAS_DATA=... python benchmarks/bench_parsec_nb201.py --out ... --ablation --seeds 0 1 2 --jobs 2
    PARSECNAS_DATA=... python benchmarks/bench_parsec_nb201.py --out ... --temperature --seeds 0 1 2 3 4 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from _measure import markdown_table, set_threads

from parsecnas.estimators.tabular import NB201Table, nb201_record
from parsecnas.optim import WeightOptimConfig
from parsecnas.search import DataConfig, NetConfig, SearchConfig, load_trained_supernet, run_search
from parsecnas.spaces import get_space
from parsecnas.spaces.base import sample_uniform
from parsecnas.strategies import DartsConfig, EnasConfig, GdasConfig, ParsecConfig, SposConfig

VARIANTS: dict[str, tuple[str, dict[str, Any], str]] = {
    "parsec": ("parsec", {}, "PARSEC, robust preset (default; = paper + per-example likelihood)"),
    "robust-v0": ("parsec", {"baseline": True, "warmup_fraction": 0.25, "train_samples": 1},
                  "per-example + control variate + 25% warm-up + 1 resampled pass (first robust preset)"),
    "parsec-paper": ("parsec", {"preset": "paper"}, "PARSEC, preset paper (Algorithm 1)"),
    "gdas": ("gdas", {}, "GDAS"),
    "darts": ("darts", {}, "DARTS (1st order)"),
    "rsps": ("parsec", {"preset": "paper", "samples": 1, "warmup_fraction": 0.999},
             "RSPS (best of 100 by shared weights)"),
    "spos": ("spos", {}, "SPOS (75% uniform single paths, then evolution on the shared weights)"),
    "enas": ("enas", {}, "ENAS (LSTM controller, REINFORCE; the paper's settings)"),
    # ablation: the paper's algorithm plus one remedy
    "paper+example": ("parsec", {"preset": "paper", "likelihood": "example"},
                      "paper + per-example likelihood (= the robust preset)"),
    "paper+baseline": ("parsec", {"preset": "paper", "baseline": True}, "paper + control variate"),
    "paper+warmup": ("parsec", {"preset": "paper", "warmup_fraction": 0.25}, "paper + 25% warm-up"),
    "paper+mixture": ("parsec", {"preset": "paper", "proposal_eps": 0.25}, "paper + defensive mixture (eps 0.25)"),
    "paper+floor": ("parsec", {"preset": "paper", "entropy_floor": 0.5}, "paper + entropy floor (0.5)"),
    "paper+adaptive": ("parsec", {"preset": "paper", "min_samples": 2}, "paper + entropy-adapted K (2..K)"),
    "paper+no-none": ("parsec", {"preset": "paper", "exclude_ops": ["none"]}, "paper + `none` excluded"),
    "paper+resample": ("parsec", {"preset": "paper", "train_samples": 1}, "paper + resampled training pass"),
    "parsec+all-passes": ("parsec", {"baseline": True, "warmup_fraction": 0.25, "train_samples": 0},
                          "per-example + control variate + 25% warm-up, all K passes"),
    "example+warmup": ("parsec", {"preset": "paper", "likelihood": "example", "warmup_fraction": 0.25},
                       "paper + per-example likelihood + 25% warm-up (all K passes, no control variate)"),
    "parsec+uniform": ("parsec", {"baseline": True, "warmup_fraction": 0.25, "train_samples": 1,
                                  "train_on": "uniform"}, "first robust preset, weights trained on uniform paths"),
    "parsec+uniform+late": ("parsec", {"baseline": True, "warmup_fraction": 0.6, "train_samples": 1,
                                       "train_on": "uniform"},
                            "first robust preset, uniform weight training, 60% warm-up"),
    "parsec+uniform+floor": ("parsec", {"train_on": "uniform", "entropy_floor": 0.5},
                             "robust + uniform weight training + entropy floor (0.5)"),
    "parsec+no-none": ("parsec", {"exclude_ops": ["none"]}, "robust + `none` excluded"),
    "parsec+floor": ("parsec", {"entropy_floor": 0.5}, "robust + entropy floor (0.5)"),
    "parsec+mixture": ("parsec", {"proposal_eps": 0.25}, "robust + defensive mixture (eps 0.25)"),
    # temperature: beta on the per-example log-likelihood, between the default (beta 1 = 1 / batch of the summed
    # form) and the paper's summed form (beta = batch size, 64 here)
    "parsec+beta0.25": ("parsec", {"beta": 0.25}, "robust, beta 0.25 (per-example log-likelihood x 0.25)"),
    "parsec+beta4": ("parsec", {"beta": 4.0}, "robust, beta 4 (per-example log-likelihood x 4)"),
    "parsec+beta16": ("parsec", {"beta": 16.0}, "robust, beta 16 (per-example log-likelihood x 16)"),
    # pi's step: Adam's steps are scale-free, so arch_lr bounds how fast pi can commit whatever w says
    "parsec+lr0.005": ("parsec", {"arch_lr": 0.005}, "robust, arch_lr 0.005 (default 0.02)"),
}
TEMPERATURE = ["parsec", "parsec+beta0.25", "parsec+beta4", "parsec+beta16", "parsec+lr0.005", "parsec-paper"]
ABLATION = ["parsec-paper", "paper+example", "paper+baseline", "paper+warmup", "paper+mixture", "paper+floor",
            "paper+adaptive", "paper+no-none", "parsec", "parsec+no-none", "parsec+floor", "parsec+mixture"]
PUBLISHED = [("DARTS-V1 (NB201 paper, Table 5)", "54.30 +- 0.00"), ("GDAS (NB201 paper)", "93.61 +- 0.09"),
             ("SETN (NB201 paper)", "87.64 +- 0.00"), ("RSPS (NB201 paper)", "87.66 +- 1.69"),
             ("DrNAS (Chen et al. 2021)", "94.36 +- 0.00")]

PROTOCOLS: dict[str, dict[str, Any]] = {
    "short": {"num_cells": 1, "channels": 8, "epochs": 20, "steps_per_epoch": 150, "batch": 64,
              "eval_examples": 500, "samples": 4},
    "paper": {"num_cells": 5, "channels": 16, "epochs": 50, "steps_per_epoch": None, "batch": 64,
              "eval_examples": 2000, "samples": 8},
}
RANK_CELLS, RANK_SEED, RSPS_CANDIDATES = 64, 2026, 100
OTHER_SETTINGS = {"darts": DartsConfig(order=1), "gdas": GdasConfig(), "spos": SposConfig(), "enas": EnasConfig()}


def search_config(variant: str, seed: int, p: dict[str, Any]) -> SearchConfig:
    strategy, overrides, _ = VARIANTS[variant]
    overrides = {"samples": p["samples"], "min_weight": 1e-3, **overrides}
    if "exclude_ops" in overrides:
        overrides["exclude_ops"] = tuple(overrides["exclude_ops"])
    return SearchConfig(
        strategy=strategy, space="nb201", seed=seed, epochs=p["epochs"], steps_per_epoch=p["steps_per_epoch"],
        net=NetConfig(num_cells=p["num_cells"], channels=p["channels"]),
        data=DataConfig(dataset="cifar10", batch_size=p["batch"], search_fraction=0.5,
                        eval_examples=p["eval_examples"], image_size=p.get("image_size")),
        weights=WeightOptimConfig(lr=p.get("lr", 0.025), lr_min=0.001, momentum=0.9, weight_decay=5e-4),
        settings=ParsecConfig(**overrides) if strategy == "parsec" else OTHER_SETTINGS[strategy])


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b of two score lists (ties counted in neither concordant nor discordant pairs)."""
    x, y = torch.tensor(a, dtype=torch.double), torch.tensor(b, dtype=torch.double)
    dx, dy = torch.sign(x[:, None] - x[None, :]), torch.sign(y[:, None] - y[None, :])
    upper = torch.triu(torch.ones_like(dx, dtype=torch.bool), diagonal=1)
    numerator = float((dx * dy)[upper].sum())
    denominator = float((dx[upper].abs().sum() * dy[upper].abs().sum()).sqrt())
    return numerator / denominator if denominator > 0 else float("nan")


def child(args: argparse.Namespace) -> None:
    set_threads(args.threads)
    p = json.loads(args.protocol_json)
    config = search_config(args.variant, args.seed, p)
    run_dir = Path(args.out) / f"{args.variant}-seed{args.seed}"
    result = run_search(config, run_dir, progress=False)
    space, table = get_space("nb201"), NB201Table()
    trained = load_trained_supernet(config, run_dir)
    gen = torch.Generator().manual_seed(RANK_SEED)
    cells = [sample_uniform(space, gen) for _ in range(RANK_CELLS)]
    shared = [trained.accuracy(c) for c in cells]
    truth = [table.query(table.index(c), "cifar10", 200, select="test").test_accuracy for c in cells]
    arch = result.architecture
    if args.variant == "rsps":
        gen = torch.Generator().manual_seed(args.seed + 777)
        candidates = [sample_uniform(space, gen) for _ in range(RSPS_CANDIDATES)]
        scores = [trained.accuracy(c) for c in candidates]
        arch = candidates[max(range(len(scores)), key=scores.__getitem__)]
    found = nb201_record(arch, "cifar10")
    last = result.metrics[-1]
    record = {"variant": args.variant, "seed": args.seed, "arch": str(arch),
              "cifar10": found["accuracies"]["cifar10"]["test"], "cifar100": found["accuracies"]["cifar100"]["test"],
              "imagenet16": found["accuracies"]["imagenet16"]["test"], "kendall_tau": kendall_tau(shared, truth),
              "curve": [r.get("table_test_accuracy") for r in result.metrics],
              "entropy": [r.get("entropy") for r in result.metrics],
              "p_none": [r.get("p_none") for r in result.metrics],
              "s_per_step": last["time_s"] / last["step"], "peak_rss_mb": last["peak_rss_mb"]}
    (Path(args.out) / f"{args.variant}-seed{args.seed}.json").write_text(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)


def run_one(variant: str, seed: int, out: Path, p: dict[str, Any], threads: int) -> dict[str, Any]:
    path = out / f"{variant}-seed{seed}.json"
    if not path.is_file():
        flags = ["--variant", variant, "--seed", str(seed), "--out", str(out), "--threads", str(threads),
                 "--protocol-json", json.dumps(p)]
        run_dir = out / f"{variant}-seed{seed}"
        if run_dir.exists():  # an interrupted run: start it again from scratch
            subprocess.run(["rm", "-rf", str(run_dir)], check=True)
        proc = subprocess.run([sys.executable, __file__, "--child", *flags], capture_output=True, text=True)
        if proc.returncode != 0 or not path.is_file():
            raise RuntimeError(f"{variant} seed {seed} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    record = json.loads(path.read_text())
    print(f"{variant} seed {seed}: {record['arch']} C10 {record['cifar10']:.2f} tau {record['kendall_tau']:.2f} "
          f"{record['s_per_step']:.3f} s/step", flush=True)
    return record


def mean_std(values: list[float]) -> str:
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} +- {std:.2f}"


def main() -> None:
    args = parse_args()
    if args.child:
        child(args)
        return
    p = dict(PROTOCOLS[args.protocol])
    for key in ("epochs", "steps_per_epoch", "samples", "lr", "image_size"):
        if getattr(args, key) is not None:
            p[key] = getattr(args, key)
    variants = ABLATION if args.ablation else TEMPERATURE if args.temperature else args.variants
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"protocol {args.protocol}: {p}; runs under {out}\n", flush=True)
    jobs = [(v, s) for s in args.seeds for v in variants]  # seed-major: every variant gets seeds early
    if args.report:  # the table of what has finished, running nothing
        records = [json.loads((out / f"{v}-seed{s}.json").read_text()) for v, s in jobs
                   if (out / f"{v}-seed{s}.json").is_file()]
    else:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            records = list(pool.map(lambda job: run_one(job[0], job[1], out, p, args.threads), jobs))
    rows = []
    for variant in variants:
        rs = [r for r in records if r["variant"] == variant]
        if not rs:
            continue
        none_share = statistics.mean(r["p_none"][-1] for r in rs) if rs[0]["p_none"][-1] is not None else None
        rows.append([VARIANTS[variant][2], " ".join(str(r["seed"]) for r in rs), mean_std([r["cifar10"] for r in rs]),
                     mean_std([r["cifar100"] for r in rs]), mean_std([r["imagenet16"] for r in rs]),
                     mean_std([r["kendall_tau"] for r in rs]),
                     "-" if none_share is None else f"{none_share:.2f}",
                     f"{statistics.mean(r['s_per_step'] for r in rs):.3f}"])
    table = NB201Table()
    means = [table.accuracies(d, 200, "test") for d in ("cifar10", "cifar100", "ImageNet16-120")]
    rows.append(["random cell (mean of all 15,625)", "-", *(f"{m.mean():.2f} +- {m.std():.2f}" for m in means),
                 "-", "-", "-"])
    if any("none" in VARIANTS[v][1].get("exclude_ops", ()) for v in variants):  # the fair reference for those rows
        allowed = torch.tensor(["none" not in a for a in table.arch_strings]).numpy()
        rows.append(["random cell without `none` (mean of 4,096)", "-",
                     *(f"{m[allowed].mean():.2f} +- {m[allowed].std():.2f}" for m in means), "-", "-", "-"])
    rows.append(["optimum (table)", "-", *(f"{m.max():.2f}" for m in means), "-", "-", "-"])
    rows += [[name, "-", value, "", "", "", "", ""] for name, value in PUBLISHED]
    print()
    print(markdown_table(["method", "seeds", "CIFAR-10 test", "CIFAR-100 test", "ImageNet16-120 test",
                          "Kendall tau (64 cells)", "final p(none)", "s / step"], rows))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", choices=list(PROTOCOLS), default="short")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["parsec", "parsec-paper", "gdas",
                                                                           "darts", "rsps"])
    p.add_argument("--ablation", action="store_true", help="run the ablation variants instead of --variants")
    p.add_argument("--temperature", action="store_true",
                   help="run the temperature variants (beta on the per-example log-likelihood) instead of --variants")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--epochs", type=int, default=None, help="override the protocol's")
    p.add_argument("--steps-per-epoch", dest="steps_per_epoch", type=int, default=None, help="override")
    p.add_argument("--samples", type=int, default=None, help="override: PARSEC's K")
    p.add_argument("--lr", type=float, default=None, help="override: the weights' initial learning rate (0.025)")
    p.add_argument("--image-size", dest="image_size", type=int, default=None,
                   help="search on images area-averaged to this side (default: 32, CIFAR's own)")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (each in its own process)")
    p.add_argument("--report", action="store_true", help="print the table of the runs that have finished, run none")
    p.add_argument("--threads", type=int, default=1 if not torch.cuda.is_available() else 0)
    p.add_argument("--out", required=True, help="folder for the run directories and per-run results")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--protocol-json", dest="protocol_json", help=argparse.SUPPRESS)
    return p.parse_args()


if __name__ == "__main__":
    main()
