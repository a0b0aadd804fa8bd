"""Random-resized crops and central crops (the ImageNet protocol's augmentation), batched on tensors."""

from __future__ import annotations

import math

import pytest
import torch

from parsecnas.data import Loader, LoaderConfig
from parsecnas.data.augment import center_crop_resize, crop_boxes, resized_crop


def images(b: int = 3, side: int = 8) -> torch.Tensor:
    return torch.randn(b, 2, side, side, generator=torch.Generator().manual_seed(0))


def test_the_full_window_at_full_size_is_the_identity_and_flip_mirrors() -> None:
    x = images()
    full = torch.tensor([[0.0, 0.0, 8.0, 8.0]]).expand(3, 4)
    torch.testing.assert_close(resized_crop(x, full, 8), x)
    flips = torch.tensor([True, False, True])
    out = resized_crop(x, full, 8, flips)
    torch.testing.assert_close(out[flips], x[flips].flip(3))
    torch.testing.assert_close(out[~flips], x[~flips])


def test_a_window_at_its_own_size_is_an_exact_crop() -> None:
    x = images()
    boxes = torch.tensor([[0.0, 0.0, 4.0, 4.0], [2.0, 3.0, 4.0, 4.0], [4.0, 4.0, 4.0, 4.0]])
    out = resized_crop(x, boxes, 4)
    for i, (top, left, _, _) in enumerate(boxes.int().tolist()):
        torch.testing.assert_close(out[i], x[i, :, top:top + 4, left:left + 4])


def test_center_crop_takes_the_middle() -> None:
    x = images(side=16)
    torch.testing.assert_close(center_crop_resize(x, 14), x[:, :, 1:15, 1:15])


def test_crop_boxes_lie_inside_with_the_drawn_area_and_aspect() -> None:
    boxes = crop_boxes(5000, 32, 48, torch.Generator().manual_seed(0))
    top, left, h, w = boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 32 + 1e-4).all() and (left + w <= 48 + 1e-4).all()
    area = h * w / (32 * 48)
    assert area.min() >= 0.08 - 1e-6 and area.max() <= 1 + 1e-6
    unclipped = (h < 32) & (w < 48)
    ratio = (w / h)[unclipped]
    assert ratio.min() >= 3 / 4 - 1e-5 and ratio.max() <= 4 / 3 + 1e-5
    assert area.min() < 0.09 and area.max() > 0.85  # the whole scale range is drawn
    assert math.isclose(float((w / h).log().mean()), 0.0, abs_tol=0.05)


def test_loader_resized_crops_are_seeded_and_shaped() -> None:
    x = (torch.arange(4 * 3 * 20 * 20) % 251).to(torch.uint8).view(4, 3, 20, 20)
    y = torch.arange(4)
    cfg = LoaderConfig(batch_size=4, shuffle=False, flip=True, resized_crop=12)
    a = Loader(x, y, (0.5,) * 3, (0.25,) * 3, cfg, seed=1).next_batch()[0]
    b = Loader(x, y, (0.5,) * 3, (0.25,) * 3, cfg, seed=1).next_batch()[0]
    assert a.shape == (4, 3, 12, 12) and torch.equal(a, b)
    test = Loader(x, y, (0.5,) * 3, (0.25,) * 3, LoaderConfig(batch_size=4, shuffle=False, center_crop=12))
    assert test.next_batch()[0].shape == (4, 3, 12, 12)
    with pytest.raises(ValueError, match="resized_crop replaces crop_padding"):
        LoaderConfig(crop_padding=4, resized_crop=12)


def test_color_jitter_identity_grayscale_and_hue_rotation() -> None:
    import colorsys

    from parsecnas.data.augment import color_jitter

    x = torch.rand(4, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    identity = torch.tensor([[1.0, 1.0, 1.0, 0.0]]).expand(4, 4)
    torch.testing.assert_close(color_jitter(x, identity), x, atol=1e-5, rtol=0)
    gray = color_jitter(x, torch.tensor([[1.0, 1.0, 0.0, 0.0]]).expand(4, 4))
    torch.testing.assert_close(gray[:, 0], gray[:, 1])
    torch.testing.assert_close(gray[:, 1], gray[:, 2])
    shifted = color_jitter(x, torch.tensor([[1.0, 1.0, 1.0, 0.3]]).expand(4, 4))
    for b, i, j in [(0, 0, 0), (1, 2, 3), (3, 4, 1)]:
        h, s, v = colorsys.rgb_to_hsv(*x[b, :, i, j].tolist())
        expected = torch.tensor(colorsys.hsv_to_rgb((h + 0.3) % 1, s, v))
        torch.testing.assert_close(shifted[b, :, i, j], expected, atol=1e-5, rtol=0)
    darker = color_jitter(x, torch.tensor([[0.5, 1.0, 1.0, 0.0]]).expand(4, 4))
    torch.testing.assert_close(darker, x * 0.5)


def test_loader_jitters_rgb_only_and_deterministically() -> None:
    x = (torch.arange(4 * 3 * 8 * 8) % 251).to(torch.uint8).view(4, 3, 8, 8)
    y = torch.arange(4)
    plain = Loader(x, y, (0.5,) * 3, (0.25,) * 3, LoaderConfig(batch_size=4, shuffle=False), seed=3).next_batch()[0]
    cfg = LoaderConfig(batch_size=4, shuffle=False, color_jitter=0.4)
    a = Loader(x, y, (0.5,) * 3, (0.25,) * 3, cfg, seed=3).next_batch()[0]
    assert torch.equal(a, Loader(x, y, (0.5,) * 3, (0.25,) * 3, cfg, seed=3).next_batch()[0])
    assert not torch.allclose(a, plain)
    zero = Loader(x, y, (0.5,) * 3, (0.25,) * 3, LoaderConfig(batch_size=4, shuffle=False, color_jitter=1e-9),
                  seed=3).next_batch()[0]
    torch.testing.assert_close(zero, plain, atol=1e-4, rtol=0)  # the [0, 1] route gives the same normalisation
    with pytest.raises(ValueError, match="RGB"):
        Loader(x[:, :1], y, (0.5,), (0.25,), cfg).next_batch()
