"""Image folders and archives: layouts, labels, held-out test split, decoding cache."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from parsecnas.data import load_dataset, load_image_folder

CLASSES = ("cat", "dog", "Emu")  # sorted order: Emu, cat, dog


def _image(cls_index: int, i: int, size: tuple[int, int] = (8, 6), mode: str = "RGB") -> np.ndarray:
    rng = np.random.default_rng(100 * cls_index + i)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _make_tree(root: Path, splits: dict[str, int], mode: str = "RGB") -> dict[str, np.ndarray]:
    """Write PNGs ``root/<split>/<class>/NNNN.png`` (``split`` "" for none); returns path -> pixels."""
    written = {}
    for split, per_class in splits.items():
        for c, cls in enumerate(CLASSES):
            folder = root / split / cls if split else root / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = _image(c, i + (1000 if split == "test" else 0), mode=mode)
                Image.fromarray(pixels, mode=mode).save(folder / f"{i:04d}.png")
                written[f"{split}/{cls}/{i:04d}" if split else f"{cls}/{i:04d}"] = pixels
    (root / ".DS_Store").write_bytes(b"junk")
    return written


def _tar(folder: Path, out: Path, arcname: str) -> Path:
    with tarfile.open(out, "w:gz") as archive:
        archive.add(folder, arcname=arcname)
    return out


def test_tarball_with_train_and_test_keeps_the_splits_and_sorted_labels(isolated: Path) -> None:
    written = _make_tree(isolated / "src", {"train": 4, "test": 2})
    archive = _tar(isolated / "src", isolated / "pets.tar.gz", "pets")
    ds = load_image_folder(archive)
    assert ds.classes == ("Emu", "cat", "dog")
    assert ds.train_images.shape == (12, 3, 6, 8) and ds.test_images.shape == (6, 3, 6, 8)
    assert ds.train_labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    expected = torch.from_numpy(written["train/Emu/0000"]).permute(2, 0, 1)
    assert torch.equal(ds.train_images[0], expected)
    expected_test = torch.from_numpy(written["test/dog/0001"]).permute(2, 0, 1)
    assert torch.equal(ds.test_images[-1], expected_test)


def test_flat_folder_holds_out_a_seeded_stratified_test_split(isolated: Path) -> None:
    _make_tree(isolated / "flat", {"": 10})
    ds = load_image_folder(isolated / "flat", test_fraction=0.2, seed=0)
    assert torch.bincount(ds.test_labels).tolist() == [2, 2, 2]
    assert torch.bincount(ds.train_labels).tolist() == [8, 8, 8]
    again = load_image_folder(isolated / "flat", test_fraction=0.2, seed=0, cache=False)
    other = load_image_folder(isolated / "flat", test_fraction=0.2, seed=1)
    assert torch.equal(ds.test_images, again.test_images)
    assert not torch.equal(ds.test_images, other.test_images)


def test_train_folder_without_test_folder_is_also_split(isolated: Path) -> None:
    _make_tree(isolated / "only-train", {"train": 5})
    ds = load_image_folder(isolated / "only-train", test_fraction=0.4)
    assert len(ds.train_labels) == 9 and len(ds.test_labels) == 6


def test_grayscale_images_give_one_channel(isolated: Path) -> None:
    written = _make_tree(isolated / "gray", {"": 3}, mode="L")
    ds = load_image_folder(isolated / "gray", test_fraction=0.34)
    assert ds.in_channels == 1 and len(ds.mean) == 1
    all_images = torch.cat([ds.train_images, ds.test_images])
    assert any(torch.equal(img[0], torch.from_numpy(written["cat/0002"])) for img in all_images)


def test_decoded_arrays_are_cached_and_reused(isolated: Path) -> None:
    _make_tree(isolated / "src", {"train": 2, "test": 1})
    archive = _tar(isolated / "src", isolated / "set.tar.gz", ".")
    first = load_image_folder(archive, cache_root=isolated / "cache")
    cached = list((isolated / "cache" / "image-folder").glob("set-*.npz"))
    assert len(cached) == 1
    second = load_image_folder(archive, cache_root=isolated / "cache")
    assert torch.equal(first.train_images, second.train_images) and first.classes == second.classes


def test_images_of_different_sizes_are_rejected_by_name(isolated: Path) -> None:
    _make_tree(isolated / "mixed", {"": 2})
    Image.fromarray(np.zeros((5, 5, 3), dtype=np.uint8)).save(isolated / "mixed" / "dog" / "odd.png")
    with pytest.raises(ValueError, match=r"'dog/odd.png' is 5x5 but .* is 8x6"):
        load_image_folder(isolated / "mixed", cache=False)


def test_a_test_class_without_train_folder_is_rejected(isolated: Path) -> None:
    _make_tree(isolated / "src", {"train": 1, "test": 1})
    (isolated / "src" / "test" / "zebra").mkdir()
    Image.fromarray(_image(0, 0)).save(isolated / "src" / "test" / "zebra" / "z.png")
    with pytest.raises(ValueError, match=r"test classes \['zebra'\] have no train folder"):
        load_image_folder(isolated / "src", cache=False)


def test_missing_or_empty_sources_are_reported(isolated: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(isolated / "nowhere")
    (isolated / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files found"):
        load_image_folder(isolated / "empty")


def test_load_dataset_image_folder_uses_data_dir_as_the_source(isolated: Path) -> None:
    _make_tree(isolated / "src", {"train": 2, "test": 1})
    assert load_dataset("image-folder", data_dir=isolated / "src").num_classes == 3
    with pytest.raises(ValueError, match="needs data_dir"):
        load_dataset("image-folder")
