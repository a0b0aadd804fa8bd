"""A user's own images: a folder (or ``.tar.gz``) with one subfolder per class.

Accepted layouts, optionally wrapped in one extra top folder::

    <root>/<class>/<image>                      # a test split is held out, class-stratified and seeded
    <root>/train/<class>/<image>                # likewise
    <root>/train/<class>/<image> + <root>/test/<class>/<image>

Labels are the index of the class folder in sorted order. All images must have the same size; they become 1
channel when every image is grayscale, else 3 (RGB). Decoding runs once: the arrays are cached as an ``.npz``
under the per-user cache folder, keyed by the source's path, size and modification time.

Example:
    >>> from parsecnas.data.image_folder import load_image_folder
    >>> ds = load_image_folder("~/pets.tar.gz", test_fraction=0.2, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from parsecnas.data.files import cache_dir, save_npz
from parsecnas.data.image_dataset import ImageDataset
from parsecnas.data.split import train_search_split

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder"]

_log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
_SPLITS = ("train", "test")
_CACHE_VERSION = 2  # 2: 16-bit images scaled, no longer clipped
_WIDE_GRAY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


@dataclass(frozen=True)
class _Decoded:
    images: np.ndarray  # (N, C, H, W) uint8
    labels: np.ndarray  # (N,) int64
    is_test: np.ndarray  # (N,) bool
    has_test: bool
    classes: tuple[str, ...]


def _is_image(name: str) -> bool:
    """Whether ``name`` has an image extension and no hidden part (``.DS_Store``, ``__MACOSX/._x.jpg``)."""
    parts = PurePosixPath(name).parts
    hidden = any(p.startswith(".") and p not in (".", "/") for p in parts)
    return not hidden and PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


def _read_blobs(source: Path) -> dict[str, bytes]:
    """Relative POSIX path to encoded bytes, for every image file in a folder or tar archive."""
    blobs: dict[str, bytes] = {}
    if source.is_dir():
        for path in source.rglob("*"):
            rel = path.relative_to(source).as_posix()
            if path.is_file() and _is_image(rel):
                blobs[rel] = path.read_bytes()
        return blobs
    if not source.is_file():
        raise ValueError(f"image folder {str(source)!r} is neither a folder nor a file; give a folder or a .tar.gz")
    try:
        archive = tarfile.open(source, "r:*")
    except tarfile.TarError:
        raise ValueError(f"image folder {str(source)!r} is a file but not a tar archive; give a folder of class "
                         "subfolders or a .tar / .tar.gz of one") from None
    with archive:
        for member in archive:
            if member.isfile() and _is_image(member.name):
                handle = archive.extractfile(member)
                if handle is not None:
                    key = "/".join(p for p in PurePosixPath(member.name).parts if p not in ("/", "."))
                    blobs[key] = handle.read()
    return blobs


def _layout(keys: list[str], source: Path) -> tuple[tuple[str, ...], list[tuple[str, int, bool]], bool]:
    """Classes, ``(key, label, is_test)`` per image in sorted order, and whether a test folder exists."""
    if not keys:
        exts = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise ValueError(f"{source}: no image files found (looked for {exts})")
    keys = sorted(keys)
    parts = [PurePosixPath(k).parts for k in keys]
    while all(len(p) >= 3 for p in parts) and len({p[0] for p in parts}) == 1 and parts[0][0] not in _SPLITS:
        parts = [p[1:] for p in parts]
    tops = {p[0] for p in parts}
    split_layout = "train" in tops and tops <= set(_SPLITS) and all(len(p) == 3 for p in parts)
    depth = 3 if split_layout else 2
    bad = [k for k, p in zip(keys, parts, strict=True) if len(p) != depth]
    if bad:
        raise ValueError(
            f"{source}: {bad[0]!r} does not fit the layout; expected <class>/<image>, or "
            "train/<class>/<image> with an optional test/<class>/<image>"
        )
    rows = [(p[0] == "test", p[-2]) for p in parts] if split_layout else [(False, p[0]) for p in parts]
    classes = tuple(sorted({cls for is_test, cls in rows if not is_test}))
    if len(classes) < 2:
        raise ValueError(f"{source}: found {len(classes)} class folder(s) {list(classes)}; a dataset needs at least "
                         "two (one subfolder of images per class), else any network scores accuracy 1.0")
    index = {cls: i for i, cls in enumerate(classes)}
    unknown = sorted({cls for _, cls in rows if cls not in index})
    if unknown:
        raise ValueError(
            f"{source}: test classes {unknown} have no train folder; train classes: {list(classes)}"
        )
    entries = [(key, index[cls], is_test) for key, (is_test, cls) in zip(keys, rows, strict=True)]
    return classes, entries, any(is_test for _, _, is_test in entries)


def _pixels(image: Image.Image, name: str) -> tuple[np.ndarray, bool]:
    """``(H, W, 3)`` uint8 pixels of ``image`` and whether it is grayscale.

    16-bit grayscale images (PNG/TIFF modes ``I;16*``, and ``I`` as Pillow opens 16-bit PNGs) are scaled from
    0..65535 to 0..255; Pillow's own conversion would clip them, saturating nearly every pixel.
    """
    if image.mode in _WIDE_GRAY_MODES:
        wide = np.asarray(image).astype(np.int64)
        if wide.size and (wide.min() < 0 or wide.max() > 65535):
            raise ValueError(f"image {name!r} ({image.mode}) has values in {wide.min()}..{wide.max()}, outside "
                             "the 16-bit range 0..65535; save it as an 8- or 16-bit image")
        gray = ((wide * 255 + 32767) // 65535).astype(np.uint8)  # rounded, 65535 -> 255
        return np.repeat(gray[..., None], 3, axis=2), True
    if image.mode == "F":
        raise ValueError(f"image {name!r} has floating-point pixels (mode F), which have no fixed range; save it "
                         "as an 8- or 16-bit image")
    return np.asarray(image.convert("RGB")), image.mode in ("L", "1")


def _decode(blobs: list[bytes], names: list[str]) -> np.ndarray:
    """Decode images to ``(N, C, H, W)`` uint8; C is 1 if all are grayscale, else 3."""
    out: np.ndarray | None = None
    grayscale = True
    for i, (blob, name) in enumerate(zip(blobs, names, strict=True)):
        try:
            with Image.open(io.BytesIO(blob)) as image:
                pixels, gray = _pixels(image, name)
                grayscale = grayscale and gray
        except UnidentifiedImageError:
            raise ValueError(f"cannot decode image {name!r}: not an image file of a known format") from None
        except OSError as err:
            raise ValueError(f"cannot decode image {name!r}: {err}") from err
        if out is None:
            out = np.empty((len(blobs), *pixels.shape), dtype=np.uint8)
        elif pixels.shape != out.shape[1:]:
            h, w = out.shape[1:3]
            raise ValueError(
                f"image {name!r} is {pixels.shape[1]}x{pixels.shape[0]} but {names[0]!r} is {w}x{h}; "
                "all images must have the same size"
            )
        out[i] = pixels
    assert out is not None
    if grayscale:
        out = out[..., :1]
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def _decode_source(source: Path) -> _Decoded:
    blobs = _read_blobs(source)
    classes, entries, has_test = _layout(list(blobs), source)
    keys = [key for key, _, _ in entries]
    images = _decode([blobs[k] for k in keys], keys)
    labels = np.array([label for _, label, _ in entries], dtype=np.int64)
    is_test = np.array([flag for _, _, flag in entries], dtype=bool)
    return _Decoded(images, labels, is_test, has_test, classes)


def _cache_path(source: Path, cache_root: Path) -> Path:
    resolved = source.resolve()
    items = [f"v{_CACHE_VERSION}", str(resolved)]
    files = [resolved] if resolved.is_file() else sorted(p for p in resolved.rglob("*") if p.is_file())
    for path in files:
        stat = path.stat()
        items.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    key = hashlib.sha1("\n".join(items).encode(), usedforsecurity=False).hexdigest()[:16]
    stem = source.name.split(".")[0] or "images"
    return cache_root / "image-folder" / f"{stem}-{key}.npz"


def _load_cached(source: Path, cache_root: Path | None) -> _Decoded:
    path = _cache_path(source, cache_root or cache_dir())
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            classes = tuple(str(c) for c in z["classes"])
            return _Decoded(z["images"], z["labels"], z["is_test"], bool(z["has_test"]), classes)
    decoded = _decode_source(source)
    try:
        save_npz(
            path,
            {
                "images": decoded.images,
                "labels": decoded.labels,
                "is_test": decoded.is_test,
                "has_test": np.array(decoded.has_test),
                "classes": np.array(decoded.classes, dtype=str),
            },
        )
    except OSError as err:
        _log.warning("could not write the decoded-image cache %s: %s", path, err)
    return decoded


def load_image_folder(
    path: str | os.PathLike[str],
    *,
    name: str = "image-folder",
    test_fraction: float = 0.2,
    seed: int = 0,
    cache: bool = True,
    cache_root: str | os.PathLike[str] | None = None,
) -> ImageDataset:
    """Load a class-per-subfolder image collection from a folder or tar archive.

    Args:
        path: The folder or ``.tar``/``.tar.gz`` archive.
        name: Name given to the returned dataset.
        test_fraction: Share of each class held out as the test split when there is no ``test/`` folder.
        seed: Seed of the held-out split.
        cache: Reuse (and write) decoded arrays under ``cache_root``.
        cache_root: Cache folder; defaults to the per-user cache (``$XDG_CACHE_HOME/parsecnas``).

    Returns:
        The dataset, labels being the sorted index of the class folder.
    """
    source = Path(path).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"image folder {str(source)!r} does not exist; give a folder or a .tar.gz")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction}; valid values lie strictly between 0 and 1")
    root = Path(cache_root).expanduser() if cache_root is not None else None
    try:
        decoded = _load_cached(source, root) if cache else _decode_source(source)
    except ValueError as err:
        message = str(err)
        raise ValueError(message if str(source) in message else f"image folder {str(source)!r}: {message}") from None
    if decoded.has_test:
        train_mask = ~decoded.is_test
        train_idx, test_idx = np.flatnonzero(train_mask), np.flatnonzero(decoded.is_test)
    else:
        train_t, test_t = train_search_split(len(decoded.labels), 1.0 - test_fraction, seed, decoded.labels)
        train_idx, test_idx = train_t.numpy(), test_t.numpy()
    return ImageDataset.from_tensors(
        name,
        decoded.images[train_idx],
        decoded.labels[train_idx],
        decoded.images[test_idx],
        decoded.labels[test_idx],
        decoded.classes,
    )
