"""``parsecnas extract RUN_DIR``: a sub-network of a finished Once-for-All search (``--space ofa``) as a
standalone network, exported as TorchScript, torch.export or ONNX and scored on the test split; no retraining
(the calls are in :mod:`parsecnas.elastic_extract`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import ConfigError

__all__ = ["add_parsers", "cmd_extract"]


def cmd_extract(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """Extracts, exports (checked against the network's outputs) and tests one sub-network."""
    from .data import Loader, LoaderConfig, load_dataset
    from .elastic_extract import extract_from_run
    from .estimators.cost import count_multiply_adds, count_parameters
    from .evaluation import evaluate
    from .export import EXPORT_SUFFIXES, check_export_target, export_model

    if extra:
        raise ConfigError(f"unrecognised arguments {list(extra)}")
    out = Path(args.out) if args.out else Path(args.run_dir) / f"subnet{EXPORT_SUFFIXES[args.format]}"
    check_export_target(out, args.force)  # before any work
    sub = extract_from_run(args.run_dir, args.arch, args.calibration_batches)
    arch, data = sub.architecture, sub.config.data
    ds = load_dataset(data.dataset, data.data_dir)
    test = Loader.from_dataset(ds, "test", None, LoaderConfig.for_evaluation(256))
    size = data.image_size or ds.image_size
    info = export_model(sub.net, out, args.format, int(size), force=args.force)  # type: ignore[arg-type]
    print(json.dumps({"architecture": str(arch), "held_out_accuracy": sub.held_out_accuracy,
                      "test_accuracy": evaluate(sub.net, test)["top1"],
                      "params_M": count_parameters(sub.net) / 1e6,
                      "madds_M": count_multiply_adds(sub.net, (ds.in_channels, arch.resolution, arch.resolution)) / 1e6,
                      **info}, indent=2))
    return 0


def add_parsers(sub: Any, formats: Sequence[str]) -> None:
    """The ``extract`` sub-command on the CLI's sub-parsers; ``formats``: the export formats (passed in, so that
    ``--help`` need not import torch through :mod:`parsecnas.export`)."""
    p = sub.add_parser("extract", help="a sub-network of a finished ofa search as a standalone exported network, "
                                       "no retraining (its weights copied from the elastic network)")
    p.add_argument("run_dir", help="a search run directory of --space ofa")
    p.add_argument("--arch", help="the sub-network's string form (default: the run's architecture.txt)")
    p.add_argument("--out", help="the exported file (default RUN_DIR/subnet.ts, .pt2 or .onnx)")
    p.add_argument("--format", choices=tuple(formats), default="torchscript")
    p.add_argument("--calibration-batches", dest="calibration_batches", type=int, default=4,
                   help="train batches its batch-norm statistics are recalibrated on")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=cmd_extract)
