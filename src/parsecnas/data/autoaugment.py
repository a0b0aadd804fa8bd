"""RandAugment and TrivialAugment as batched tensor augmentations, with the randomness passed in.

Both policies draw from the same 14 operations (the RandAugment list): identity, shear x / y, translate x / y,
rotate, brightness, color (saturation), contrast, sharpness, posterize, solarize, autocontrast and equalize.
Every image of a batch gets its own operations, magnitudes and signs; each operation runs once per batch on the
images that drew it (no per-image Python loop). Images are uint8 ``(B, C, H, W)`` in and out.

A magnitude is a bin ``0..30`` (31 bins, as in torchvision); bin ``m`` applies the fraction ``m / 30`` of the
operation's range, with a random sign for the signed ones:

| operation | RandAugment range | TrivialAugment (wide) range | at magnitude 0 |
|---|---|---|---|
| shear x / y | 0.3 | 0.99 | identity |
| translate x / y | 150/331 of the side (0.45) | 32 pixels | identity |
| rotate | 30 degrees | 135 degrees | identity |
| brightness, color, contrast, sharpness | factor 1 +- 0.9 | factor 1 +- 0.99 | identity |
| posterize | 8 down to 4 bits | 8 down to 2 bits | identity (8 bits) |
| solarize | threshold 256 down to 0 | threshold 256 down to 0 | identity (no pixel >= 256) |
| identity, autocontrast, equalize | no magnitude | no magnitude | (autocontrast and equalize always act) |

**RandAugment** (Cubuk et al. 2020) applies ``N`` operations drawn uniformly (with repeats) to every image, all at
the one magnitude ``M``. **TrivialAugment** (Mueller & Hutter 2021) applies one uniformly drawn operation at a
uniformly drawn magnitude bin, with the wide ranges. Geometric operations act about the image centre with
nearest-neighbour sampling and zero fill (so an integer translation is an exact shift); brightness, color,
contrast and sharpness blend with a black image, the grayscale image, its mean and a 3x3-smoothed image (borders
kept) as PIL's ImageEnhance does; equalize is PIL's histogram equalisation per channel.

Example:
    >>> import torch
    >>> x = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    >>> ops, signs = draw_randaugment(4, 2, torch.Generator().manual_seed(0))
    >>> bool((rand_augment(x, ops, signs, magnitude=0)[ops.eq(0).all(1)] == x[ops.eq(0).all(1)]).all())
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["MAGNITUDE_BINS", "OPS", "POLICIES", "apply_ops", "check_policy", "draw_randaugment", "draw_trivialaugment",
           "equalize", "rand_augment", "trivial_augment"]

OPS = ("identity", "shear_x", "shear_y", "translate_x", "translate_y", "rotate", "brightness", "color", "contrast",
       "sharpness", "posterize", "solarize", "autocontrast", "equalize")
POLICIES = ("none", "randaugment", "trivialaugment")
MAGNITUDE_BINS = 31
_SIGNED = {"shear_x", "shear_y", "translate_x", "translate_y", "rotate", "brightness", "color", "contrast",
           "sharpness"}
_RANGES: dict[str, dict[str, Any]] = {
    "randaugment": {"shear": 0.3, "translate": 150 / 331, "rotate": 30.0, "enhance": 0.9, "bits": 4},
    "trivialaugment": {"shear": 0.99, "translate": None, "rotate": 135.0, "enhance": 0.99, "bits": 6}}
_TA_TRANSLATE_PX = 32.0


def check_policy(policy: str, ops: int, magnitude: int,
                 names: tuple[str, str, str] = ("policy", "policy_ops", "policy_magnitude")) -> None:
    """Refuses an unknown policy, RandAugment's N < 0 or its M outside ``0..30``, naming the field (``names``: the
    config's names of the policy, N and M)."""
    if policy not in POLICIES:
        raise ValueError(f"{names[0]}: unknown augmentation policy {policy!r}; valid: {', '.join(POLICIES)}")
    if ops < 0:
        raise ValueError(f"{names[1]} (RandAugment's N) must be >= 0 operations, got {ops}")
    if not 0 <= magnitude < MAGNITUDE_BINS:
        raise ValueError(f"{names[2]} (RandAugment's M) must be a magnitude bin in 0..{MAGNITUDE_BINS - 1}, got "
                         f"{magnitude}")


def draw_randaugment(batch: int, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """RandAugment's draws: ``(B, n)`` operation indices into :data:`OPS` and ``(B, n)`` signs (+-1)."""
    ops = torch.randint(0, len(OPS), (batch, n), generator=generator)
    signs = torch.randint(0, 2, (batch, n), generator=generator) * 2 - 1
    return ops, signs


def draw_trivialaugment(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TrivialAugment's draws: ``(B,)`` operation indices, magnitude bins ``0..30`` and signs."""
    ops = torch.randint(0, len(OPS), (batch,), generator=generator)
    bins = torch.randint(0, MAGNITUDE_BINS, (batch,), generator=generator)
    signs = torch.randint(0, 2, (batch,), generator=generator) * 2 - 1
    return ops, bins, signs


def rand_augment(images: torch.Tensor, ops: torch.Tensor, signs: torch.Tensor, magnitude: int) -> torch.Tensor:
    """Applies the ``(B, N)`` operations ``ops`` in turn to each uint8 image, all at magnitude bin ``magnitude``."""
    if not 0 <= magnitude < MAGNITUDE_BINS:
        raise ValueError(f"magnitude {magnitude} must be a bin in 0..{MAGNITUDE_BINS - 1}")
    if ops.shape != signs.shape or ops.dim() != 2 or ops.shape[0] != images.shape[0]:
        raise ValueError(f"ops and signs must both have shape ({images.shape[0]}, N); got {tuple(ops.shape)} and "
                         f"{tuple(signs.shape)}")
    fraction = torch.full((images.shape[0],), magnitude / (MAGNITUDE_BINS - 1))
    for k in range(ops.shape[1]):
        images = apply_ops(images, ops[:, k], fraction * signs[:, k], "randaugment")
    return images


def trivial_augment(images: torch.Tensor, ops: torch.Tensor, bins: torch.Tensor, signs: torch.Tensor
                    ) -> torch.Tensor:
    """Applies one operation per uint8 image at its own magnitude bin, with the wide ranges."""
    return apply_ops(images, ops, bins.float() / (MAGNITUDE_BINS - 1) * signs, "trivialaugment")


def apply_ops(images: torch.Tensor, ops: torch.Tensor, magnitudes: torch.Tensor, ranges: str) -> torch.Tensor:
    """Applies operation ``OPS[ops[i]]`` to image ``i`` at the signed fraction ``magnitudes[i]`` (in ``[-1, 1]``)
    of the operation's range in the table ``ranges`` (``randaugment`` or ``trivialaugment``)."""
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W) uint8, got {images.dtype} {tuple(images.shape)}")
    b = images.shape[0]
    if ops.shape != (b,) or magnitudes.shape != (b,):
        raise ValueError(f"ops and magnitudes must have shape ({b},); got {tuple(ops.shape)}, "
                         f"{tuple(magnitudes.shape)}")
    out = images.clone()
    ops, magnitudes = ops.to(images.device), magnitudes.to(images.device, torch.float32)
    for k, name in enumerate(OPS):
        chosen = (ops == k).nonzero().flatten()
        if name == "identity" or chosen.numel() == 0:
            continue
        m = magnitudes[chosen] if name in _SIGNED else magnitudes[chosen].abs()
        out[chosen] = _OP_TABLE[name](out[chosen], m, _RANGES[ranges])
    return out


def _to_float(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32) / 255.0


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255.0).round().to(torch.uint8)


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Samples each image at ``theta @ (x_out, y_out, 1)`` in normalised coordinates (nearest, zero fill)."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return _to_uint8(F.grid_sample(_to_float(x), grid, mode="nearest", padding_mode="zeros", align_corners=False))


def _theta(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor
           ) -> torch.Tensor:
    return torch.stack([torch.stack([a, b, tx], 1), torch.stack([c, d, ty], 1)], 1)


def _shear(x: torch.Tensor, m: torch.Tensor, r: dict, axis: int) -> torch.Tensor:
    """Shear about the centre: input x = output x + s * output y (axis 0), or likewise in y."""
    h, w = x.shape[-2:]
    s, one, zero = m * r["shear"], torch.ones_like(m), torch.zeros_like(m)
    if axis == 0:
        return _affine(x, _theta(one, s * h / w, zero, one, zero, zero))
    return _affine(x, _theta(one, zero, s * w / h, one, zero, zero))


def _translate(x: torch.Tensor, m: torch.Tensor, r: dict, axis: int) -> torch.Tensor:
    """Content moves by ``m`` of the range in pixels (right / down for positive), rounded to whole pixels."""
    side = x.shape[-1] if axis == 0 else x.shape[-2]
    pixels = (m * (r["translate"] * side if r["translate"] is not None else _TA_TRANSLATE_PX)).round()
    shift, one, zero = -2 * pixels / side, torch.ones_like(m), torch.zeros_like(m)
    return _affine(x, _theta(one, zero, zero, one, shift if axis == 0 else zero, shift if axis == 1 else zero))


def _rotate(x: torch.Tensor, m: torch.Tensor, r: dict) -> torch.Tensor:
    """Counter-clockwise rotation by ``m`` of the range in degrees, about the centre."""
    h, w = x.shape[-2:]
    angle = m * r["rotate"] * math.pi / 180
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(m)
    return _affine(x, _theta(cos, -sin * h / w, sin * w / h, cos, zero, zero))


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])


def _blend(x: torch.Tensor, other: torch.Tensor, m: torch.Tensor, r: dict) -> torch.Tensor:
    """PIL's enhancement: ``other + factor * (x - other)`` with factor ``1 + m * range``, clamped."""
    factor = (1 + m * r["enhance"]).view(-1, 1, 1, 1)
    f = _to_float(x)
    return _to_uint8(other + factor * (f - other))


def _brightness(x: torch.Tensor, m: torch.Tensor, r: dict) -> torch.Tensor:
    return _blend(x, torch.zeros_like(_to_float(x)), m, r)


def _color(x: torch.Tensor, m: torch.Tensor, r: dict) -> torch.Tensor:
    return _blend(x, _grayscale(_to_float(x)), m, r)


def _contrast(x: torch.Tensor, m: torch.Tensor, r: dict) -> torch.Tensor:
    return _blend(x, _grayscale(_to_float(x)).mean(dim=(1, 2, 3), keepdim=True), m, r)


def _sharpness(x: torch.Tensor, m: torch.Tensor, r: dict) -> torch.Tensor:
    """Blend with the image smoothed by PIL's 3x3 kernel (centre 5, others 1, / 13); the border is kept."""
    f = _to_float(x)
    c = f.shape[1]
    kernel = torch.ones(3, 3, device=x.device)
    kernel[1, 1] = 5.0
    kernel = (kernel / 13).expand(c, 1, 3, 3)
    smooth = f.clone()
    smooth[..., 1:-1, 1:-1] = _to_float(_to_uint8(F.conv2d(f, kernel, groups=c)))
    return _blend(x, smooth, m, r)


def _posterize(x: torch.Tensor, m: torch.Tensor, r: dict) -> torch.Tensor:
    """Keeps the top ``8 - round(m * range)`` bits of every value."""
    drop = (m * r["bits"]).round().to(torch.int64).clamp(0, 8)
    mask = (255 - (2 ** drop - 1)).to(torch.uint8).view(-1, 1, 1, 1)
    return x & mask


def _solarize(x: torch.Tensor, m: torch.Tensor, r: dict) -> torch.Tensor:
    """Inverts every value at or above the threshold ``256 * (1 - m)``."""
    threshold = (256 * (1 - m)).view(-1, 1, 1, 1)
    return torch.where(x.to(torch.float32) >= threshold, 255 - x, x)


def _autocontrast(x: torch.Tensor, m: torch.Tensor, r: dict) -> torch.Tensor:
    """PIL's autocontrast: each channel's minimum..maximum stretched to 0..255 (``floor(v * scale + offset)``,
    in double precision as PIL computes it); a constant channel is kept."""
    f = x.to(torch.float64)
    low, high = f.amin(dim=(2, 3), keepdim=True), f.amax(dim=(2, 3), keepdim=True)
    flat = high <= low
    scale = 255.0 / torch.where(flat, torch.ones_like(high), high - low)
    stretched = (f * scale + (-low * scale)).floor().clamp(0, 255)
    return torch.where(flat, f, stretched).to(torch.uint8)


def equalize(x: torch.Tensor, m: torch.Tensor | None = None, r: dict | None = None) -> torch.Tensor:
    """PIL's histogram equalisation of each channel of each uint8 image: with ``step`` the count of the values
    outside the highest occupied value, divided by 255 and rounded down (no change when it is 0), value v maps
    to ``(count below v + step // 2) // step`` (at most 255)."""
    b, c, h, w = x.shape
    flat = x.reshape(b * c, h * w).to(torch.int64)
    hist = torch.zeros(b * c, 256, dtype=torch.int64, device=x.device).scatter_add_(1, flat, torch.ones_like(flat))
    last = 255 - hist.flip(1).ne(0).to(torch.int64).argmax(1)  # the highest occupied value
    step = (h * w - hist.gather(1, last[:, None]).squeeze(1)) // 255
    below = hist.cumsum(1) - hist  # count of values below each value
    safe = step.clamp(min=1)[:, None]
    lut = ((below + safe // 2) // safe).clamp(0, 255)
    mapped = lut.gather(1, flat)
    return torch.where((step > 0)[:, None], mapped, flat).to(torch.uint8).view(b, c, h, w)


_OP_TABLE: dict[str, Callable[[torch.Tensor, torch.Tensor, dict], torch.Tensor]] = {
    "shear_x": lambda x, m, r: _shear(x, m, r, 0), "shear_y": lambda x, m, r: _shear(x, m, r, 1),
    "translate_x": lambda x, m, r: _translate(x, m, r, 0), "translate_y": lambda x, m, r: _translate(x, m, r, 1),
    "rotate": _rotate, "brightness": _brightness, "color": _color, "contrast": _contrast, "sharpness": _sharpness,
    "posterize": _posterize, "solarize": _solarize, "autocontrast": _autocontrast, "equalize": equalize,
}
