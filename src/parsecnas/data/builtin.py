"""``fashion-mnist-small``: the library's default dataset, shipped inside the package.

A class-balanced subset of Fashion-MNIST (600 train and 100 test images per class, drawn with a fixed seed by
:mod:`parsecnas.data.make_builtin`), stored as a compressed ``.npz`` under ``parsecnas/resources/datasets/``.
It needs no data folder and no network, which makes it the dataset of examples, tests and smoke runs.

Example:
    >>> from parsecnas.data.builtin import load_builtin
    >>> ds = load_builtin()
    >>> len(ds.train_labels), len(ds.test_labels), ds.image_shape
    (6000, 1000, (1, 28, 28))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parsecnas.data.idx import FASHION_MNIST_CLASSES
from parsecnas.data.image_dataset import ImageDataset

__all__ = ["BUILTIN_DATASET", "builtin_path", "load_builtin"]

BUILTIN_DATASET = "fashion-mnist-small"
"""Registry name of the shipped dataset."""


def builtin_path() -> Path:
    """Path of the shipped ``.npz`` (``parsecnas/resources/datasets/fashion-mnist-small.npz``)."""
    return Path(__file__).resolve().parent.parent / "resources" / "datasets" / f"{BUILTIN_DATASET}.npz"


def load_builtin() -> ImageDataset:
    """Load the shipped Fashion-MNIST subset; works offline with no data folder.

    Returns:
        6,000 train and 1,000 test 1x28x28 images, balanced over the 10 Fashion-MNIST classes.
    """
    path = builtin_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"the built-in dataset file {path} is missing from the installed package; reinstall parsecnas or "
            "regenerate it with `python -m parsecnas.data.make_builtin`"
        )
    with np.load(path, allow_pickle=False) as z:
        arrays = {key: z[key] for key in ("train_images", "train_labels", "test_images", "test_labels")}
    return ImageDataset.from_tensors(
        BUILTIN_DATASET,
        arrays["train_images"],
        arrays["train_labels"],
        arrays["test_images"],
        arrays["test_labels"],
        FASHION_MNIST_CLASSES,
    )
