"""``parsecnas library``: add finished searches to a library of learnt distributions and list its entries,
optionally by their distance to a dataset (the library calls are in :mod:`parsecnas.library`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from .config import ConfigError

__all__ = ["add_parsers", "cmd_library"]


def cmd_library(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """``add RUN_DIR``: one search into the library; ``list``: its entries, nearest first to ``--dataset``."""
    from .data import load_dataset
    from .data.meta_features import meta_distance, meta_features
    from .library import add_search, choose, load_library

    if extra:
        raise ConfigError(f"unrecognised arguments {list(extra)}")
    if args.action == "add":
        if not args.run_dir:
            raise ConfigError("library add needs the search run directory: parsecnas library add RUN_DIR")
        entry = add_search(args.run_dir, args.library, name=args.name, replace=args.replace)
        meta = {k: v for k, v in entry.meta.items() if k != "embedding"}
        print(f"added {entry.name} ({entry.dataset}, {entry.space} space) to {entry.path.parent}: {json.dumps(meta)}")
        return 0
    entries = load_library(args.library)
    if args.dataset:
        meta = meta_features(load_dataset(args.dataset, args.data_dir))
        if args.space:
            print(choose(entries, meta, args.space, k=len(entries)).describe())
            return 0
        entries = sorted(entries, key=lambda e: meta_distance(meta, e.meta)[0])
    for e in entries:
        result = e.record.get("result", {})
        distance = f"  distance {meta_distance(meta, e.meta)[0]:.3f}" if args.dataset else ""
        print(f"{e.name}: {e.dataset}, {e.space} space, {e.record.get('strategy')}, "
              f"mode accuracy {result.get('mode_accuracy', float('nan')):.4f}{distance}")
    return 0


def add_parsers(sub: Any) -> None:
    """The ``library`` sub-command on the CLI's sub-parsers."""
    p = sub.add_parser("library", help="a library of learnt distributions: add searches, list them by dataset "
                                       "similarity (search --init-from auto warm-starts from it)")
    p.add_argument("action", choices=("add", "list"))
    p.add_argument("run_dir", nargs="?", help="add: a finished PARSEC search run directory")
    p.add_argument("--library", help="the library folder (else $PARSECNAS_LIBRARY)")
    p.add_argument("--name", help="add: the entry's name (default DATASET-SPACE-RUN)")
    p.add_argument("--replace", action="store_true", help="add: replace an entry of the same name")
    p.add_argument("--dataset", help="list: order by distance to this dataset's meta-features")
    p.add_argument("--data-dir")
    p.add_argument("--space", help="list --dataset: only this space's entries, with why each is near")
    p.set_defaults(func=cmd_library)
