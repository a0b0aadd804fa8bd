"""MNIST and Fashion-MNIST IDX parsing, on the real files when $PARSECNAS_DATA is set."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from parsecnas.data import load_dataset, read_idx

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # published
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _write_idx(path: Path, array: np.ndarray, code: int) -> None:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)


def test_fashion_mnist_train_has_6000_images_per_class(shared_data: Path) -> None:
    ds = load_dataset("fashion-mnist", download=False)
    assert ds.train_images.shape == (60000, 1, 28, 28) and ds.train_images.dtype == torch.uint8
    assert ds.test_images.shape == (10000, 1, 28, 28)
    assert int(ds.train_labels.min()) == 0 and int(ds.train_labels.max()) == 9
    assert torch.bincount(ds.train_labels).tolist() == [6000] * 10
    assert torch.bincount(ds.test_labels).tolist() == [1000] * 10
    assert ds.mean[0] == pytest.approx(0.2860, abs=1e-4) and ds.std[0] == pytest.approx(0.3530, abs=1e-4)
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"


def test_mnist_has_the_published_class_counts(shared_data: Path) -> None:
    ds = load_dataset("mnist", download=False)
    assert ds.train_images.shape == (60000, 1, 28, 28)
    assert torch.bincount(ds.train_labels).tolist() == MNIST_TRAIN_COUNTS
    assert torch.bincount(ds.test_labels).tolist() == MNIST_TEST_COUNTS
    assert ds.mean[0] == pytest.approx(0.1307, abs=1e-4) and ds.std[0] == pytest.approx(0.3081, abs=1e-4)


@pytest.mark.parametrize(
    ("dtype", "code", "name"),
    [(np.uint8, 0x08, "a.idx.gz"), (np.int32, 0x0C, "b.idx"), (np.float32, 0x0D, "c.idx.gz")],
)
def test_read_idx_round_trips_each_dtype(tmp_path: Path, dtype: type, code: int, name: str) -> None:
    array = (
        ((np.arange(24) - 5) % 256 if dtype == np.uint8 else np.arange(24) - 5).reshape(2, 3, 4).astype(dtype)
    )
    _write_idx(tmp_path / name, array, code)
    loaded = read_idx(tmp_path / name)
    assert loaded.dtype == np.dtype(dtype) and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)


def test_read_idx_rejects_a_truncated_payload(tmp_path: Path) -> None:
    path = tmp_path / "short.idx"
    path.write_bytes(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 10) + b"\x00" * 7)
    with pytest.raises(ValueError, match="payload is 7 bytes.*needs 10"):
        read_idx(path)


def test_read_idx_rejects_a_non_idx_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.idx"
    path.write_bytes(b"PK\x03\x04rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)
