"""The value every dataset loader returns: a train and a test split held as uint8 tensors.

Example:
    >>> import torch
    >>> from parsecnas.data.image_dataset import ImageDataset
    >>> images = torch.arange(256, dtype=torch.uint8).reshape(4, 1, 8, 8)
    >>> labels = torch.tensor([0, 1, 0, 1])
    >>> ds = ImageDataset.from_tensors("toy", images, labels, images, labels, ("a", "b"))
    >>> ds.num_classes, ds.in_channels, ds.image_size
    (2, 1, 8)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["ImageDataset", "channel_stats"]


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) standard deviation of uint8 images, on the 0..1 scale.

    Computed exactly from per-channel histograms, so it needs no float copy of the images.

    Args:
        images: ``(N, C, H, W)`` uint8 tensor.

    Returns:
        ``(mean, std)``, each a tuple of ``C`` floats.
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(
            f"channel_stats needs a (N, C, H, W) uint8 tensor, got {images.dtype} {tuple(images.shape)}"
        )
    values = torch.arange(256, dtype=torch.float64)
    means: list[float] = []
    stds: list[float] = []
    for c in range(images.shape[1]):
        hist = torch.bincount(images[:, c].reshape(-1).cpu(), minlength=256).to(torch.float64)
        count = hist.sum()
        mean = (hist * values).sum() / count
        var = (hist * values.square()).sum() / count - mean.square()
        means.append(float(mean) / 255.0)
        stds.append(float(var.clamp_min(0.0).sqrt()) / 255.0)
    return tuple(means), tuple(stds)


def _check_split(split: str, images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(
            f"{split}_images must be a (N, C, H, W) uint8 tensor, got {images.dtype} of shape "
            f"{tuple(images.shape)}"
        )
    if labels.dtype != torch.int64 or labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{split}_labels must be an int64 tensor of shape ({images.shape[0]},), got {labels.dtype} of "
            f"shape {tuple(labels.shape)}"
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"{split}_labels range over {int(labels.min())}..{int(labels.max())}; valid: 0..{num_classes - 1}"
        )


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A labelled image dataset with a train and a test split.

    Images stay uint8 ``(N, C, H, W)``; :class:`~parsecnas.data.Loader` turns batches into normalised floats.

    Attributes:
        name: Registry name, e.g. ``"cifar10"``.
        train_images: ``(N, C, H, W)`` uint8.
        train_labels: ``(N,)`` int64 in ``0..num_classes-1``.
        test_images: ``(M, C, H, W)`` uint8, same ``C, H, W`` as the train images.
        test_labels: ``(M,)`` int64.
        classes: Class names; label ``i`` is ``classes[i]``.
        mean: Per-channel mean of the train images on the 0..1 scale.
        std: Per-channel standard deviation of the train images on the 0..1 scale.
    """

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if len(self.classes) < 2:
            raise ValueError(f"dataset {self.name!r} has {len(self.classes)} class(es) {list(self.classes)[:3]}; "
                             f"classification needs at least two (with one, any network scores accuracy 1.0)")
        _check_split("train", self.train_images, self.train_labels, len(self.classes))
        _check_split("test", self.test_images, self.test_labels, len(self.classes))
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise ValueError(
                f"train images are {tuple(self.train_images.shape[1:])} but test images are "
                f"{tuple(self.test_images.shape[1:])}; both splits need the same (C, H, W)"
            )
        channels = self.train_images.shape[1]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"mean {self.mean} and std {self.std} need one value per channel ({channels})")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std {self.std} must be positive in every channel")

    @classmethod
    def from_tensors(
        cls,
        name: str,
        train_images: torch.Tensor | np.ndarray,
        train_labels: torch.Tensor | np.ndarray,
        test_images: torch.Tensor | np.ndarray,
        test_labels: torch.Tensor | np.ndarray,
        classes: Sequence[str],
    ) -> ImageDataset:
        """Build a dataset from ``(N, C, H, W)`` uint8 images, computing mean and std from the train split."""
        train_x = torch.as_tensor(train_images)
        test_x = torch.as_tensor(test_images)
        train_y = torch.as_tensor(train_labels).to(torch.int64)
        test_y = torch.as_tensor(test_labels).to(torch.int64)
        mean, std = channel_stats(train_x)
        return cls(name, train_x, train_y, test_x, test_y, tuple(classes), mean, std)

    def resized(self, size: int) -> ImageDataset:
        """The same dataset with every image area-averaged (anti-aliased) to ``size`` x ``size`` pixels, e.g.
        CIFAR at 16 px for a cheaper search; mean and std are recomputed. ``size`` equal to the current side
        returns ``self``."""
        if size < 1 or size > self.image_size:
            raise ValueError(f"can only shrink {self.name!r} images ({self.image_size} px): got size {size}; "
                             f"valid: 1 .. {self.image_size}")
        if size == self.image_size:
            return self

        def shrink(images: torch.Tensor) -> torch.Tensor:
            out = [torch.nn.functional.interpolate(chunk.float(), size=(size, size), mode="area")
                   for chunk in images.split(4096)]
            return torch.cat(out).round().clamp(0, 255).to(torch.uint8)

        return ImageDataset.from_tensors(self.name, shrink(self.train_images), self.train_labels,
                                         shrink(self.test_images), self.test_labels, self.classes)

    def resampled(self, size: int) -> ImageDataset:
        """The same dataset at ``size`` x ``size`` pixels either way: area-averaged when shrinking (as
        :meth:`resized`), bilinear when enlarging (no new detail, but every layer then works on a larger map:
        how a network is scaled in resolution on data stored small); mean and std are recomputed."""
        if size <= self.image_size:
            return self.resized(size)

        def grow(images: torch.Tensor) -> torch.Tensor:
            out = [torch.nn.functional.interpolate(chunk.float(), size=(size, size), mode="bilinear",
                                                   align_corners=False) for chunk in images.split(4096)]
            return torch.cat(out).round().clamp(0, 255).to(torch.uint8)

        return ImageDataset.from_tensors(self.name, grow(self.train_images), self.train_labels,
                                         grow(self.test_images), self.test_labels, self.classes)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        """Channels per image (1 for grayscale, 3 for RGB)."""
        return int(self.train_images.shape[1])

    @property
    def image_size(self) -> int:
        """Image height in pixels (the side length: every built-in dataset has square images)."""
        return int(self.train_images.shape[2])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        c, h, w = self.train_images.shape[1:]
        return int(c), int(h), int(w)

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)`` of the ``"train"`` or ``"test"`` split."""
        if name == "train":
            return self.train_images, self.train_labels
        if name == "test":
            return self.test_images, self.test_labels
        raise ValueError(f"unknown split {name!r}; valid splits: 'train', 'test'")

    def __repr__(self) -> str:
        c, h, w = self.image_shape
        return (
            f"ImageDataset(name={self.name!r}, train={len(self.train_labels)}, test={len(self.test_labels)}, "
            f"classes={self.num_classes}, shape=({c}, {h}, {w}))"
        )
