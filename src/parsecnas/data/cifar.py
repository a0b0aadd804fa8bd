"""CIFAR-10 and CIFAR-100 from the official python tarballs, or CIFAR-10 from a JPEG archive.

The python tarballs hold pickled dicts. They are read with an unpickler that only rebuilds plain containers
and numpy arrays, so a tampered file cannot run code. When ``cifar10/cifar-10-python.tar.gz`` is absent but
``cifar10-jpeg/cifar10-jpeg-q75.tar.gz`` (``{train,test}/<class>/NNNN.jpg``) is present, CIFAR-10 is decoded
from that archive once and cached; being JPEG it is lossy, so accuracies differ slightly from published
figures.

Example:
    >>> from parsecnas.data.cifar import load_cifar10
    >>> ds = load_cifar10()  # doctest: +SKIP
    >>> ds.train_images.shape, ds.classes[0]  # doctest: +SKIP
    (torch.Size([50000, 3, 32, 32]), 'airplane')
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
import tarfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from parsecnas.data.files import RemoteFile, fetch_files, locate_files, verify_file
from parsecnas.data.image_dataset import ImageDataset
from parsecnas.data.image_folder import load_image_folder

__all__ = [
    "CIFAR100_FILE",
    "CIFAR10_CLASSES",
    "CIFAR10_FILE",
    "CIFAR10_JPEG_FILE",
    "CIFAR10_JPEG_FOLDER",
    "load_cifar10",
    "load_cifar100",
]

CIFAR10_FILE = RemoteFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
CIFAR100_FILE = RemoteFile("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85")
CIFAR10_JPEG_FOLDER = "cifar10-jpeg"
CIFAR10_JPEG_FILE = "cifar10-jpeg-q75.tar.gz"
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

_RECONSTRUCT = np.empty(0).__reduce__()[0]
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how protocol-2 pickles written by Python 3 store bytes
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the globals a pickled numpy array needs."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing global {module}.{name} in a CIFAR batch; only numpy arrays are allowed"
            ) from None


def _read_batches(tar_path: Path, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Unpickle the members of a CIFAR tarball whose base names are in ``names``."""
    batches: dict[str, dict[str, Any]] = {}
    with tarfile.open(tar_path, "r:gz") as archive:
        for member in archive:
            base = PurePosixPath(member.name).name
            if member.isfile() and base in names:
                handle = archive.extractfile(member)
                if handle is not None:
                    batches[base] = _ArrayUnpickler(io.BytesIO(handle.read()), encoding="latin1").load()
    missing = [n for n in names if n not in batches]
    if missing:
        raise ValueError(f"{tar_path}: members {missing} missing; expected an official CIFAR python tarball")
    return batches


def _stack(batches: Sequence[dict[str, Any]], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    images = np.concatenate([np.asarray(b["data"], dtype=np.uint8).reshape(-1, 3, 32, 32) for b in batches])
    labels = np.concatenate([np.asarray(b[label_key], dtype=np.int64) for b in batches])
    return images, labels


def _cifar10_from_pickles(tar_path: Path) -> ImageDataset:
    train_names = [f"data_batch_{i}" for i in range(1, 6)]
    batches = _read_batches(tar_path, [*train_names, "test_batch", "batches.meta"])
    train_x, train_y = _stack([batches[n] for n in train_names], "labels")
    test_x, test_y = _stack([batches["test_batch"]], "labels")
    classes = tuple(str(c) for c in batches["batches.meta"]["label_names"])
    return ImageDataset.from_tensors("cifar10", train_x, train_y, test_x, test_y, classes)


def _cifar10_from_jpeg(archive: Path) -> ImageDataset:
    ds = load_image_folder(archive, name="cifar10")
    if ds.classes != CIFAR10_CLASSES or ds.image_shape != (3, 32, 32):
        raise ValueError(
            f"{archive}: classes {ds.classes} and shape {ds.image_shape} are not CIFAR-10's "
            f"{CIFAR10_CLASSES} and (3, 32, 32)"
        )
    return ds


def load_cifar10(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> ImageDataset:
    """CIFAR-10: 50k train / 10k test, 3x32x32, 10 classes.

    Looks for ``cifar10/cifar-10-python.tar.gz``, then ``cifar10-jpeg/cifar10-jpeg-q75.tar.gz``, then
    downloads the python tarball (about 170 MB) when ``download`` is true.

    Args:
        data_dir: Folder searched before ``$PARSECNAS_DATA`` and the per-user cache.
        download: Fetch the official tarball when no local copy exists.
    """
    local = locate_files("cifar10", [CIFAR10_FILE.name], data_dir)
    if CIFAR10_FILE.name in local:
        return _cifar10_from_pickles(verify_file(local[CIFAR10_FILE.name], CIFAR10_FILE.md5))
    jpeg = locate_files(CIFAR10_JPEG_FOLDER, [CIFAR10_JPEG_FILE], data_dir)
    if CIFAR10_JPEG_FILE in jpeg:
        return _cifar10_from_jpeg(jpeg[CIFAR10_JPEG_FILE])
    hint = (
        f"alternatively put the JPEG archive {CIFAR10_JPEG_FILE} ({{train,test}}/<class>/NNNN.jpg) in "
        f"<dir>/{CIFAR10_JPEG_FOLDER}/"
    )
    paths = fetch_files("cifar10", [CIFAR10_FILE], data_dir, download, hint=hint)
    return _cifar10_from_pickles(paths[CIFAR10_FILE.name])


def load_cifar100(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> ImageDataset:
    """CIFAR-100 with its 100 fine labels: 50k train / 10k test, 3x32x32.

    Args:
        data_dir: Folder holding ``cifar100/cifar-100-python.tar.gz``, searched first.
        download: Fetch the official tarball (about 160 MB) when no local copy exists.
    """
    paths = fetch_files("cifar100", [CIFAR100_FILE], data_dir, download)
    batches = _read_batches(paths[CIFAR100_FILE.name], ["train", "test", "meta"])
    train_x, train_y = _stack([batches["train"]], "fine_labels")
    test_x, test_y = _stack([batches["test"]], "fine_labels")
    classes = tuple(str(c) for c in batches["meta"]["fine_label_names"])
    return ImageDataset.from_tensors("cifar100", train_x, train_y, test_x, test_y, classes)
