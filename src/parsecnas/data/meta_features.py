"""Meta-features of an image dataset, to find the datasets most like a new one (warm starts from a library).

:func:`meta_features` describes a training split by its size (examples, classes, image side, channels), its
class balance (normalised entropy of the label distribution, rarest / commonest class), its pixel statistics
(mean, standard deviation, and the spread across colour channels) and a small **random-feature embedding**: each
image is averaged over its channels, area-resized to 16 x 16, standardised (zero mean, unit variance per image),
projected by a fixed seeded Gaussian matrix and passed through ``cos(z + b)`` (random Fourier features of a
Gaussian kernel); the embedding is their mean over all images, so the distance between two embeddings estimates
the kernel's maximum mean discrepancy between the two image distributions.

Everything is computed over every training image (no sampling) with a generator of its own, so the features are
deterministic and do not depend on the order of the images, on repeating the whole set (apart from ``examples``),
on a nearest-neighbour upscaling by an integer factor that keeps the 16 x 16 grid aligned, nor, for the pixel
statistics and the embedding, on storing a grayscale image as three equal channels. The embedding is also
blind to each image's brightness and contrast, which the pixel statistics describe.

:func:`meta_distance` compares two feature sets term by term, each on a scale where 1 is a large difference
(:data:`SCALES`); the total is the Euclidean norm of the terms.

Example:
    >>> from parsecnas.data import load_dataset
    >>> f = meta_features(load_dataset("fashion-mnist-small"))
    >>> f["examples"], f["classes"], f["image_size"], f["channels"], len(f["embedding"])
    (6000, 10, 28, 1, 32)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from parsecnas.data.image_dataset import ImageDataset

__all__ = ["EMBEDDING_DIM", "SCALES", "meta_distance", "meta_features"]

EMBEDDING_DIM = 32
_GRID = 16
_CHUNK = 2048
_SEED = 20240917
SCALES = {"examples": 1.0, "classes": 1.0, "image_size": 1.0, "channels": 1.0, "class_entropy": 0.1,
          "class_ratio": 0.25, "pixel_mean": 0.1, "pixel_std": 0.05, "channel_spread": 0.05, "embedding": 1.0}
"""What a difference of 1 means in each term of :func:`meta_distance`: a factor of 10 in examples, of 2 in
classes and image side; 1 vs 3 channels; 0.1 in the class entropy and the pixel mean; 1 between embeddings
(MNIST to Fashion-MNIST: 1.2, Fashion-MNIST to CIFAR-10: 2.1, Fashion-MNIST to its 6000-image subset: 0.03)."""


def meta_features(dataset: ImageDataset) -> dict[str, Any]:
    """The meta-features of ``dataset``'s training split (see the module docstring), as plain JSON values."""
    images, labels = dataset.train_images, dataset.train_labels
    n, c, h, w = images.shape
    counts = torch.bincount(labels, minlength=dataset.num_classes).to(torch.float64)
    p = counts / counts.sum()
    entropy = float(-(p[p > 0] * p[p > 0].log()).sum() / math.log(len(p)))
    total = torch.zeros(3, dtype=torch.float64)  # sum, sum of squares, channel spread
    embedding = torch.zeros(EMBEDDING_DIM, dtype=torch.float64)
    weights, phases = _projection()
    for start in range(0, n, _CHUNK):
        x = images[start:start + _CHUNK].to(torch.float64) / 255.0
        total += torch.stack([x.sum() / c, (x * x).sum() / c, x.std(1, correction=0).sum() if c > 1 else
                              x.new_zeros(())])
        embedding += torch.cos(_grid_view(x) @ weights + phases).sum(0)
    pixels = n * h * w
    mean = float(total[0] / pixels)
    return {
        "examples": int(n), "classes": int(dataset.num_classes), "image_size": int(h), "channels": int(c),
        "class_entropy": entropy, "class_ratio": float(counts.min() / counts.max()),
        "pixel_mean": mean, "pixel_std": math.sqrt(max(float(total[1] / pixels) - mean * mean, 0.0)),
        "channel_spread": float(total[2] / pixels), "embedding": (embedding / n).tolist(),
    }


def _projection() -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed random projection (``_GRID**2 x EMBEDDING_DIM``, unit-variance projections of a standardised
    image) and phases, from a generator of their own."""
    gen = torch.Generator().manual_seed(_SEED)
    d = _GRID * _GRID
    weights = torch.randn(d, EMBEDDING_DIM, generator=gen, dtype=torch.float64) / math.sqrt(d)
    phases = torch.rand(EMBEDDING_DIM, generator=gen, dtype=torch.float64) * 2 * math.pi
    return weights, phases


def _grid_view(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` in [0, 1] to ``(B, 256)``: channel mean, area-resized to 16 x 16, standardised."""
    gray = x.mean(1, keepdim=True)
    if gray.shape[-1] >= _GRID and gray.shape[-2] >= _GRID:
        small = F.adaptive_avg_pool2d(gray, _GRID)
    else:
        small = F.interpolate(gray, size=(_GRID, _GRID), mode="bilinear", align_corners=False)
    flat = small.flatten(1)
    flat = flat - flat.mean(1, keepdim=True)
    return flat / flat.std(1, keepdim=True, correction=0).clamp(min=1e-6)


def meta_distance(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[float, dict[str, float]]:
    """The distance between two datasets' meta-features and its terms (each already divided by its scale in
    :data:`SCALES`): log ratios of sizes, differences of the rest, the Euclidean distance of the embeddings."""
    terms = {
        "examples": math.log10(a["examples"] / b["examples"]),
        "classes": math.log2(a["classes"] / b["classes"]),
        "image_size": math.log2(a["image_size"] / b["image_size"]),
        "channels": float(a["channels"] != b["channels"]),
        **{k: float(a[k]) - float(b[k]) for k in ("class_entropy", "class_ratio", "pixel_mean", "pixel_std",
                                                    "channel_spread")},
        "embedding": math.dist(a["embedding"], b["embedding"]),
    }
    scaled = {k: abs(v) / SCALES[k] for k, v in terms.items()}
    return math.sqrt(sum(v * v for v in scaled.values())), scaled
