"""load_dataset / list_datasets and the shipped fashion-mnist-small."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from parsecnas.data import DEFAULT_DATASET, list_datasets, load_dataset
from parsecnas.data.builtin import builtin_path
from parsecnas.data.make_builtin import build_builtin


def test_list_datasets_names_every_dataset() -> None:
    assert list_datasets() == sorted(
        ["cifar10", "cifar100", "svhn", "mnist", "fashion-mnist", "fashion-mnist-small", "image-folder"]
    )


def test_unknown_names_are_rejected_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'; valid names: cifar10, cifar100"):
        load_dataset("imagenet")


def test_builtin_dataset_loads_offline_without_any_data_dir(isolated: Path) -> None:
    ds = load_dataset()
    assert DEFAULT_DATASET == ds.name == "fashion-mnist-small"
    assert ds.train_images.shape == (6000, 1, 28, 28) and ds.test_images.shape == (1000, 1, 28, 28)
    assert torch.bincount(ds.train_labels).tolist() == [600] * 10
    assert torch.bincount(ds.test_labels).tolist() == [100] * 10
    assert (ds.num_classes, ds.in_channels, ds.image_size) == (10, 1, 28)
    assert ds.mean[0] == pytest.approx(0.2849, abs=1e-3) and ds.std[0] == pytest.approx(0.3519, abs=1e-3)
    assert not (isolated / "xdg-cache").exists()


def test_builtin_file_is_small_and_names_its_license() -> None:
    path = builtin_path()
    assert path.stat().st_size < 4_000_000
    assert "MIT" in (path.parent / "LICENSE-fashion-mnist.txt").read_text()


def test_make_builtin_reproduces_the_shipped_file_byte_for_byte(shared_data: Path, tmp_path: Path) -> None:
    out = build_builtin(tmp_path / "again.npz", data_dir=str(shared_data))
    assert out.read_bytes() == builtin_path().read_bytes()


def test_names_are_normalised() -> None:
    assert load_dataset("Fashion_MNIST_small").name == "fashion-mnist-small"


def test_dataset_is_frozen_and_validates_labels() -> None:
    ds = load_dataset()
    with pytest.raises(AttributeError):
        ds.name = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="train_labels range over 0..9; valid: 0..4"):
        type(ds)(
            ds.name,
            ds.train_images,
            ds.train_labels,
            ds.test_images,
            ds.test_labels,
            ds.classes[:5],
            ds.mean,
            ds.std,
        )
