"""The commands on trained models and finished runs: ``parsecnas evaluate | export | predict | show | table |
report``. Each imports the library only when it runs, so ``parsecnas --help`` stays free of torch."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import ConfigError

__all__ = ["add_parsers"]


def cmd_evaluate(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """Top-1/top-5 test accuracy of a trained model on a dataset's test split."""
    from .data import Loader, LoaderConfig, load_dataset
    from .evaluation import evaluate, resolve_device
    from .export import load_model, model_record

    if extra:
        raise ConfigError(f"unrecognised arguments {list(extra)}")
    import torch

    device = resolve_device(args.device)
    net = load_model(args.model, device)
    record = model_record(args.model)
    dataset = args.dataset or record.get("dataset")
    if not dataset:
        raise ConfigError(f"{args.model} records no dataset; give --dataset")
    ds = load_dataset(dataset, args.data_dir)
    if (ds.num_classes, ds.in_channels) != (net.options["num_classes"], net.options["in_channels"]):
        raise ConfigError(f"dataset {dataset!r} has {ds.num_classes} classes and {ds.in_channels} channels; the "
                          f"model expects {net.options['num_classes']} and {net.options['in_channels']}")
    crop = int(record.get("crop_size") or 0)  # the central-crop view it was tested on (ImageNet protocol)
    if not crop and record.get("image_size") and int(record["image_size"]) != ds.image_size:
        ds = ds.resampled(int(record["image_size"]))  # trained with image_size (e.g. a network scaled in resolution)
    test = Loader.from_dataset(ds, "test", None, LoaderConfig.for_evaluation(args.batch_size, crop), device=device)
    net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    accuracy = evaluate(net, test)
    print(json.dumps({"model": str(args.model), "dataset": dataset, "examples": test.num_examples,
                      "test_accuracy": accuracy["top1"], "test_top5_accuracy": accuracy["top5"],
                      "test_error_pct": 100 * (1 - accuracy["top1"])}, indent=2))
    return 0


def cmd_export(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """TorchScript or ONNX file of a trained model, checked against the model's own outputs."""
    from .export import EXPORT_SUFFIXES, ExportError, export_model, load_model, model_path, model_record

    if extra:
        raise ConfigError(f"unrecognised arguments {list(extra)}")
    if args.image_size is not None and args.image_size < 1:
        raise ConfigError(f"--image-size {args.image_size}: give the input side in pixels, >= 1 (default: the "
                          "size it was trained at)")
    source = model_path(args.model)
    out = Path(args.out) if args.out else source.with_suffix(EXPORT_SUFFIXES[args.format])
    if out.resolve() == source.resolve():
        raise ExportError(f"refusing to export onto the model file itself ({source}); choose another --out")
    net, record = load_model(args.model), model_record(args.model)
    default = 224 if net.options["stem"] == "imagenet" else 32
    pre = record.get("preprocess") or {}
    size = args.image_size or pre.get("crop_size") or record.get("image_size") or default
    metadata = {"preprocess": json.dumps(pre)} if pre else {}
    info = export_model(net, out, args.format, int(size), force=args.force, metadata=metadata,
                        external_data=args.external_data)
    print(json.dumps({**info, "preprocess_embedded": bool(pre)}, indent=2))
    return 0


def cmd_predict(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """The top classes of raw image files, preprocessed as the model was trained."""
    from .predict import predict

    if extra:
        raise ConfigError(f"unrecognised arguments {list(extra)}")
    for item in predict(args.model, args.images, top=args.top, data_dir=args.data_dir):
        if args.json:
            print(json.dumps(item))
            continue
        shown = ", ".join(f"{p['class']} {p['probability']:.3f}" for p in item["predictions"])
        print(f"{item['image']}: {shown}")
    return 0


def cmd_table(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """The PARSEC-Table-1-style comparison of runs: training, search and black-box runs, or folders of them."""
    from .report.table import format_table
    from .train_seeds import iter_results

    if extra:
        raise ConfigError(f"unrecognised arguments {list(extra)}")
    print(format_table(list(iter_results(args.runs)), args.format, top5=args.top5))
    return 0


def cmd_report(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """One self-contained HTML page (figures embedded, viewable offline) for a run, or comparing several."""
    from .report.html import write_report

    if extra:
        raise ConfigError(f"unrecognised arguments {list(extra)}")
    print(f"report: {write_report(args.runs, args.out)}")
    return 0


def cmd_show(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from .estimators import count_multiply_adds, count_parameters
    from .nets import build_network
    from .spaces import published_genotypes, resolve_genotype
    from .spaces.genotype import genotype_path

    if args.list:
        print("\n".join(published_genotypes()))
        return 0
    if not args.genotype:
        raise ConfigError("show needs a genotype (a published name, a file, a run directory or a string), or --list")
    genotype = resolve_genotype(args.genotype)
    size = 224 if args.setting == "imagenet" else 32
    net = build_network(genotype, args.setting)
    info = {"genotype": genotype.to_dict(), "setting": args.setting,
            "params_m": round(count_parameters(net) / 1e6, 3),
            "multiply_adds_m": round(count_multiply_adds(net, (3, size, size)) / 1e6, 1)}
    named = genotype_path(args.genotype)
    trained = Path(named or ".") / "result.json"
    if named is not None and trained.is_file():  # a training run: its record too
        record = json.loads(trained.read_text(encoding="utf-8"))
        info["trained"] = {k: record.get(k) for k in ("dataset", "epochs", "image_size", "test_accuracy",
                                                      "test_top5_accuracy", "params_m", "train_hours")}
    if args.draw:
        from .report import draw_cell

        stem = Path(args.draw)
        for cell in ("normal", "reduce"):
            draw_cell(genotype, cell, stem.with_name(f"{stem.stem}_{cell}{stem.suffix}"), title=f"{cell} cell")
        info["drawings"] = [str(stem.with_name(f"{stem.stem}_{c}{stem.suffix}")) for c in ("normal", "reduce")]
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for cell in ("normal", "reduce"):
        print(f"{cell} cell:")
        for k, (op, source) in enumerate(genotype.cell(cell)):
            name = {0: "c_{k-2}", 1: "c_{k-1}"}.get(source, f"node {source - 2}")
            print(f"  node {k // 2}  <- {op:<13} ({name})")
    print(f"setting {args.setting}: {info['params_m']:.2f}M parameters (without auxiliary head), "
          f"{info['multiply_adds_m']:.0f}M multiply-adds per {size}x{size} image")
    if "trained" in info:
        t = info["trained"]
        print(f"trained ({trained}): test accuracy {t['test_accuracy']:.4f} on {t['dataset']} after {t['epochs']} "
              f"epochs at {t['image_size']}x{t['image_size']}, {t['params_m']:.3f}M parameters")
    for path in info.get("drawings", []):
        print(f"drew {path}")
    return 0


def add_parsers(sub: Any, formats: Sequence[str]) -> None:
    """The model and run commands on the CLI's sub-parsers; ``formats``: the export formats (spelled by
    :mod:`parsecnas.cli`, so that ``--help`` need not import torch)."""
    p = sub.add_parser("evaluate", help="top-1/top-5 test accuracy of a trained model (model.pt or train run dir)")
    p.add_argument("model", help="model.pt or a `parsecnas train` run directory")
    p.add_argument("--dataset", help="dataset name (default: the one it was trained on)")
    p.add_argument("--data-dir")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("export", help="export a trained model as TorchScript, torch.export or ONNX (checked)")
    p.add_argument("model", help="model.pt or a `parsecnas train` run directory")
    p.add_argument("--format", choices=tuple(formats), default="torchscript")
    p.add_argument("--out", help="output file (default: beside model.pt, with .ts, .pt2 or .onnx)")
    p.add_argument("--image-size", type=int, help="input side (default 32, or 224 for the ImageNet stem)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out file (never a run directory's own files)")
    p.add_argument("--external-data", action="store_true",
                   help="ONNX: weights in a file beside the model (FILE.data) instead of inside it")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("predict", help="top classes of image files (any size), preprocessed as the model trained")
    p.add_argument("model", help="model.pt or a `parsecnas train` run directory")
    p.add_argument("images", nargs="+", help="image files (JPEG, PNG, ...)")
    p.add_argument("--top", type=int, default=5, help="classes shown per image (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.add_argument("--data-dir", help="only for models saved without their preprocessing: the dataset's folder")
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("table", help="results table of runs, shaped like the PARSEC paper's Table 1")
    p.add_argument("runs", nargs="+", help="search, train or bench run directories (single or --seeds), or "
                                           "folders holding them")
    p.add_argument("--format", choices=("text", "markdown", "csv"), default="text")
    p.add_argument("--top5", action="store_true", help="add the top-5 error column (ImageNet)")
    p.set_defaults(func=cmd_table)
    p = sub.add_parser("report", help="a self-contained HTML report of a run, or a comparison of several")
    p.add_argument("runs", nargs="+", help="search, train or bench run directories, or folders holding them")
    p.add_argument("--out", help="the .html file (default: report.html in the one folder given, else here)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("show", help="print a genotype's cells, parameters and multiply-adds; draw its cells")
    p.add_argument("genotype", nargs="?")
    p.add_argument("--setting", choices=("cifar10", "imagenet"), default="cifar10")
    p.add_argument("--json", action="store_true")
    p.add_argument("--draw", metavar="FILE", help="draw both cells to FILE_normal.EXT and FILE_reduce.EXT")
    p.add_argument("--list", action="store_true", help="list the published genotypes")
    p.set_defaults(func=cmd_show)
