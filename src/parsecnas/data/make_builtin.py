"""Regenerate the shipped ``fashion-mnist-small`` dataset from the original Fashion-MNIST files.

For each class, draw ``--train-per-class`` images from the 60k training set and ``--test-per-class`` from the
10k test set without replacement, using ``numpy.random.default_rng(--seed)``; keep them in their original
order and write them, with their source indices, as a deflated ``.npz`` whose bytes depend only on the inputs.

Example:
    $ PARSECNAS_DATA=/path/to/data python -m parsecnas.data.make_builtin
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from parsecnas.data.builtin import builtin_path
from parsecnas.data.files import fetch_files, save_npz
from parsecnas.data.idx import FASHION_MNIST_FILES, read_idx

__all__ = ["balanced_indices", "build_builtin", "main"]

DEFAULT_SEED = 20170825
"""Fixed seed of the shipped subset (Fashion-MNIST's release date)."""


def balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``per_class`` examples of every class, drawn without replacement.

    Args:
        labels: ``(N,)`` integer labels.
        per_class: Examples to draw from each class.
        rng: Generator that draws them; classes are visited in increasing order.
    """
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if per_class > members.size:
            raise ValueError(f"class {cls} has {members.size} examples; cannot draw per_class={per_class}")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def build_builtin(
    out: Path,
    data_dir: str | None = None,
    train_per_class: int = 600,
    test_per_class: int = 100,
    seed: int = DEFAULT_SEED,
    download: bool = False,
) -> Path:
    """Write the subset to ``out`` and return it.

    Args:
        out: Destination ``.npz``.
        data_dir: Folder holding ``fashion-mnist/``; ``$PARSECNAS_DATA`` and the cache are searched too.
        train_per_class: Train images per class.
        test_per_class: Test images per class.
        seed: Seed of the draw.
        download: Fetch the original files when they are not on disk.
    """
    paths = fetch_files("fashion-mnist", FASHION_MNIST_FILES, data_dir, download)
    train_x, train_y, test_x, test_y = (read_idx(paths[f.name]) for f in FASHION_MNIST_FILES)
    rng = np.random.default_rng(seed)
    train_idx = balanced_indices(train_y, train_per_class, rng)
    test_idx = balanced_indices(test_y, test_per_class, rng)
    arrays = {
        "train_images": train_x[train_idx][:, None],
        "train_labels": train_y[train_idx].astype(np.uint8),
        "test_images": test_x[test_idx][:, None],
        "test_labels": test_y[test_idx].astype(np.uint8),
        "train_source_index": train_idx.astype(np.int32),
        "test_source_index": test_idx.astype(np.int32),
    }
    return save_npz(out, arrays, compress=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints the written file, its size and sha256."""
    parser = argparse.ArgumentParser(prog="python -m parsecnas.data.make_builtin", description=__doc__)
    parser.add_argument("--data-dir", default=None, help="folder holding fashion-mnist/ (default: search)")
    parser.add_argument("--out", type=Path, default=builtin_path(), help="output .npz")
    parser.add_argument("--train-per-class", type=int, default=600)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--download", action="store_true", help="download the original files if missing")
    args = parser.parse_args(argv)
    out = build_builtin(
        args.out, args.data_dir, args.train_per_class, args.test_per_class, args.seed, args.download
    )
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {digest})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
