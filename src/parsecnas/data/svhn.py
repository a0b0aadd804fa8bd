"""SVHN (cropped digits, format 2) from the official ``.mat`` files.

Reading MATLAB files needs scipy, imported only when SVHN is loaded. The ``extra`` split is not used. The
files store digit 0 as label 10; it is mapped back to 0.

Example:
    >>> from parsecnas.data.svhn import load_svhn
    >>> ds = load_svhn()  # doctest: +SKIP
    >>> ds.train_images.shape  # doctest: +SKIP
    torch.Size([73257, 3, 32, 32])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from parsecnas.data.files import RemoteFile, fetch_files
from parsecnas.data.image_dataset import ImageDataset

__all__ = ["SVHN_CLASSES", "SVHN_FILES", "load_svhn"]

SVHN_FILES = (
    RemoteFile("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
    RemoteFile("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"),
)
"""The official train and test files with their published md5s."""

SVHN_CLASSES = tuple(str(d) for d in range(10))


def _loadmat(path: Path) -> dict[str, Any]:
    try:
        from scipy.io import loadmat
    except ImportError as err:
        raise ImportError(
            "loading SVHN needs scipy to read its .mat files; install it with `pip install scipy`"
        ) from err
    return loadmat(str(path))


def _read_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 3, 32, 32)`` uint8 images and ``(N,)`` int64 labels in 0..9 from one ``.mat`` file."""
    contents = _loadmat(path)
    if "X" not in contents or "y" not in contents:
        raise ValueError(f"{path}: expected variables 'X' and 'y', found {sorted(contents)}")
    images = np.ascontiguousarray(np.transpose(contents["X"], (3, 2, 0, 1)), dtype=np.uint8)
    labels = np.asarray(contents["y"], dtype=np.int64).reshape(-1) % 10
    return images, labels


def load_svhn(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> ImageDataset:
    """SVHN digits: 73,257 train / 26,032 test, 3x32x32.

    Args:
        data_dir: Folder holding ``svhn/``, searched before ``$PARSECNAS_DATA`` and the per-user cache.
        download: Fetch missing files (about 180 MB and 60 MB) from the official site.
    """
    paths = fetch_files("svhn", SVHN_FILES, data_dir, download)
    train_x, train_y = _read_split(paths[SVHN_FILES[0].name])
    test_x, test_y = _read_split(paths[SVHN_FILES[1].name])
    return ImageDataset.from_tensors("svhn", train_x, train_y, test_x, test_y, SVHN_CLASSES)
