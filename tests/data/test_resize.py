from __future__ import annotations

import pytest
import torch

from parsecnas.data.image_dataset import ImageDataset


def toy(side: int = 8) -> ImageDataset:
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, side, side), generator=gen, dtype=torch.uint8)
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    return ImageDataset.from_tensors("toy", images, labels, images[:2], labels[:2], ("a", "b"))


def test_resized_images_are_the_means_of_pixel_blocks() -> None:
    ds = toy(8)
    small = ds.resized(4)
    assert small.train_images.shape == (6, 3, 4, 4) and small.test_images.shape == (2, 3, 4, 4)
    blocks = ds.train_images.float().reshape(6, 3, 4, 2, 4, 2).mean(dim=(3, 5))
    assert torch.equal(small.train_images, blocks.round().to(torch.uint8))
    assert torch.equal(small.train_labels, ds.train_labels) and small.classes == ds.classes
    assert small.mean == pytest.approx(ds.mean, abs=0.01)
    assert ds.resized(8) is ds


def test_resizing_up_or_to_nothing_is_refused_with_the_valid_range() -> None:
    with pytest.raises(ValueError, match="valid: 1 .. 8"):
        toy(8).resized(16)
    with pytest.raises(ValueError, match="got size 0"):
        toy(8).resized(0)


def test_resampling_enlarges_bilinearly_and_shrinks_as_resized() -> None:
    ds = toy(8)
    big = ds.resampled(12)
    assert big.train_images.shape == (6, 3, 12, 12) and big.test_images.shape == (2, 3, 12, 12)
    flat_images = torch.tensor([77, 200], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 1, 4, 4).contiguous()
    flat = ImageDataset.from_tensors("flat", flat_images, torch.tensor([0, 1]), flat_images, torch.tensor([0, 1]),
                                     ("a", "b"))
    grown = flat.resampled(10).train_images
    assert torch.all(grown[0] == 77) and torch.all(grown[1] == 200)  # interpolation keeps constant images
    assert torch.equal(ds.resampled(4).train_images, ds.resized(4).train_images) and ds.resampled(8) is ds
