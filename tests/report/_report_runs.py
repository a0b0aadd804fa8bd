"""Small run directories of every kind, written file by file as the runs write them (no training needed)."""

from __future__ import annotations

import io
import math
from pathlib import Path

from PIL import Image

from parsecnas.report.table import summarize
from parsecnas.run import Run
from parsecnas.spaces.genotype import Genotype

OPS = ("sep_conv_3x3", "skip_connect", "max_pool_3x3")


def search_run(path: Path, strategy: str = "parsec", epochs: int = 5) -> Path:
    run = Run(path)
    run.create({"strategy": strategy, "space": "darts", "epochs": epochs, "settings": {"samples": 4}})
    for e in range(1, epochs + 1):
        run.log({"epoch": e, "step": 10 * e, "mode_accuracy": 0.3 + 0.1 * e, "entropy": 40.0 - 2 * e,
                 "loss": 2.0 / e, "ess": 3.0 + 0.1 * e, "time_s": float(e), "peak_rss_mb": 500.0,
                 **{f"p_{op}": (1 + i * e / epochs) / (3 + 3 * e / epochs) for i, op in enumerate(OPS)}})
    genotype = Genotype.named("DARTS_V2")
    run.write_text("genotype.json", genotype.to_json() + "\n")
    run.write_json("top_architectures.json", [{"probability": 0.02 / k, "architecture": genotype.to_dict()}
                                              for k in (1, 2, 3)])
    run.write_json("search_cost.json", {"device": "Test CPU", "device_hours": 2.4})
    for cell in ("normal", "reduce"):  # the drawings the space makes (drawing cells takes seconds)
        png = io.BytesIO()
        Image.new("RGB", (40, 30), (173, 216, 230)).save(png, format="PNG")
        (path / f"cell_{cell}.png").write_bytes(png.getvalue())
    return path


def train_run(path: Path, seed: int = 0, epochs: int = 4) -> Path:
    run = Run(path)
    run.create({"genotype": Genotype.named("DARTS_V1").to_dict(), "dataset": "cifar10", "seed": seed,
                "epochs": epochs})
    for e in range(1, epochs + 1):
        run.log({"epoch": e, "train_loss": 2.0 / e, "val_accuracy": 0.5 + 0.1 * e - 0.01 * seed,
                 "lr": 0.025 * math.cos(e / epochs), "drop_path": 0.2 * (e - 1) / epochs})
    run.write_json("result.json", {"architecture": "DARTS_V1", "search_method": "published", "search_cost": None,
                                   "dataset": "cifar10", "seed": seed, "epochs": epochs,
                                   "test_accuracy": 0.97 - 0.001 * seed, "test_top5_accuracy": 0.999,
                                   "test_error_pct": 3.0 + 0.1 * seed, "test_top5_error_pct": 0.1,
                                   "params_m": 3.3, "multiply_adds_m": 520.0, "train_hours": 1.5, "device": "Test"})
    return path


def train_seeds_run(path: Path, seeds: tuple[int, ...] = (0, 1)) -> Path:
    results = [Run(train_run(path / f"seed-{s}", s)).read_json("result.json") for s in seeds]
    Run(path).write_json("summary.json", summarize(results))
    return path


def bench_run(path: Path, trials: int = 12) -> Path:
    run = Run(path)
    run.create({"strategy": "evolution", "space": "nb201", "dataset": "cifar10", "budget": trials, "seed": 0})
    best = 0.0
    for t in range(1, trials + 1):
        score = 80 + (t * 7) % 11
        best = max(best, score)
        run.log({"trial": t, "number": t - 1, "arch": f"|arch{t}|", "state": "complete", "score": score,
                 "test_accuracy": score - 0.5, "best_score": best, "best_arch": "|best|"})
    run.write_json("result.json", {"strategy": "evolution", "space": "nb201", "dataset": "cifar10",
                                   "select": "valid", "trials": trials, "failed": 0, "seconds": 0.5,
                                   "best": {"arch": "|best|", "score": best, "test_accuracy": 93.5}})
    return path
