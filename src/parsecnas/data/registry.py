"""Dataset names and the one entry point that loads them.

Example:
    >>> from parsecnas.data import list_datasets, load_dataset
    >>> "cifar10" in list_datasets()
    True
    >>> load_dataset("fashion-mnist-small").num_classes
    10
"""

from __future__ import annotations

import os
from collections.abc import Callable

from parsecnas.data.builtin import BUILTIN_DATASET, load_builtin
from parsecnas.data.cifar import load_cifar10, load_cifar100
from parsecnas.data.idx import load_fashion_mnist, load_mnist
from parsecnas.data.image_dataset import ImageDataset
from parsecnas.data.image_folder import load_image_folder
from parsecnas.data.svhn import load_svhn

__all__ = ["DEFAULT_DATASET", "list_datasets", "load_dataset"]

DEFAULT_DATASET = BUILTIN_DATASET
"""The dataset used when none is named: the shipped ``fashion-mnist-small``."""

_DataDir = str | os.PathLike[str] | None


def _builtin(data_dir: _DataDir, download: bool) -> ImageDataset:
    return load_builtin()


def _image_folder(data_dir: _DataDir, download: bool) -> ImageDataset:
    if data_dir is None:
        raise ValueError(
            "dataset 'image-folder' needs data_dir: a folder or .tar.gz with one subfolder per class "
            "(optionally under train/ and test/)"
        )
    return load_image_folder(data_dir)


_LOADERS: dict[str, Callable[[_DataDir, bool], ImageDataset]] = {
    BUILTIN_DATASET: _builtin,
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "cifar100": load_cifar100,
    "svhn": load_svhn,
    "image-folder": _image_folder,
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`, sorted."""
    return sorted(_LOADERS)


def load_dataset(
    name: str = DEFAULT_DATASET, data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> ImageDataset:
    """Load a dataset by name.

    Files are looked up in ``<data_dir>/<name>/``, then under ``$PARSECNAS_DATA``, then in the per-user cache
    (``$XDG_CACHE_HOME/parsecnas``); missing files are downloaded from the official mirrors when ``download``
    is true. ``fashion-mnist-small`` ships with the package and needs neither.

    Args:
        name: One of :func:`list_datasets`. For ``"image-folder"``, ``data_dir`` is the folder or ``.tar.gz``
            itself (use :func:`~parsecnas.data.load_image_folder` for its options).
        data_dir: Folder searched first.
        download: Allow downloads of missing files.

    Returns:
        The train and test splits as uint8 tensors, with class names and train-set mean and std.

    Raises:
        ValueError: ``name`` is not a known dataset.
        DatasetNotFoundError: The files are missing and could not be downloaded.
    """
    key = name.strip().lower().replace("_", "-")
    if key not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(list_datasets())}")
    return _LOADERS[key](data_dir, download)
