"""CIFAR-10/100 from pickle tarballs and from the JPEG archive; SVHN's .mat handling."""

from __future__ import annotations

import io
import os
import pickle
import sys
import tarfile
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from parsecnas.data import ImageDataset, cifar, files, load_dataset
from parsecnas.data.cifar import CIFAR10_CLASSES


@pytest.fixture(autouse=True)
def fakes_pass_the_checksum(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read small stand-ins written under the real file names, whose md5 is not the published one;
    checksums have their own tests (test_file_integrity.py)."""
    monkeypatch.setattr(files, "verify_file", lambda path, md5: path)
    monkeypatch.setattr(cifar, "verify_file", lambda path, md5: path)


def _add(archive: tarfile.TarFile, name: str, obj: object) -> None:
    payload = pickle.dumps(obj, protocol=2)
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    archive.addfile(info, io.BytesIO(payload))


def _fake_cifar(path: Path, prefix: str, batches: dict[str, dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, content in batches.items():
            _add(archive, f"{prefix}/{name}", content)


def _rows(n: int, offset: int) -> np.ndarray:
    return ((np.arange(n * 3072) + offset) % 251).astype(np.uint8).reshape(n, 3072)


def test_cifar10_reads_the_python_tarball(isolated: Path) -> None:
    batches: dict[str, dict[str, object]] = {
        f"data_batch_{i}": {"data": _rows(2, i), "labels": [i, 9 - i]} for i in range(1, 6)
    }
    batches["test_batch"] = {"data": _rows(3, 50), "labels": [0, 1, 2]}
    batches["batches.meta"] = {"label_names": list(CIFAR10_CLASSES)}
    _fake_cifar(isolated / "d" / "cifar10" / "cifar-10-python.tar.gz", "cifar-10-batches-py", batches)
    ds = load_dataset("cifar10", data_dir=isolated / "d", download=False)
    assert ds.train_images.shape == (10, 3, 32, 32) and ds.test_images.shape == (3, 3, 32, 32)
    assert ds.train_labels.tolist() == [1, 8, 2, 7, 3, 6, 4, 5, 5, 4]
    assert ds.classes == CIFAR10_CLASSES
    assert torch.equal(ds.train_images[0].reshape(-1), torch.from_numpy(_rows(2, 1)[0]))


def test_cifar100_uses_the_fine_labels(isolated: Path) -> None:
    names = [f"class{i:02d}" for i in range(100)]
    batches: dict[str, dict[str, object]] = {
        "train": {"data": _rows(4, 0), "fine_labels": [99, 0, 5, 7], "coarse_labels": [1, 1, 1, 1]},
        "test": {"data": _rows(2, 9), "fine_labels": [3, 4], "coarse_labels": [0, 0]},
        "meta": {"fine_label_names": names, "coarse_label_names": ["x"] * 20},
    }
    _fake_cifar(isolated / "d" / "cifar100" / "cifar-100-python.tar.gz", "cifar-100-python", batches)
    ds = load_dataset("cifar100", data_dir=isolated / "d", download=False)
    assert ds.num_classes == 100 and ds.train_labels.tolist() == [99, 0, 5, 7] and ds.classes[99] == "class99"


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.getcwd, ())  # any callable that is not a numpy array constructor


def test_cifar_tarball_with_foreign_pickle_globals_is_refused(isolated: Path) -> None:
    batches = {"train": {"data": _Exploit()}, "test": {}, "meta": {}}
    _fake_cifar(isolated / "d" / "cifar100" / "cifar-100-python.tar.gz", "cifar-100-python", batches)
    with pytest.raises(pickle.UnpicklingError, match="refusing global"):
        load_dataset("cifar100", data_dir=isolated / "d", download=False)


@pytest.fixture(scope="module")
def cifar10_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ImageDataset, Path]]:
    """CIFAR-10 decoded once from the shared JPEG archive into a temporary user cache (about 10 s)."""
    shared = os.environ.get("PARSECNAS_DATA")
    if not shared or not (Path(shared) / "cifar10-jpeg" / "cifar10-jpeg-q75.tar.gz").is_file():
        pytest.skip("PARSECNAS_DATA is not set or holds no cifar10-jpeg/cifar10-jpeg-q75.tar.gz")
    xdg = tmp_path_factory.mktemp("xdg")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(xdg))
        yield load_dataset("cifar10", download=False), xdg


def test_cifar10_from_jpeg_archive_has_the_standard_shape_and_labels(
    cifar10_jpeg: tuple[ImageDataset, Path],
) -> None:
    ds, _ = cifar10_jpeg
    assert ds.train_images.shape == (50000, 3, 32, 32) and ds.test_images.shape == (10000, 3, 32, 32)
    assert ds.classes == CIFAR10_CLASSES
    assert torch.bincount(ds.train_labels).tolist() == [5000] * 10
    assert torch.bincount(ds.test_labels).tolist() == [1000] * 10
    assert ds.train_labels[:5000].eq(0).all() and ds.train_labels[-5000:].eq(9).all()
    assert ds.mean == pytest.approx((0.4913, 0.4821, 0.4465), abs=2e-4)
    assert ds.std == pytest.approx((0.2452, 0.2428, 0.2606), abs=2e-4)


def test_cifar10_jpeg_decode_is_cached_in_the_user_cache(cifar10_jpeg: tuple[ImageDataset, Path]) -> None:
    ds, xdg = cifar10_jpeg
    cached = list((xdg / "parsecnas" / "image-folder").glob("cifar10-jpeg-q75-*.npz"))
    assert len(cached) == 1
    with np.load(cached[0], allow_pickle=False) as z:
        assert z["images"].shape == (60000, 3, 32, 32)
        first_train = np.flatnonzero(~z["is_test"])[:5]
        assert np.array_equal(z["images"][first_train], ds.train_images[:5].numpy())


def _fake_scipy(monkeypatch: pytest.MonkeyPatch, contents: dict[str, dict[str, np.ndarray]]) -> None:
    scipy_io = types.ModuleType("scipy.io")
    scipy_io.loadmat = lambda path: contents[Path(path).name]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "scipy", types.ModuleType("scipy"))
    monkeypatch.setitem(sys.modules, "scipy.io", scipy_io)


def test_svhn_maps_label_10_to_digit_0_and_transposes(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = isolated / "d" / "svhn"
    folder.mkdir(parents=True)
    for name in ("train_32x32.mat", "test_32x32.mat"):
        (folder / name).write_bytes(b"")
    x = np.random.default_rng(0).integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    y = np.array([[10], [1], [9], [10]], dtype=np.uint8)
    _fake_scipy(monkeypatch, {"train_32x32.mat": {"X": x, "y": y}, "test_32x32.mat": {"X": x, "y": y}})
    ds = load_dataset("svhn", data_dir=isolated / "d", download=False)
    assert ds.train_labels.tolist() == [0, 1, 9, 0]
    assert torch.equal(ds.train_images[2, 1], torch.from_numpy(x[:, :, 1, 2]))


def test_svhn_without_scipy_says_what_to_install(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = isolated / "d" / "svhn"
    folder.mkdir(parents=True)
    for name in ("train_32x32.mat", "test_32x32.mat"):
        (folder / name).write_bytes(b"")
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    with pytest.raises(ImportError, match="pip install scipy"):
        load_dataset("svhn", data_dir=isolated / "d", download=False)
