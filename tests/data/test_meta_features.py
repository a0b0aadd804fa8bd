"""Dataset meta-features: deterministic, blind to what should not matter (order, repetition, integer upscaling,
grayscale stored as RGB), right on hand-computed class balances; the nearest real dataset is the related one."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from parsecnas.data import ImageDataset, load_dataset
from parsecnas.data.meta_features import EMBEDDING_DIM, meta_distance, meta_features


def toy(images: torch.Tensor, labels: torch.Tensor, name: str = "toy") -> ImageDataset:
    k = int(labels.max()) + 1
    c = images.shape[1]
    return ImageDataset(name, images, labels, images[:2], labels[:2], tuple(f"c{i}" for i in range(k)),
                        (0.5,) * c, (0.25,) * c)


def stripes(n: int = 200, side: int = 32, seed: int = 0) -> ImageDataset:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    rows = torch.arange(side).view(1, 1, side, 1)
    period = (labels + 2).view(n, 1, 1, 1)
    images = ((rows % period) == 0).to(torch.uint8) * 200 + torch.randint(0, 40, (n, 1, side, side), generator=gen,
                                                                          dtype=torch.uint8)
    return toy(images.expand(n, 1, side, side).contiguous(), labels, f"stripes{seed}")


def close(a: dict, b: dict, skip: set[str] = frozenset()) -> None:
    for key in a:
        if key not in skip:
            assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), key


def test_meta_features_are_deterministic_whatever_the_global_seed() -> None:
    ds = stripes()
    torch.manual_seed(1)
    first = meta_features(ds)
    torch.manual_seed(2)
    torch.rand(10)
    assert meta_features(ds) == first and len(first["embedding"]) == EMBEDDING_DIM


def test_order_and_repetition_change_only_the_number_of_examples() -> None:
    ds = stripes()
    order = torch.randperm(200, generator=torch.Generator().manual_seed(0))
    twice = toy(torch.cat([ds.train_images[order]] * 2), torch.cat([ds.train_labels[order]] * 2))
    base, other = meta_features(ds), meta_features(twice)
    close(base, other, skip={"examples"})
    assert other["examples"] == 2 * base["examples"]
    distance, terms = meta_distance(base, other)
    assert terms["examples"] == pytest.approx(math.log10(2)) and distance == pytest.approx(math.log10(2), rel=1e-6)


def test_integer_upscaling_and_rgb_copies_of_grayscale_change_only_size_and_channels() -> None:
    ds = stripes()
    base = meta_features(ds)
    big = meta_features(toy(F.interpolate(ds.train_images, scale_factor=2, mode="nearest"), ds.train_labels))
    close(base, big, skip={"image_size"})
    assert big["image_size"] == 64
    rgb = meta_features(toy(ds.train_images.expand(-1, 3, -1, -1).contiguous(), ds.train_labels))
    close(base, rgb, skip={"channels"})
    assert (rgb["channels"], rgb["channel_spread"]) == (3, 0.0)


def test_class_balance_by_hand() -> None:
    images = torch.zeros(8, 1, 16, 16, dtype=torch.uint8)
    images[:, :, ::2] = 255
    f = meta_features(toy(images, torch.tensor([0, 0, 0, 0, 0, 0, 1, 1])))  # 3 : 1
    assert f["class_entropy"] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2))
    assert f["class_ratio"] == pytest.approx(1 / 3)
    assert (f["pixel_mean"], f["pixel_std"]) == (pytest.approx(0.5), pytest.approx(0.5))


def test_the_distance_is_zero_to_itself_and_symmetric() -> None:
    a, b = meta_features(stripes(seed=0)), meta_features(stripes(seed=1, side=16))
    assert meta_distance(a, a)[0] == 0.0
    assert meta_distance(a, b)[0] == pytest.approx(meta_distance(b, a)[0]) and meta_distance(a, b)[0] > 0


def test_fashion_mnist_small_is_nearest_to_fashion_mnist(data_dir: Path) -> None:
    query = meta_features(load_dataset("fashion-mnist-small"))
    near = {name: meta_distance(query, meta_features(load_dataset(name, data_dir, download=False)))
            for name in ("fashion-mnist", "mnist")}
    assert near["fashion-mnist"][0] < near["mnist"][0]
    assert near["fashion-mnist"][1]["embedding"] < 0.2 < near["mnist"][1]["embedding"]
