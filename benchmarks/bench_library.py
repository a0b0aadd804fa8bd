"""Warm starts from a library of learnt distributions: cold PARSEC searches against searches warm-started from a
related dataset's search, an unrelated one's, and the library's own choice (``--init-from auto``).

One PARSEC search per source dataset (default: Fashion-MNIST, related to the target, and CIFAR-10, unrelated)
goes into a fresh library (``parsecnas.library.add_search``); then, for each seed, the target (default: the
built-in fashion-mnist-small) is searched cold, warm from each source, and with ``auto``. Reported: the mode's
held-out accuracy with the shared weights after each epoch, the first epoch at which a run reaches the cold run's
final accuracy (same seed), the final entropy, and which entry ``auto`` chose.

    PARSECNAS_DATA=/work/shared/data python benchmarks/bench_library.py --seeds 0 1 2      # ~20 min, one thread
    python benchmarks/bench_library.py --sources fashion-mnist-small --seeds 0 --epochs 1 --steps 2   # smoke

Prints a markdown table per run and one of the means over seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from _measure import environment, markdown_table, set_threads

from parsecnas.library import add_search
from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search
from parsecnas.strategies import ParsecConfig


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="fashion-mnist-small")
    p.add_argument("--sources", nargs="+", default=["fashion-mnist", "cifar10"])
    p.add_argument("--data-dir")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--steps", type=int, default=25, help="steps per epoch")
    p.add_argument("--source-epochs", type=int, default=6)
    p.add_argument("--cells", type=int, default=3)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--samples", type=int, default=4, help="PARSEC's K")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--image-size", type=int, default=16, help="searched image side (all datasets alike)")
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args()


def search(args: argparse.Namespace, dataset: str, seed: int, run_dir: Path, epochs: int, **extra: Any) -> list:
    config = SearchConfig(seed=seed, epochs=epochs, steps_per_epoch=args.steps, device="cpu",
                          net=NetConfig(num_cells=args.cells, channels=args.channels),
                          data=DataConfig(dataset=dataset, data_dir=args.data_dir, batch_size=args.batch,
                                          eval_examples=500, image_size=args.image_size),
                          settings=ParsecConfig(samples=args.samples), **extra)
    return run_search(config, run_dir, progress=False).metrics


def reached(curve: list[float], target: float) -> int | None:
    return next((i + 1 for i, a in enumerate(curve) if a >= target), None)


def main() -> None:
    args = parse_args()
    set_threads(args.threads)
    print(environment())
    with tempfile.TemporaryDirectory() as tmp:
        root, library = Path(tmp), Path(tmp) / "library"
        for source in args.sources:
            run = root / f"source-{source}"
            search(args, source, 100, run, args.source_epochs)
            entry = add_search(run, library, name=source)
            print(f"library entry {source}: mode accuracy {entry.record['result'].get('mode_accuracy', 0):.4f}",
                  flush=True)
        conditions = {"cold": {}, **{f"from {s}": {"init_from": str(root / f"source-{s}")} for s in args.sources},
                      "auto": {"init_from": "auto", "library": str(library)}}
        rows, results = [], []
        for seed in args.seeds:
            cold_final = None
            for name, extra in conditions.items():
                run = root / f"{name.replace(' ', '-')}-{seed}"
                metrics = search(args, args.target, seed, run, args.epochs, **extra)
                curve = [float(m["mode_accuracy"]) for m in metrics]
                cold_final = curve[-1] if name == "cold" else cold_final
                chosen = (json.loads((run / "warm_start.json").read_text())["entries"][0]["name"]
                          if name == "auto" else "")
                assert cold_final is not None
                results.append({"condition": name, "seed": seed, "curve": curve, "final": curve[-1],
                                "reach": reached(curve, cold_final), "entropy": metrics[-1].get("entropy"),
                                "chosen": chosen})
                r = results[-1]
                rows.append([name, seed, " ".join(f"{a:.3f}" for a in curve), r["reach"] or "-",
                             f"{r['entropy']:.2f}", chosen])
                print(markdown_table(["condition", "seed", "mode accuracy per epoch", "epoch reaching cold final",
                                      "entropy", "auto chose"], rows[-1:]), flush=True)
    print(f"\ntarget {args.target}, sources {args.sources} ({args.source_epochs} epochs), {args.epochs} epochs x "
          f"{args.steps} steps, {args.cells} cells C={args.channels}, K={args.samples}, images {args.image_size}px\n")
    print(markdown_table(["condition", "seed", "mode accuracy per epoch", "epoch reaching cold final", "entropy",
                          "auto chose"], rows))
    summary = []
    for name in conditions:
        mine = [r for r in results if r["condition"] == name]
        reach = [r["reach"] for r in mine if r["reach"] is not None]
        summary.append([name, f"{statistics.mean(r['final'] for r in mine):.4f}",
                        f"{statistics.mean(reach):.2f} ({len(reach)}/{len(mine)})" if reach else "never",
                        f"{statistics.mean(r['entropy'] for r in mine):.2f}"])
    print()
    print(markdown_table(["condition", "final mode accuracy (mean)", "epochs to cold final (mean, runs)",
                          "entropy"], summary))


if __name__ == "__main__":
    main()
