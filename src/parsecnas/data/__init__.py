"""Datasets and in-memory loaders.

``load_dataset(name)`` returns an :class:`ImageDataset` (uint8 tensors, class names, train mean and std);
:class:`Loader` batches, shuffles and augments a split on its device with its own generator;
:func:`train_search_split` divides a training set for weight and architecture updates.

Example:
    >>> from parsecnas.data import Loader, LoaderConfig, load_dataset, train_search_split
    >>> ds = load_dataset()  # the shipped fashion-mnist-small
    >>> train_idx, search_idx = train_search_split(len(ds.train_labels), 0.5, seed=0, labels=ds.train_labels)
    >>> config = LoaderConfig.for_training(ds, batch_size=64)
    >>> train = Loader.from_dataset(ds, "train", train_idx, config, seed=1)
    >>> search = Loader.from_dataset(ds, "train", search_idx, config, seed=2)
    >>> x, y = train.next_batch()
    >>> x.shape
    torch.Size([64, 1, 28, 28])
"""

from __future__ import annotations

from parsecnas.data.augment import crop_flip, cutout, cutout_mask, normalize, random_crop, random_flip
from parsecnas.data.builtin import BUILTIN_DATASET, load_builtin
from parsecnas.data.cifar import load_cifar10, load_cifar100
from parsecnas.data.files import (
    DATA_ENV,
    MIRRORS,
    ChecksumError,
    DatasetNotFoundError,
    RemoteFile,
    cache_dir,
    fetch_files,
    search_dirs,
)
from parsecnas.data.idx import load_fashion_mnist, load_mnist, read_idx
from parsecnas.data.image_dataset import ImageDataset, channel_stats
from parsecnas.data.image_folder import load_image_folder
from parsecnas.data.loader import Loader, LoaderConfig
from parsecnas.data.registry import DEFAULT_DATASET, list_datasets, load_dataset
from parsecnas.data.split import train_search_split
from parsecnas.data.svhn import load_svhn

__all__ = [
    "BUILTIN_DATASET",
    "DATA_ENV",
    "DEFAULT_DATASET",
    "MIRRORS",
    "ChecksumError",
    "DatasetNotFoundError",
    "ImageDataset",
    "Loader",
    "LoaderConfig",
    "RemoteFile",
    "cache_dir",
    "channel_stats",
    "crop_flip",
    "cutout",
    "cutout_mask",
    "fetch_files",
    "list_datasets",
    "load_builtin",
    "load_cifar10",
    "load_cifar100",
    "load_dataset",
    "load_fashion_mnist",
    "load_image_folder",
    "load_mnist",
    "load_svhn",
    "normalize",
    "random_crop",
    "random_flip",
    "read_idx",
    "search_dirs",
    "train_search_split",
]
