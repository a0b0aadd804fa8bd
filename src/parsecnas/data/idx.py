"""MNIST and Fashion-MNIST from their original gzip IDX files, parsed with numpy.

The IDX format: two zero bytes, a dtype code, the number of dimensions, that many big-endian uint32 sizes,
then the payload in C order.

Example:
    >>> from parsecnas.data.idx import load_fashion_mnist
    >>> ds = load_fashion_mnist(download=False)  # doctest: +SKIP
    >>> ds.train_images.shape  # doctest: +SKIP
    torch.Size([60000, 1, 28, 28])
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from parsecnas.data.files import RemoteFile, fetch_files
from parsecnas.data.image_dataset import ImageDataset

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_FILES",
    "MNIST_CLASSES",
    "MNIST_FILES",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
]

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

MNIST_FILES = (
    RemoteFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    RemoteFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    RemoteFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
)
"""The four original MNIST files with their published md5s."""

FASHION_MNIST_FILES = (
    RemoteFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    RemoteFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    RemoteFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
)
"""The four original Fashion-MNIST files with their published md5s."""

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzip-compressed (``.gz``) or not, into a native-endian array.

    Args:
        path: The file.

    Returns:
        An array with the file's dtype and shape, e.g. ``(60000, 28, 28)`` uint8 for MNIST train images.

    Raises:
        ValueError: The header is not IDX or the payload size does not match it.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (the first two bytes must be zero)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(f"{path}: unknown IDX dtype code 0x{code:02X}; valid codes: {valid}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes, {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{path}: payload is {len(data) - header} bytes but header {shape} of {dtype} needs {expected}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _load_idx_dataset(
    name: str,
    files: tuple[RemoteFile, ...],
    classes: tuple[str, ...],
    data_dir: str | os.PathLike[str] | None,
    download: bool,
) -> ImageDataset:
    paths = fetch_files(name, files, data_dir, download)
    arrays = [read_idx(paths[f.name]) for f in files]
    train_x, train_y, test_x, test_y = arrays
    for images, labels, split in ((train_x, train_y, "train"), (test_x, test_y, "test")):
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{name} {split}: images {images.shape} and labels {labels.shape} are not (N, H, W) and (N,)"
            )
    return ImageDataset.from_tensors(
        name, train_x[:, None], train_y.astype(np.int64), test_x[:, None], test_y.astype(np.int64), classes
    )


def load_mnist(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> ImageDataset:
    """MNIST digits: 60k train / 10k test, 1x28x28.

    Args:
        data_dir: Folder holding ``mnist/`` (searched before ``$PARSECNAS_DATA`` and the cache).
        download: Fetch missing files from the official mirrors.
    """
    return _load_idx_dataset("mnist", MNIST_FILES, MNIST_CLASSES, data_dir, download)


def load_fashion_mnist(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> ImageDataset:
    """Fashion-MNIST: 60k train / 10k test, 1x28x28, 10 clothing classes.

    Args:
        data_dir: Folder holding ``fashion-mnist/`` (searched before ``$PARSECNAS_DATA`` and the cache).
        download: Fetch missing files from the official mirror.
    """
    return _load_idx_dataset("fashion-mnist", FASHION_MNIST_FILES, FASHION_MNIST_CLASSES, data_dir, download)
