"""Image folders and archives: layouts, labels, held-out test split, decoding cache."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from parsecnas.data import ImageDataset, load_dataset, load_image_folder

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


def test_sixteen_bit_grayscale_pngs_are_scaled_not_saturated(isolated: Path) -> None:
    rng = np.random.default_rng(0)
    wide = {}
    for cls in ("a", "b"):
        (isolated / "deep" / cls).mkdir(parents=True)
        for i in range(5):
            pixels = rng.integers(0, 65536, (6, 8), dtype=np.uint16)
            pixels[0, :2] = (0, 65535)  # the range's ends map to 0 and 255
            Image.fromarray(pixels).save(isolated / "deep" / cls / f"{i}.png")
            wide[f"{cls}/{i}"] = pixels
    ds = load_image_folder(isolated / "deep", test_fraction=0.2, seed=0)
    images = torch.cat([ds.train_images, ds.test_images])
    assert images.shape[1] == 1
    expected = torch.from_numpy(np.stack([np.rint(p / 257.0) for p in wide.values()])).to(torch.uint8)
    found = sorted(map(bytes, images[:, 0].numpy()))
    assert found == sorted(map(bytes, expected.numpy()))
    assert float((images == 255).float().mean()) < 0.05  # clipping made 99.6% of pixels 255


def test_floating_point_images_are_refused_by_name(isolated: Path) -> None:
    for cls in ("a", "b"):
        (isolated / "float" / cls).mkdir(parents=True)
        Image.fromarray(np.full((6, 8), 0.5, dtype=np.float32)).save(isolated / "float" / cls / "x.tiff")
    with pytest.raises(ValueError, match="'a/x.tiff' has floating-point pixels"):
        load_image_folder(isolated / "float", cache=False)


@pytest.mark.parametrize("layout", ["flat", "split"])
def test_a_folder_with_one_class_is_refused(isolated: Path, layout: str) -> None:
    folder = isolated / "one" / ("train/cats" if layout == "split" else "cats")
    folder.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(_image(0, i)).save(folder / f"{i}.png")
    with pytest.raises(ValueError, match=r"found 1 class folder\(s\) \['cats'\]; a dataset needs at least two"):
        load_image_folder(isolated / "one")


def test_a_dataset_value_with_one_class_is_refused() -> None:
    images = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    images[0] = 1
    labels = torch.zeros(4, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"has 1 class\(es\) \['only'\]; classification needs at least two"):
        ImageDataset.from_tensors("toy", images, labels, images, labels, ("only",))
