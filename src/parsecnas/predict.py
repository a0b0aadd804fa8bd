"""Class predictions for raw image files from a trained model, preprocessed as it was trained.

``model.pt`` (``parsecnas train``) records its input preprocessing: the dataset's per-channel mean and std, the
image side it trained at, the central crop of the ImageNet protocol, the number of channels and the class names.
:func:`predict` reads images of any size and mode, makes them look like the test images (grayscale or RGB,
the shorter side resized to the training side, the central square cut, normalised by the evaluation loader
itself) and returns the top classes with their softmax probabilities.

Example:
    >>> from parsecnas.predict import predict
    >>> predict("runs/train-x", ["cat.jpg"], top=3)  # doctest: +SKIP
    [{'image': 'cat.jpg', 'predictions': [{'class': 'cat', 'probability': 0.91}, ...]}]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .data import ImageDataset, Loader, LoaderConfig, load_dataset
from .evaluation import iter_logits
from .export import load_model, model_record

__all__ = ["Preprocess", "load_images", "predict"]


@dataclass(frozen=True)
class Preprocess:
    """The input a trained model expects.

    Attributes:
        mean: per-channel mean of the training images on the 0..1 scale.
        std: per-channel standard deviation on the 0..1 scale.
        image_size: side of the (square) images it trained on.
        crop_size: side of the central crop it was tested on (ImageNet protocol), 0 for none.
        in_channels: 1 (grayscale) or 3 (RGB).
        classes: class names; logit ``i`` is ``classes[i]``.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    image_size: int
    crop_size: int
    in_channels: int
    classes: tuple[str, ...]

    @classmethod
    def of(cls, dataset: ImageDataset, crop_size: int = 0) -> Preprocess:
        """The preprocessing of ``dataset``'s test images."""
        return cls(tuple(dataset.mean), tuple(dataset.std), dataset.image_size, int(crop_size or 0),
                   dataset.in_channels, tuple(dataset.classes))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any], data_dir: str | None = None) -> Preprocess:
        """From a model's training record; a model saved before records held it is given its dataset's."""
        stored = record.get("preprocess")
        if isinstance(stored, Mapping):
            return cls(tuple(stored["mean"]), tuple(stored["std"]), int(stored["image_size"]),
                       int(stored["crop_size"]), int(stored["in_channels"]), tuple(stored["classes"]))
        if not record.get("dataset"):
            raise ValueError("the model records neither its preprocessing nor its dataset; retrain it with this "
                             "version of parsecnas")
        return cls.of(load_dataset(str(record["dataset"]), data_dir), int(record.get("crop_size") or 0))


def load_images(paths: Sequence[str | Path], pre: Preprocess) -> torch.Tensor:
    """``(N, C, S, S)`` uint8 images: each converted to the model's channels, its shorter side resized to the
    training side ``S`` and the central square kept."""
    out = np.empty((len(paths), pre.image_size, pre.image_size, pre.in_channels), dtype=np.uint8)
    for i, path in enumerate(paths):
        if Path(path).exists() and not Path(path).is_file():  # a folder, a FIFO: opening it fails or blocks
            raise ValueError(f"image {path} is not a regular file; give image files (JPEG, PNG, ...)")
        try:
            with Image.open(path) as opened:
                out[i] = _training_view(opened, pre.image_size, pre.in_channels)
        except FileNotFoundError:
            raise FileNotFoundError(f"image {path} does not exist") from None
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"cannot read image {path}: {err}") from err
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _training_view(image: Image.Image, side: int, channels: int) -> np.ndarray:
    """``(side, side, channels)`` pixels: the mode converted, the shorter side resized to ``side``, the centre
    kept."""
    converted = image.convert("L" if channels == 1 else "RGB")
    scale = side / min(converted.size)
    w, h = max(side, round(converted.width * scale)), max(side, round(converted.height * scale))
    resized = converted.resize((w, h), Image.Resampling.BILINEAR)
    left, top = (w - side) // 2, (h - side) // 2
    return np.asarray(resized.crop((left, top, left + side, top + side))).reshape(side, side, channels)


def predict(model: str | Path, images: Sequence[str | Path], *, top: int = 5, batch_size: int = 64,
            data_dir: str | None = None) -> list[dict[str, Any]]:
    """The ``top`` classes of each image file with their probabilities, from ``model.pt`` (or a training run
    directory).

    Raises:
        ValueError: ``top`` < 1, no images, an image that cannot be decoded.
        FileNotFoundError: a missing model or image.
    """
    if top < 1:
        raise ValueError(f"top={top}: give the number of classes to report, >= 1")
    if not images:
        raise ValueError("give at least one image file")
    net = load_model(model)
    pre = Preprocess.from_record(model_record(model), data_dir)
    pixels = load_images(images, pre)
    loader = Loader(pixels, torch.zeros(len(images), dtype=torch.int64), pre.mean, pre.std,
                    LoaderConfig.for_evaluation(batch_size, pre.crop_size))
    probs = torch.cat([logits.float().softmax(1) for logits, _ in iter_logits(net, loader)])
    k = min(top, probs.shape[1])
    best = probs.topk(k, dim=1)
    names = pre.classes if len(pre.classes) == probs.shape[1] else tuple(str(c) for c in range(probs.shape[1]))
    return [{"image": str(path), "predictions": [{"class": names[int(c)], "probability": float(p)}
                                                 for p, c in zip(best.values[i], best.indices[i])]}
            for i, path in enumerate(images)]
