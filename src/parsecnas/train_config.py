"""The settings of one from-scratch training run (:class:`TrainConfig`) and the two DARTS protocols.

``cifar`` is the :class:`TrainConfig` defaults (20 cells, C = 36, batch 96, SGD 0.025 cosine, 600 epochs, cutout
16, drop path, auxiliary 0.4) and ``imagenet`` is :meth:`TrainConfig.imagenet` (14 cells, C = 48, batch 128, SGD
0.1 decayed by 0.97 per epoch, label smoothing 0.1, 250 epochs), both as in the DARTS and PARSEC papers.

Example:
    >>> TrainConfig(epochs=2, steps_per_epoch=10).lr
    0.025
    >>> protocol_config("imagenet").channels
    48
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from .config import ConfigError, check_choice, check_device, check_finite, check_min, to_dict
from .data import list_datasets
from .data.autoaugment import check_policy
from .optim import check_sgd_settings
from .run.tracking import tracking_names

__all__ = ["LR_SCHEDULES", "PROTOCOLS", "SETTINGS", "TrainConfig", "protocol_config"]

PROTOCOLS = ("cifar", "imagenet")
SETTINGS = ("cifar10", "imagenet")
LR_SCHEDULES = ("cosine", "exponential")


@dataclass(frozen=True)
class TrainConfig:
    """One from-scratch training run. The defaults are the DARTS CIFAR protocol.

    Attributes:
        dataset: a name from ``parsecnas.data.list_datasets()`` (``image-folder`` with ``data_dir`` for ImageNet).
        setting: network layout, ``cifar10`` (3x3 stem at full resolution) or ``imagenet`` (two stride-2 stems).
        steps_per_epoch: cap on steps per epoch (default: one pass over the training set).
        lr_schedule: ``cosine`` (to ``lr_min`` over ``epochs``) or ``exponential`` (times ``lr_decay`` per epoch).
        label_smoothing: target smoothing of the cross-entropy (ImageNet protocol: 0.1).
        drop_path: final drop-path probability, reached linearly over training (DARTS 0.2; the PARSEC paper 0.4).
        amp: mixed precision (bfloat16, or float16 with loss scaling where bfloat16 is unsupported); ``None``:
            on when the device is a GPU.
        compile: run the network's forward through ``torch.compile``.
        channels_last: channels-last memory layout (faster convolutions on CPU and on tensor cores).
        image_size: train and test on images resampled to this side (area-averaged when shrinking, bilinear
            when enlarging; ``parsecnas scale`` sets it to scale a network in resolution); ``None``: the
            stored size.
        crop_size: 0: padded random crops at the stored size (CIFAR). Otherwise (ImageNet protocol: 224)
            training takes random-resized crops (area 8-100%, aspect 3/4-4/3) resized to this side, and testing
            the central 87.5% of each image resized to it.
        color_jitter: brightness/contrast/saturation jitter ``[1 - j, 1 + j]`` and hue ``[-j/2, j/2]`` on RGB
            training images (ImageNet protocol: 0.4); 0: off.
        validation: what the accuracy logged after every epoch is measured on: ``held_out`` (``val_accuracy``:
            ``val_examples`` seeded random training images set apart and never trained on), ``test``
            (``test_accuracy``: the test set, as the DARTS code does; the whole training set trains) or ``off``.
        val_examples: training images set apart for ``held_out`` validation (at most a fifth of them).
        augment: an augmentation policy on top of crop, flip and cutout: ``none``, ``randaugment``
            (``augment_n`` operations per image at magnitude ``augment_m``) or ``trivialaugment`` (one operation
            at a random magnitude; the wide ranges); see :mod:`parsecnas.data.autoaugment`.
        augment_n: RandAugment's N, operations applied to each image.
        augment_m: RandAugment's M, the magnitude bin in ``0..30`` (9 as in the RandAugment paper's CIFAR runs).
        tracking: mirrors of ``metrics.jsonl``, the record that stays the source of truth: any of ``csv``
            (``metrics.csv``), ``tensorboard`` (``tensorboard/``; the ``tensorboard`` extra) and ``mlflow``
            (``mlflow.db``; the ``mlflow`` extra), as a list or comma-separated (``--tracking=csv,tensorboard``).
    """

    dataset: str = "cifar10"
    data_dir: str | None = None
    setting: str = "cifar10"
    num_cells: int = 20
    channels: int = 36
    epochs: int = 600
    steps_per_epoch: int | None = None
    batch_size: int = 96
    lr: float = 0.025
    lr_schedule: str = "cosine"
    lr_min: float = 0.0
    lr_decay: float = 0.97
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    label_smoothing: float = 0.0
    cutout: int = 16
    drop_path: float = 0.2
    auxiliary_weight: float = 0.4
    seed: int = 0
    device: str = "auto"
    channels_last: bool = True
    amp: bool | None = None
    compile: bool = False
    eval_batch_size: int = 256
    image_size: int | None = None
    crop_size: int = 0
    color_jitter: float = 0.0
    validation: Literal["held_out", "test", "off"] = "held_out"
    val_examples: int = 5000
    augment: str = "none"
    augment_n: int = 2
    augment_m: int = 9
    tracking: tuple[str, ...] | str = ()

    def __post_init__(self) -> None:
        check_finite(self)
        object.__setattr__(self, "tracking", tracking_names(self.tracking))
        check_policy(self.augment, self.augment_n, self.augment_m, ("augment", "augment_n", "augment_m"))
        if self.val_examples < 1:
            raise ValueError(f"val_examples must be >= 1, got {self.val_examples}")
        check_choice("dataset", self.dataset, list_datasets())
        check_choice("setting", self.setting, SETTINGS)
        check_device(self.device)
        check_min(self, 0, "seed", "cutout")
        check_min(self, 1, "num_cells")
        if self.channels < 2 or self.channels % 2:
            raise ValueError(f"channels must be an even number >= 2, got {self.channels}")
        if self.image_size is not None and self.image_size < 8:
            raise ValueError(f"image_size must be an image side >= 8 or unset, got {self.image_size}")
        if self.crop_size and self.crop_size < 8:
            raise ValueError(f"crop_size must be 0 (padded crops) or an image side >= 8, got {self.crop_size}")
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError(f"epochs, batch_size and eval_batch_size must be >= 1; got {self.epochs}, "
                             f"{self.batch_size}, {self.eval_batch_size}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1 or unset, got {self.steps_per_epoch}")
        if not 0 <= self.drop_path < 1:
            raise ValueError(f"drop_path must lie in [0, 1), got {self.drop_path}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.auxiliary_weight < 0 or self.color_jitter < 0:
            raise ValueError(f"need auxiliary_weight >= 0 and color_jitter >= 0; got {self.auxiliary_weight}, "
                             f"{self.color_jitter}")
        check_sgd_settings(self.lr, self.momentum, self.weight_decay, self.grad_clip, self.lr_min)
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; valid: {', '.join(LR_SCHEDULES)}")
        if self.crop_size < 0:
            raise ValueError(f"crop_size must be 0 (padded crops) or an image side, got {self.crop_size}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must lie in (0, 1], got {self.lr_decay}")

    @classmethod
    def imagenet(cls, **overrides: Any) -> TrainConfig:
        """The DARTS ImageNet (mobile) protocol: 14 cells, C = 48, batch 128, SGD lr 0.1 times 0.97 per epoch,
        weight decay 3e-5, label smoothing 0.1, auxiliary 0.4, no cutout or drop path, 250 epochs, 224-pixel
        random-resized crops and colour jitter 0.4 (central crops for testing)."""
        base = cls(dataset="image-folder", setting="imagenet", num_cells=14, channels=48, epochs=250,
                   batch_size=128, lr=0.1, lr_schedule="exponential", lr_decay=0.97, weight_decay=3e-5,
                   label_smoothing=0.1, cutout=0, drop_path=0.0, crop_size=224,
                   color_jitter=0.4)
        return replace(base, **overrides)


_STORED_DEFAULTS = {**to_dict(TrainConfig()), "validation": "off"}
"""What a run stored before a field existed ran with: before ``validation``, the whole training set trained and
no per-epoch accuracy was measured, so resuming such a run needs ``validation=off`` to stay exact."""


def protocol_config(name: str) -> TrainConfig:
    """The default :class:`TrainConfig` of a protocol (``cifar`` or ``imagenet``)."""
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; valid: {', '.join(PROTOCOLS)}")
    return TrainConfig.imagenet() if name == "imagenet" else TrainConfig()
