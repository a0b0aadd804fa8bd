"""RandAugment and TrivialAugment: each operation exact on hand-checked tensors (and against PIL where PIL defines
it), magnitude 0 the identity, shapes, value ranges, determinism under a seed, and the loader's policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from parsecnas.data import Loader, LoaderConfig, load_dataset
from parsecnas.data.autoaugment import (
    MAGNITUDE_BINS,
    OPS,
    apply_ops,
    draw_randaugment,
    draw_trivialaugment,
    equalize,
    rand_augment,
    trivial_augment,
)
from parsecnas.train import TrainConfig

WITHOUT_MAGNITUDE = {"autocontrast", "equalize"}
PIL_OPS = {"autocontrast": ImageOps.autocontrast, "equalize": ImageOps.equalize,  # at magnitude 0.5 of RandAugment
           "posterize": lambda im: ImageOps.posterize(im, 6), "solarize": lambda im: ImageOps.solarize(im, 128)}


def images(b: int = 6, c: int = 3, side: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (b, c, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def one(name: str, x: torch.Tensor, magnitude: float, ranges: str = "randaugment") -> torch.Tensor:
    b = x.shape[0]
    return apply_ops(x, torch.full((b,), OPS.index(name)), torch.full((b,), float(magnitude)), ranges)


@pytest.mark.parametrize("ranges", ["randaugment", "trivialaugment"])
@pytest.mark.parametrize("name", [n for n in OPS if n not in WITHOUT_MAGNITUDE])
def test_magnitude_zero_is_the_identity(name: str, ranges: str) -> None:
    x = images()
    assert torch.equal(one(name, x, 0.0, ranges), x)


def test_rand_augment_at_magnitude_zero_leaves_images_whose_ops_have_a_magnitude() -> None:
    x = images(64)
    ops, signs = draw_randaugment(64, 3, torch.Generator().manual_seed(1))
    out = rand_augment(x, ops, signs, magnitude=0)
    free = ~torch.isin(ops, torch.tensor([OPS.index(n) for n in WITHOUT_MAGNITUDE])).any(1)
    assert free.sum() > 10 and torch.equal(out[free], x[free])


def test_translation_is_an_exact_shift_with_zero_fill() -> None:
    x = images(2, 1, 8)
    right = one("translate_x", x, 1 / 32, "trivialaugment")  # 32 pixels is the wide range: one pixel
    assert torch.equal(right[..., 1:], x[..., :-1]) and not right[..., 0].any()
    up = one("translate_y", x, -2 / 32, "trivialaugment")
    assert torch.equal(up[..., :-2, :], x[..., 2:, :]) and not up[..., -2:, :].any()
    # RandAugment's range is 150/331 of the side: the whole range on 8 pixels is round(3.63) = 4 pixels
    assert torch.equal(one("translate_x", x, 1.0)[..., 4:], x[..., :4])


def test_rotation_by_ninety_degrees_is_rot90_counter_clockwise() -> None:
    x = images(3, 2, 6)
    assert torch.equal(one("rotate", x, 90 / 135, "trivialaugment"), torch.rot90(x, 1, (2, 3)))
    assert torch.equal(one("rotate", x, -90 / 135, "trivialaugment"), torch.rot90(x, -1, (2, 3)))


def test_shear_moves_each_row_in_proportion_to_its_distance_from_the_centre() -> None:
    x = torch.zeros(1, 1, 9, 9, dtype=torch.uint8)
    x[0, 0, :, 4] = 255  # a vertical line through the centre column
    out = one("shear_x", x, 0.25 / 0.99, "trivialaugment")[0, 0]  # shear 0.25: row centre +- 4 -> +- 1
    assert out[4].nonzero().flatten().tolist() == [4]
    assert out[0].nonzero().flatten().tolist() == [5] and out[8].nonzero().flatten().tolist() == [3]


def test_colour_operations_match_their_formulas() -> None:
    x = torch.tensor([[[[100, 200], [0, 255]]]], dtype=torch.uint8)
    assert one("brightness", x, -1.0).flatten().tolist() == [10, 20, 0, 26]  # factor 0.1, rounded
    assert one("brightness", x, 1.0).flatten().tolist() == [190, 255, 0, 255]  # factor 1.9, clipped
    mean = (100 + 200 + 0 + 255) / 4 / 255
    expected = ((mean + 0.1 * (x.float() / 255 - mean)).clamp(0, 1) * 255).round().to(torch.uint8)
    assert torch.equal(one("contrast", x, -1.0), expected)
    assert torch.equal(one("color", x, -1.0), x)  # one channel: already its own grayscale
    rgb = torch.tensor([[[[200]], [[100]], [[50]]]], dtype=torch.uint8)
    gray = 0.299 * 200 + 0.587 * 100 + 0.114 * 50
    assert one("color", rgb, -1 / 0.99, "trivialaugment").flatten().tolist() == [round(gray)] * 3  # factor 0


def test_posterize_and_solarize_are_exact() -> None:
    x = torch.tensor([[[[183, 127, 128, 255]]]], dtype=torch.uint8)
    assert one("posterize", x, 1.0).flatten().tolist() == [176, 112, 128, 240]  # keep 4 bits
    assert one("posterize", x, 1.0, "trivialaugment").flatten().tolist() == [128, 64, 128, 192]  # keep 2
    assert one("solarize", x, 0.5).flatten().tolist() == [72, 127, 127, 0]  # invert from 128 up
    assert one("solarize", x, 1.0).flatten().tolist() == [72, 128, 127, 0]  # threshold 0: invert all


@pytest.mark.parametrize("name", ["autocontrast", "equalize", "posterize", "solarize"])
def test_pixel_operations_equal_pil(name: str) -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(30, 200, (4, 3, 32, 32), generator=gen, dtype=torch.uint8)
    x[1] = x[1] // 4 + 100  # a narrow histogram
    x[2, 0] = 77  # a constant channel
    got = one(name, x, 0.5)
    for i in range(x.shape[0]):
        pil = Image.fromarray(x[i].permute(1, 2, 0).numpy())
        want = torch.from_numpy(np.array(PIL_OPS[name](pil))).permute(2, 0, 1)
        assert torch.equal(got[i], want), (name, i)


def test_equalize_by_hand() -> None:
    x = torch.full((1, 1, 32, 32), 10, dtype=torch.uint8)
    x.view(-1)[512:768], x.view(-1)[768:] = 20, 30
    # step = (1024 - 256) // 255 = 3; lut[v] = (pixels below v + 1) // 3
    assert sorted(equalize(x).unique().tolist()) == [0, 171, 255]


@pytest.mark.parametrize("policy", ["randaugment", "trivialaugment"])
def test_policies_keep_shape_dtype_and_range_and_repeat_under_a_seed(policy: str) -> None:
    x = images(32, 3, 16)

    def run(seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        if policy == "randaugment":
            return rand_augment(x, *draw_randaugment(32, 2, gen), magnitude=15)
        return trivial_augment(x, *draw_trivialaugment(32, gen))

    out = run(0)
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert torch.equal(out, run(0)) and not torch.equal(out, run(1)) and not torch.equal(out, x)


def test_trivial_augment_draws_every_op_and_bin() -> None:
    ops, bins, signs = draw_trivialaugment(4000, torch.Generator().manual_seed(0))
    assert set(ops.tolist()) == set(range(len(OPS))) and set(bins.tolist()) == set(range(MAGNITUDE_BINS))
    assert set(signs.tolist()) == {-1, 1}


def test_the_loader_applies_the_policy_and_resumes_exactly() -> None:
    ds = load_dataset("fashion-mnist-small")
    plain = Loader.from_dataset(ds, "train", None, LoaderConfig(batch_size=16), seed=0)
    config = LoaderConfig(batch_size=16, policy="randaugment", policy_ops=2, policy_magnitude=12)
    loader = Loader.from_dataset(ds, "train", None, config, seed=0)
    x, _ = loader.next_batch()
    assert not torch.equal(x, plain.next_batch()[0])  # the order is the same; the images are augmented
    state = loader.state_dict()
    after = loader.next_batch()[0]
    again = Loader.from_dataset(ds, "train", None, config, seed=0)
    again.load_state_dict(state)
    assert torch.equal(again.next_batch()[0], after)
    zero = Loader.from_dataset(ds, "train", None, LoaderConfig(batch_size=16, policy="randaugment",
                                                               policy_ops=0), seed=0)
    assert torch.equal(zero.next_batch()[0], Loader.from_dataset(ds, "train", None, LoaderConfig(batch_size=16),
                                                                  seed=0).next_batch()[0])


@pytest.mark.parametrize(("fields", "message"), [
    ({"augment": "autoaugment"}, "unknown augmentation policy 'autoaugment'"),
    ({"augment": "randaugment", "augment_m": 31}, r"augment_m \(RandAugment's M\) must be a magnitude bin in 0..30"),
    ({"augment_n": -1}, r"augment_n \(RandAugment's N\) must be >= 0"),
])
def test_bad_policies_are_refused_by_name(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**fields)
