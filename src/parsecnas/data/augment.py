"""Batched image augmentation on tensors, with the randomness passed in.

Each function transforms a whole ``(B, C, H, W)`` batch with tensor ops (no per-image Python loop) and takes
its random draws as arguments, so the caller's generator decides them and tests can fix them.
:class:`~parsecnas.data.Loader` draws them from its own ``torch.Generator``.

Example:
    >>> import torch
    >>> from parsecnas.data.augment import random_crop
    >>> x = torch.arange(16, dtype=torch.uint8).reshape(1, 1, 4, 4)
    >>> random_crop(x, padding=1, offsets=torch.tensor([[0, 0]]))[0, 0, 0].tolist()
    [0, 0, 0, 0]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["cutout", "normalize", "random_crop", "random_flip"]


def random_crop(images: torch.Tensor, padding: int, offsets: torch.Tensor) -> torch.Tensor:
    """Pad each image with ``padding`` zeros on every side and cut an ``H x W`` window at ``offsets``.

    Args:
        images: ``(B, C, H, W)`` batch of any dtype.
        padding: Zero border width; 0 returns ``images`` unchanged.
        offsets: ``(B, 2)`` int64 ``(top, left)`` corners of the windows in the padded image, each in
            ``0..2*padding``; ``(padding, padding)`` gives back the original image.

    Returns:
        The cropped batch, same shape and dtype.
    """
    if padding == 0:
        return images
    b, c, h, w = images.shape
    if offsets.shape != (b, 2):
        raise ValueError(f"offsets has shape {tuple(offsets.shape)}; expected ({b}, 2)")
    padded = F.pad(images, (padding, padding, padding, padding))
    offsets = offsets.to(images.device)
    rows = offsets[:, 0, None] + torch.arange(h, device=images.device)
    cols = offsets[:, 1, None] + torch.arange(w, device=images.device)
    padded = padded.gather(2, rows[:, None, :, None].expand(b, c, h, w + 2 * padding))
    return padded.gather(3, cols[:, None, None, :].expand(b, c, h, w))


def random_flip(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images where ``mask`` is true.

    Args:
        images: ``(B, C, H, W)`` batch.
        mask: ``(B,)`` bool, which images to flip.
    """
    mask = mask.to(images.device).view(-1, 1, 1, 1)
    return torch.where(mask, images.flip(3), images)


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 ``(B, C, H, W)`` to float32 ``(x / 255 - mean) / std`` per channel."""
    shape = (1, len(mean), 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=images.device).view(shape)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=images.device).view(shape)
    return (images.to(torch.float32) / 255.0 - mean_t) / std_t


def cutout(images: torch.Tensor, length: int, centers: torch.Tensor) -> torch.Tensor:
    """Set one ``length x length`` square per image to 0, as in DARTS (Cutout, DeVries & Taylor 2017).

    The square spans rows ``cy - length // 2`` to ``cy - length // 2 + length`` (end excluded), likewise for
    columns, clipped at the borders, so it is smaller when the centre lies near an edge. Applied after
    normalisation, 0 is the per-channel training mean.

    Args:
        images: ``(B, C, H, W)`` batch.
        length: Side of the square; 0 returns ``images`` unchanged.
        centers: ``(B, 2)`` int64 ``(cy, cx)``, uniform over ``0..H-1`` and ``0..W-1`` in DARTS.

    Returns:
        A new batch with the squares zeroed.
    """
    if length == 0:
        return images
    b, _, h, w = images.shape
    if centers.shape != (b, 2):
        raise ValueError(f"centers has shape {tuple(centers.shape)}; expected ({b}, 2)")
    start = centers.to(images.device) - length // 2
    rows = torch.arange(h, device=images.device)
    cols = torch.arange(w, device=images.device)
    in_rows = (rows >= start[:, :1]) & (rows < start[:, :1] + length)
    in_cols = (cols >= start[:, 1:]) & (cols < start[:, 1:] + length)
    square = in_rows[:, None, :, None] & in_cols[:, None, None, :]
    return images.masked_fill(square, 0)
