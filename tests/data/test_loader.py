"""Loader: normalisation, augmentation properties, determinism, epochs and exact resume."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from parsecnas.data import Loader, LoaderConfig, crop_flip, cutout, load_dataset, random_crop, random_flip


def _images(n: int = 40, c: int = 3, size: int = 12, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (n, c, size, size), generator=gen, dtype=torch.uint8)


def _loader(config: LoaderConfig, n: int = 40, seed: int = 0, mean: float = 0.5, std: float = 0.25) -> Loader:
    images = _images(n)
    return Loader(images, torch.arange(n), (mean,) * 3, (std,) * 3, config, seed=seed)


def _pixels(batch: torch.Tensor, mean: float = 0.5, std: float = 0.25) -> torch.Tensor:
    """Undo normalisation back to 0..255 values."""
    return (batch * std + mean) * 255.0


def test_batches_are_normalised_with_the_given_mean_and_std() -> None:
    ds = load_dataset("fashion-mnist-small")
    loader = Loader.from_dataset(ds, "train", config=LoaderConfig(batch_size=1000, shuffle=False))
    batches = [x for x, _ in loader]
    assert all(x.dtype == torch.float32 for x in batches)
    everything = torch.cat(batches)
    assert everything.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert everything.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-4)
    expected = (ds.train_images[:1000].float() / 255 - ds.mean[0]) / ds.std[0]
    assert torch.allclose(batches[0], expected, atol=1e-5)


def test_every_example_is_seen_once_per_epoch_and_len_counts_batches() -> None:
    loader = _loader(LoaderConfig(batch_size=16), n=40)
    assert len(loader) == 3
    for epoch in range(3):
        labels = torch.cat([y for _, y in loader])
        assert sorted(labels.tolist()) == list(range(40))
        assert loader.epoch == epoch + 1 and loader.position == 0


def test_drop_last_skips_the_incomplete_batch() -> None:
    loader = _loader(LoaderConfig(batch_size=16, drop_last=True), n=40)
    sizes = [len(y) for _, y in loader]
    assert len(loader) == 2 and sizes == [16, 16]
    with pytest.raises(ValueError, match="give no batch"):
        _loader(LoaderConfig(batch_size=64, drop_last=True), n=40)


def test_shuffle_draws_a_new_order_each_epoch_and_no_shuffle_keeps_it() -> None:
    loader = _loader(LoaderConfig(batch_size=40), n=40)
    first, second = (torch.cat([y for _, y in loader]) for _ in range(2))
    assert not torch.equal(first, second) and not torch.equal(first, torch.arange(40))
    fixed = _loader(LoaderConfig(batch_size=40, shuffle=False))
    assert torch.equal(next(iter(fixed))[1], torch.arange(40))


AUGMENTED = LoaderConfig(batch_size=16, crop_padding=2, flip=True, cutout=4)


def _run(loader: Loader, batches: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [loader.next_batch() for _ in range(batches)]


def test_same_seed_gives_identical_batches_and_other_seeds_differ() -> None:
    a, b, c = (_run(_loader(AUGMENTED, seed=s), 7) for s in (3, 3, 4))
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b, strict=True))
    assert not all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a, c, strict=True))


@pytest.mark.parametrize("stop", [1, 2, 3, 4, 5])
def test_a_restored_loader_yields_exactly_the_remaining_batches(stop: int) -> None:
    reference = _run(_loader(AUGMENTED, seed=11), 8)  # 3 batches per epoch: crosses two epoch ends
    original = _loader(AUGMENTED, seed=11)
    _run(original, stop)
    buffer = io.BytesIO()
    torch.save(original.state_dict(), buffer)
    buffer.seek(0)
    restored = _loader(AUGMENTED, seed=999)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert (restored.epoch, restored.position) == divmod(stop, 3)
    rest = _run(restored, 8 - stop)
    for (x1, y1), (x2, y2) in zip(reference[stop:], rest, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_iterating_a_restored_loader_finishes_the_interrupted_epoch() -> None:
    original = _loader(AUGMENTED, seed=5)
    full_epoch = list(_loader(AUGMENTED, seed=5))
    iterator = iter(original)
    next(iterator)
    restored = _loader(AUGMENTED, seed=0)
    restored.load_state_dict(original.state_dict())
    rest = list(restored)
    assert len(rest) == 2 and all(torch.equal(a[0], b[0]) for a, b in zip(full_epoch[1:], rest, strict=True))


def test_load_state_dict_refuses_a_different_batching() -> None:
    state = _loader(AUGMENTED).state_dict()
    with pytest.raises(ValueError, match="batch_size=16 but this loader has batch_size=8"):
        _loader(LoaderConfig(batch_size=8)).load_state_dict(state)


def test_random_crop_equals_a_window_of_the_zero_padded_image() -> None:
    images = _images(4)
    offsets = torch.tensor([[0, 0], [2, 2], [4, 1], [3, 4]])
    cropped = random_crop(images, 2, offsets)
    padded = F.pad(images, (2, 2, 2, 2))
    for i, (dy, dx) in enumerate(offsets.tolist()):
        assert torch.equal(cropped[i], padded[i, :, dy : dy + 12, dx : dx + 12])
    assert torch.equal(cropped[1], images[1])


def test_crop_flip_mirrors_the_cropped_window() -> None:
    images = _images(3)
    offsets = torch.tensor([[1, 3], [0, 4], [2, 2]])
    out = crop_flip(images, 2, offsets, torch.tensor([True, True, False]))
    padded = F.pad(images, (2, 2, 2, 2))
    for i, (dy, dx) in enumerate(offsets.tolist()):
        window = padded[i, :, dy : dy + 12, dx : dx + 12]
        assert torch.equal(out[i], window.flip(-1) if i < 2 else window)


def test_random_flip_mirrors_only_the_masked_images() -> None:
    images = _images(3)
    flipped = random_flip(images, torch.tensor([True, False, True]))
    assert torch.equal(flipped[0], images[0].flip(-1)) and torch.equal(flipped[1], images[1])


def test_cutout_zeroes_one_square_clipped_at_the_borders() -> None:
    ones = torch.ones(3, 2, 16, 16)
    out = cutout(ones, 4, torch.tensor([[8, 8], [0, 0], [15, 7]]))
    zeros = out == 0
    assert zeros[0, :, 6:10, 6:10].all() and zeros[0].sum() == 2 * 16
    assert zeros[1, :, 0:2, 0:2].all() and zeros[1].sum() == 2 * 4
    assert zeros[2, :, 13:16, 5:9].all() and zeros[2].sum() == 2 * 12
    assert torch.equal(zeros[:, 0], zeros[:, 1])


def _matches_a_window(out: torch.Tensor, source: torch.Tensor, padding: int) -> bool:
    size = source.shape[-1]
    for candidate in (source, source.flip(-1)):
        padded = F.pad(candidate, (padding,) * 4)
        for dy in range(2 * padding + 1):
            for dx in range(2 * padding + 1):
                window = padded[:, dy : dy + size, dx : dx + size]
                if torch.allclose(out, window, atol=1e-3):
                    return True
    return False


def test_loader_crops_and_flips_each_image_of_its_source() -> None:
    loader = _loader(LoaderConfig(batch_size=40, crop_padding=2, flip=True))
    x, y = loader.next_batch()
    source = loader.images.float()
    assert all(_matches_a_window(_pixels(x[i]), source[int(y[i])], 2) for i in range(40))
    assert not all(torch.allclose(_pixels(x[i]), source[int(y[i])], atol=1e-3) for i in range(40))


def test_loader_flips_about_half_of_the_images() -> None:
    loader = _loader(LoaderConfig(batch_size=400, flip=True), n=400)
    x, y = loader.next_batch()
    source = loader.images[y].float()
    same = torch.isclose(_pixels(x), source, atol=1e-3).flatten(1).all(1)
    mirrored = torch.isclose(_pixels(x), source.flip(-1), atol=1e-3).flatten(1).all(1)
    assert (same ^ mirrored).all()
    assert 150 < int(mirrored.sum()) < 250


def test_loader_cutout_is_applied_after_normalisation() -> None:
    """Cut pixels are 0 in normalised space (the mean), not (0 - mean) / std as a pixel-space cut gives."""
    loader = _loader(LoaderConfig(batch_size=40, cutout=5), mean=0.5, std=0.25)
    x, y = loader.next_batch()
    expected = (loader.images[y].float() / 255 - 0.5) / 0.25
    cut = ~torch.isclose(x, expected, atol=1e-5)
    assert (x[cut] == 0).all()
    assert not (x == -2.0).any()
    per_image = cut.any(dim=1)
    for mask in per_image:
        rows, cols = mask.any(dim=1).nonzero().flatten(), mask.any(dim=0).nonzero().flatten()
        assert 0 < len(rows) <= 5 and 0 < len(cols) <= 5
        assert mask.sum() == len(rows) * len(cols)  # one filled rectangle
    assert (per_image.sum(dim=(1, 2)) == 25).any()


def test_config_and_shapes_are_validated() -> None:
    with pytest.raises(ValueError, match="batch_size=0"):
        LoaderConfig(batch_size=0)
    with pytest.raises(ValueError, match="crop_padding=-1"):
        LoaderConfig(crop_padding=-1)
    with pytest.raises(ValueError, match="uint8"):
        Loader(torch.zeros(4, 1, 8, 8), torch.arange(4), (0.5,), (0.5,))
    with pytest.raises(ValueError, match="need 1 values"):
        Loader(_images(4, c=1), torch.arange(4), (0.5, 0.5), (0.5, 0.5))


def test_from_dataset_restricts_to_indices_and_for_training_picks_augmentation() -> None:
    ds = load_dataset("fashion-mnist-small")
    config = LoaderConfig.for_training(ds, batch_size=32)
    assert (config.crop_padding, config.flip, config.shuffle) == (3, True, True)
    loader = Loader.from_dataset(ds, "train", torch.arange(100), config, seed=0)
    assert loader.num_examples == 100 and len(loader) == 4
    assert LoaderConfig.for_evaluation().shuffle is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batches_are_the_same_on_cuda_and_cpu() -> None:
    images, labels = _images(40), torch.arange(40)
    cpu = Loader(images, labels, (0.5,) * 3, (0.25,) * 3, AUGMENTED, seed=2)
    gpu = Loader(images, labels, (0.5,) * 3, (0.25,) * 3, AUGMENTED, device="cuda", seed=2)
    for _ in range(4):
        (x1, y1), (x2, y2) = cpu.next_batch(), gpu.next_batch()
        assert x2.device.type == "cuda" and torch.allclose(x1, x2.cpu()) and torch.equal(y1, y2.cpu())


def test_rank_shares_of_a_sharded_loader_make_up_the_single_loaders_batches() -> None:
    ds = load_dataset("fashion-mnist-small")
    config = LoaderConfig(batch_size=10, crop_padding=2, flip=True, cutout=4)
    whole = Loader.from_dataset(ds, "train", range(25), config, seed=3)
    shards = [Loader.from_dataset(ds, "train", range(25), config, seed=3) for _ in range(2)]
    for rank, shard in enumerate(shards):
        shard.set_shard(rank, 2)
    for _ in range(4):  # past an epoch's end (25 examples: batches of 10, 10, 5)
        x, y = whole.next_batch()
        parts = [shard.next_batch() for shard in shards]
        assert torch.equal(torch.cat([p[0] for p in parts]), x) and torch.equal(torch.cat([p[1] for p in parts]), y)
    assert all(shard.state_dict()["rng_state"].equal(whole.state_dict()["rng_state"]) for shard in shards)


def test_a_batch_that_leaves_a_rank_fewer_than_two_examples_is_refused() -> None:
    loader = Loader.from_dataset(load_dataset("fashion-mnist-small"), "train", range(21), LoaderConfig(batch_size=10))
    with pytest.raises(ValueError, match="a batch of 1 examples split over 2 ranks"):
        loader.set_shard(0, 2)
