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

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["center_crop_resize", "color_jitter", "crop_boxes", "crop_flip", "cutout", "cutout_mask", "normalize",
           "random_crop", "random_flip", "resized_crop"]


def crop_flip(
    images: torch.Tensor, padding: int, offsets: torch.Tensor | None, flip: torch.Tensor | None
) -> torch.Tensor:
    """Crop a window of each zero-padded image, then mirror it left-right where ``flip`` is true.

    Both happen in one ``gather`` over the flattened padded images, which is several times faster on CPU than
    a gather per axis followed by ``torch.where(flip, x.flip(3), x)``, and never synchronises a GPU.

    Args:
        images: ``(B, C, H, W)`` batch of any dtype.
        padding: Zero border width on every side.
        offsets: ``(B, 2)`` int64 ``(top, left)`` corners of the windows in the padded image, each in
            ``0..2*padding``; ``(padding, padding)`` gives back the original image. None means no shift.
        flip: ``(B,)`` bool, which windows to mirror; None mirrors none.

    Returns:
        The transformed batch, same shape and dtype.
    """
    b, c, h, w = images.shape
    device = images.device
    if offsets is None:
        offsets = torch.full((b, 2), padding, dtype=torch.int64)
    if offsets.shape != (b, 2):
        raise ValueError(f"offsets has shape {tuple(offsets.shape)}; expected ({b}, 2)")
    if flip is not None and flip.shape != (b,):
        raise ValueError(f"flip has shape {tuple(flip.shape)}; expected ({b},)")
    padded = F.pad(images, (padding, padding, padding, padding)) if padding else images
    width = w + 2 * padding
    offsets = offsets.to(device)
    cols = torch.arange(w, device=device).expand(b, w)
    if flip is not None:
        cols = torch.where(flip.to(device)[:, None], w - 1 - cols, cols)
    rows = offsets[:, :1] + torch.arange(h, device=device)  # (B, H)
    index = rows[:, :, None] * width + (offsets[:, 1:] + cols)[:, None, :]  # (B, H, W) into the flat image
    flat = padded.reshape(b, c, -1)
    return flat.gather(2, index.view(b, 1, h * w).expand(b, c, h * w)).view(b, c, h, w)


def random_crop(images: torch.Tensor, padding: int, offsets: torch.Tensor) -> torch.Tensor:
    """Pad each image with ``padding`` zeros on every side and cut an ``H x W`` window at ``offsets``.

    Args:
        images: ``(B, C, H, W)`` batch of any dtype.
        padding: Zero border width; 0 returns ``images`` unchanged.
        offsets: ``(B, 2)`` int64 ``(top, left)`` corners in the padded image, each in ``0..2*padding``.
    """
    return crop_flip(images, padding, offsets, None) if padding else images


def random_flip(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images where ``mask`` (``(B,)`` bool) is true."""
    return crop_flip(images, 0, None, mask)


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 ``(B, C, H, W)`` to float32 ``(x / 255 - mean) / std`` per channel."""
    shape = (1, len(mean), 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=images.device).view(shape)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=images.device).view(shape)
    return (images.to(torch.float32) / 255.0 - mean_t) / std_t


def cutout_mask(shape: torch.Size | tuple[int, ...], length: int, centers: torch.Tensor) -> torch.Tensor:
    """``(B, 1, H, W)`` bool, false inside each image's cutout square (see :func:`cutout`), true elsewhere."""
    b, _, h, w = shape
    if centers.shape != (b, 2):
        raise ValueError(f"centers has shape {tuple(centers.shape)}; expected ({b}, 2)")
    start = centers - length // 2
    rows = torch.arange(h, device=centers.device)
    cols = torch.arange(w, device=centers.device)
    in_rows = (rows >= start[:, :1]) & (rows < start[:, :1] + length)
    in_cols = (cols >= start[:, 1:]) & (cols < start[:, 1:] + length)
    return ~(in_rows[:, None, :, None] & in_cols[:, None, None, :])


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
    keep = cutout_mask(images.shape, length, centers.to(images.device))
    return images * keep.to(images.dtype)


def crop_boxes(batch: int, height: int, width: int, generator: torch.Generator,
               scale: tuple[float, float] = (0.08, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """Random-resized-crop windows (the Inception / DARTS ImageNet augmentation), one per image.

    Each window covers a uniform ``scale`` share of the image area with a log-uniform aspect ratio in ``ratio``,
    at a uniform position. Sides that would exceed the image are clipped to it (instead of redrawing up to ten
    times, as torchvision does), so a batch needs no per-image loop.

    Returns:
        ``(B, 4)`` float ``(top, left, height, width)`` in pixels.
    """
    area = torch.empty(batch).uniform_(*scale, generator=generator) * height * width
    log_ratio = torch.empty(batch).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    aspect = log_ratio.exp()
    w = (area * aspect).sqrt().clamp(1.0, float(width))
    h = (area / aspect).sqrt().clamp(1.0, float(height))
    top = torch.rand(batch, generator=generator) * (height - h)
    left = torch.rand(batch, generator=generator) * (width - w)
    return torch.stack([top, left, h, w], dim=1)


def resized_crop(images: torch.Tensor, boxes: torch.Tensor, size: int, flip: torch.Tensor | None = None
                 ) -> torch.Tensor:
    """Cut each image's window ``boxes[i]`` (see :func:`crop_boxes`), resize it bilinearly to ``size x size``,
    and mirror it where ``flip`` is true: one ``grid_sample`` for the whole float batch."""
    b, _, h, w = images.shape
    if boxes.shape != (b, 4):
        raise ValueError(f"boxes has shape {tuple(boxes.shape)}; expected ({b}, 4)")
    top, left, bh, bw = boxes.to(images.device, torch.float32).unbind(1)
    # affine map from output coordinates in [-1, 1] to input coordinates in [-1, 1] (align_corners=False)
    sx, sy = bw / w, bh / h
    tx, ty = (2 * left + bw) / w - 1, (2 * top + bh) / h - 1
    if flip is not None:
        sx = torch.where(flip.to(images.device), -sx, sx)
    zero = torch.zeros_like(sx)
    theta = torch.stack([torch.stack([sx, zero, tx], 1), torch.stack([zero, sy, ty], 1)], 1)
    grid = F.affine_grid(theta, [b, images.shape[1], size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def center_crop_resize(images: torch.Tensor, size: int, crop_fraction: float = 0.875) -> torch.Tensor:
    """The evaluation view of the ImageNet protocol: the central ``crop_fraction`` of each image (224 of 256),
    resized to ``size x size``."""
    b, _, h, w = images.shape
    ch, cw = h * crop_fraction, w * crop_fraction
    boxes = torch.tensor([(h - ch) / 2, (w - cw) / 2, ch, cw]).expand(b, 4)
    return resized_crop(images, boxes, size)


def color_jitter(images: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Brightness, contrast, saturation and hue jitter of RGB images in ``[0, 1]`` (torchvision's definitions,
    applied in that fixed order rather than a random one).

    Args:
        images: ``(B, 3, H, W)`` float in ``[0, 1]``.
        factors: ``(B, 4)``: brightness, contrast and saturation factors (1 leaves the image as it is) and a
            hue shift in turns (0 leaves it; ImageNet protocol: factors in ``[0.6, 1.4]``, shift in ``[-0.2, 0.2]``).

    Returns:
        The jittered batch, clamped to ``[0, 1]``.
    """
    b = images.shape[0]
    if images.shape[1] != 3 or factors.shape != (b, 4):
        raise ValueError(f"color_jitter needs (B, 3, H, W) images and (B, 4) factors; got "
                         f"{tuple(images.shape)} and {tuple(factors.shape)}")
    f = factors.to(images.device, images.dtype).view(b, 4, 1, 1, 1).unbind(1)
    x = (images * f[0]).clamp(0, 1)
    gray = _grayscale(x)
    x = _blend(x, gray.mean(dim=(2, 3), keepdim=True), f[1])
    x = _blend(x, _grayscale(x), f[2])
    return _shift_hue(x, f[3].view(b, 1, 1))


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (factor * x + (1 - factor) * other).clamp(0, 1)


def _shift_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotates the hue by ``shift`` turns through HSV (value and saturation kept)."""
    r, g, b = x.unbind(1)
    v, _ = x.max(1)
    c = v - x.min(1).values
    safe = torch.where(c > 0, c, torch.ones_like(c))
    h = torch.where(v == r, ((g - b) / safe) % 6, torch.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4))
    h = torch.where(c > 0, h / 6, torch.zeros_like(h))
    h = (h + shift) % 1.0
    k = (torch.tensor([5.0, 3.0, 1.0], device=x.device).view(1, 3, 1, 1) + 6 * h[:, None]) % 6
    return v[:, None] - c[:, None] * (torch.minimum(k, 4 - k).clamp(0, 1))
