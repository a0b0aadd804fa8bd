"""An in-memory batch loader: one uint8 tensor per split on the device, augmented a batch at a time.

Per batch the loader gathers uint8 images, applies random crop (zero padding, in pixel space) and horizontal
flip, normalises with the dataset's mean and std, then applies cutout (zeros in normalised space, as DARTS
does).
All random draws come from one CPU ``torch.Generator`` owned by the loader, seeded from ``seed``, so a loader
yields the same batches on every device, and :meth:`Loader.state_dict` resumes exactly, even mid-epoch.

Sharded over the ranks of a distributed run (:meth:`Loader.set_shard`), every rank draws the same order and the
same augmentation numbers for the whole batch, then gathers and augments only its contiguous share of it: the
ranks' shares of a batch are exactly the batch a single process would see, each example comes once per epoch
across ranks, and the loader's state (order, generator, position) does not depend on the number of ranks, so a
run resumes with any.

Example:
    >>> from parsecnas.data import Loader, LoaderConfig, load_dataset
    >>> ds = load_dataset("fashion-mnist-small")
    >>> loader = Loader.from_dataset(ds, "train", config=LoaderConfig(batch_size=256, crop_padding=2), seed=0)
    >>> images, labels = next(iter(loader))
    >>> images.shape, images.dtype, labels.dtype
    (torch.Size([256, 1, 28, 28]), torch.float32, torch.int64)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from parsecnas.config import check_finite
from parsecnas.data.augment import (
    center_crop_resize,
    color_jitter,
    crop_boxes,
    crop_flip,
    cutout_mask,
    resized_crop,
)
from parsecnas.data.autoaugment import (
    check_policy,
    draw_randaugment,
    draw_trivialaugment,
    rand_augment,
    trivial_augment,
)
from parsecnas.data.image_dataset import ImageDataset
from parsecnas.run.distributed import Distributed

__all__ = ["Loader", "LoaderConfig"]

_NO_FLIP = frozenset({"mnist", "svhn"})


@dataclass(frozen=True)
class LoaderConfig:
    """How a :class:`Loader` batches and augments.

    Attributes:
        batch_size: Examples per batch.
        shuffle: Draw a new order every epoch; otherwise keep the stored order.
        drop_last: Skip the final incomplete batch of an epoch.
        crop_padding: Zero border for random crops (4 for 32px CIFAR in DARTS); 0 disables cropping.
        flip: Random horizontal flips with probability 1/2.
        cutout: Side of the cutout square (16 in DARTS); 0 disables cutout.
        resized_crop: Output side of a random-resized crop (ImageNet protocol: 224) that replaces the padded
            crop; 0 disables it.
        center_crop: Output side of the central 87.5% of each image, resized (ImageNet evaluation); 0 disables.
        color_jitter: Brightness, contrast and saturation factors drawn from ``[1 - j, 1 + j]`` and a hue shift
            from ``[-j / 2, j / 2]`` (DARTS ImageNet: 0.4); RGB only; 0 disables.
        policy: ``randaugment`` (``policy_ops`` operations per image at magnitude ``policy_magnitude``),
            ``trivialaugment`` (one operation at a random magnitude) or ``none``; applied to the uint8 images
            after crop and flip, before normalisation (see :mod:`parsecnas.data.autoaugment`).
        policy_ops: RandAugment's N.
        policy_magnitude: RandAugment's M, a bin in ``0..30``.
    """

    batch_size: int = 64
    shuffle: bool = True
    drop_last: bool = False
    crop_padding: int = 0
    flip: bool = False
    cutout: int = 0
    resized_crop: int = 0
    center_crop: int = 0
    color_jitter: float = 0.0
    policy: str = "none"
    policy_ops: int = 2
    policy_magnitude: int = 9

    def __post_init__(self) -> None:
        check_finite(self)
        if self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size}; it must be at least 1")
        if self.crop_padding < 0:
            raise ValueError(f"crop_padding={self.crop_padding}; it must be 0 (off) or positive")
        if self.cutout < 0:
            raise ValueError(f"cutout={self.cutout}; it must be 0 (off) or positive")
        if self.resized_crop < 0 or self.center_crop < 0:
            raise ValueError(f"resized_crop={self.resized_crop}, center_crop={self.center_crop}; each must be "
                             "0 (off) or an output side")
        if not 0 <= self.color_jitter < 1:
            raise ValueError(f"color_jitter={self.color_jitter}; it must lie in [0, 1)")
        check_policy(self.policy, self.policy_ops, self.policy_magnitude)
        if self.resized_crop and (self.crop_padding or self.center_crop):
            raise ValueError("resized_crop replaces crop_padding and center_crop; set those to 0")

    @classmethod
    def for_training(cls, dataset: ImageDataset, batch_size: int = 64, cutout: int = 0,
                     resized_crop: int = 0, color_jitter: float = 0.0, policy: str = "none", policy_ops: int = 2,
                     policy_magnitude: int = 9) -> LoaderConfig:
        """Usual training augmentation: crop padding ``image_size // 8`` (or, with ``resized_crop``, a
        random-resized crop to that side); flips unless the data are digits; colour jitter on RGB data only;
        an optional RandAugment / TrivialAugment ``policy``."""
        side = resized_crop or dataset.image_size
        if cutout > side:
            raise ValueError(f"cutout {cutout} is larger than the {side}x{side} training images of "
                             f"{dataset.name!r}; valid: 0 (off) .. {side}")
        padding = 0 if resized_crop else max(1, dataset.image_size // 8)
        jitter = color_jitter if dataset.in_channels == 3 else 0.0
        return cls(batch_size, True, False, padding, dataset.name not in _NO_FLIP, cutout, resized_crop,
                   color_jitter=jitter, policy=policy, policy_ops=policy_ops, policy_magnitude=policy_magnitude)

    @classmethod
    def for_evaluation(cls, batch_size: int = 256, center_crop: int = 0) -> LoaderConfig:
        """Fixed order, every example, no augmentation (optionally the central crop resized to
        ``center_crop``)."""
        return cls(batch_size=batch_size, shuffle=False, center_crop=center_crop)


class Loader:
    """Iterate over a split held in memory as batches of (normalised float32 images, int64 labels).

    ``for images, labels in loader`` runs the rest of the current epoch; :meth:`next_batch` never stops and
    rolls over epochs, for search algorithms that alternate between a weight loader and an architecture
    loader.

    Args:
        images: ``(N, C, H, W)`` uint8.
        labels: ``(N,)`` integer labels.
        mean: Per-channel mean on the 0..1 scale.
        std: Per-channel standard deviation on the 0..1 scale.
        config: Batching and augmentation; default: batches of 64, shuffled, no augmentation.
        device: Where batches live; defaults to the device of ``images``.
        seed: Seed of the loader's generator (order and augmentation).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        mean: Sequence[float],
        std: Sequence[float],
        config: LoaderConfig | None = None,
        *,
        device: torch.device | str | None = None,
        seed: int = 0,
    ) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be (N, C, H, W) uint8, got {images.dtype} {tuple(images.shape)}")
        if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        channels = images.shape[1]
        if len(mean) != channels or len(std) != channels or min(std) <= 0:
            raise ValueError(f"mean {tuple(mean)} and std {tuple(std)} need {channels} values, std positive")
        self.config = config if config is not None else LoaderConfig()
        self.device = torch.device(device) if device is not None else images.device
        self.seed = int(seed)
        self.images = images.to(self.device).contiguous()
        self.labels = labels.to(self.device, torch.int64)
        std_t = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, channels, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, channels, 1, 1)
        self._scale = 1.0 / (255.0 * std_t)
        self._shift = -mean_t / std_t
        if len(self) == 0:
            raise ValueError(
                f"{self.num_examples} examples with batch_size={self.config.batch_size} and drop_last=True "
                "give no batch; lower batch_size or set drop_last=False"
            )
        self._generator = torch.Generator().manual_seed(self.seed)
        self._epoch = 0
        self._position = 0
        self._order: torch.Tensor | None = None
        self._epoch_rng_state: torch.Tensor | None = None
        self._shard = Distributed()

    def set_shard(self, rank: int, world_size: int) -> None:
        """From the next batch on, yield only rank ``rank``'s contiguous share of each batch of ``world_size``
        shares (see the module's docstring); ``(0, 1)``: whole batches.

        Raises:
            ValueError: some batch would leave a rank fewer than two examples (batch norm needs two).
        """
        shard = Distributed(rank, world_size)
        smallest = min(self.config.batch_size, self.num_examples % self.config.batch_size or self.config.batch_size)
        if world_size > 1 and smallest < 2 * world_size:
            raise ValueError(f"a batch of {smallest} examples split over {world_size} ranks leaves a rank fewer "
                             f"than 2 (batch_size={self.config.batch_size}, {self.num_examples} examples); pick a "
                             "batch size (and, for the last batch, a split size) of at least 2 per rank")
        self._shard = shard

    @classmethod
    def from_dataset(
        cls,
        dataset: ImageDataset,
        split: str = "train",
        indices: torch.Tensor | Sequence[int] | None = None,
        config: LoaderConfig | None = None,
        *,
        device: torch.device | str | None = None,
        seed: int = 0,
    ) -> Loader:
        """A loader over ``dataset``'s ``"train"`` or ``"test"`` split, optionally only its ``indices``."""
        images, labels = dataset.split(split)
        if indices is not None:
            index = torch.as_tensor(indices, dtype=torch.int64)
            images, labels = images[index], labels[index]
        return cls(images, labels, dataset.mean, dataset.std, config, device=device, seed=seed)

    @property
    def num_examples(self) -> int:
        """Examples in the split."""
        return int(self.images.shape[0])

    @property
    def epoch(self) -> int:
        """Completed epochs."""
        return self._epoch

    @property
    def position(self) -> int:
        """Batches already produced in the current epoch."""
        return self._position

    def __len__(self) -> int:
        """Batches per epoch."""
        full, rest = divmod(self.num_examples, self.config.batch_size)
        return full if self.config.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The remaining batches of the current epoch (all of them when it has not started)."""
        for _ in range(len(self) - self._position):
            yield self.next_batch()

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch, starting a new epoch (with a new order) after the last batch of one."""
        if self._order is None:
            self._start_epoch()
        assert self._order is not None
        start = self._position * self.config.batch_size
        index = self._order[start : start + self.config.batch_size]
        batch = self._make_batch(index)
        self._position += 1
        if self._position == len(self):
            self._epoch += 1
            self._position = 0
            self._order = None
            self._epoch_rng_state = None
        return batch

    def _start_epoch(self) -> None:
        self._epoch_rng_state = self._generator.get_state()
        if self.config.shuffle:
            order = torch.randperm(self.num_examples, generator=self._generator)
        else:
            order = torch.arange(self.num_examples)
        self._order = order.to(self.device)

    def _make_batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch of ``index``, or this rank's share of it: random numbers are drawn for the whole batch
        (``b`` rows) and cut to the share's ``rows``, so the shares of all ranks make up the whole batch."""
        cfg, gen, b = self.config, self._generator, len(index)
        span = self._shard.shard(b)
        rows, index = slice(span.start, span.stop), index[span.start: span.stop]
        images = self.images.index_select(0, index)
        if cfg.resized_crop:
            return self._resized_batch(images, b, rows), self.labels.index_select(0, index)
        offsets = flips = None
        if cfg.crop_padding:
            offsets = torch.randint(0, 2 * cfg.crop_padding + 1, (b, 2), generator=gen)[rows]
        if cfg.flip:
            flips = (torch.rand(b, generator=gen) < 0.5)[rows]
        if offsets is not None or flips is not None:
            images = crop_flip(images, cfg.crop_padding, offsets, flips)
        floats = self._normalized(images, b, rows)
        if cfg.center_crop:
            floats = center_crop_resize(floats, cfg.center_crop)
        return self._cutout(floats, b, rows), self.labels.index_select(0, index)

    def _resized_batch(self, images: torch.Tensor, b: int, rows: slice) -> torch.Tensor:
        _, _, h, w = images.shape
        boxes = crop_boxes(b, h, w, self._generator)[rows]
        flips = (torch.rand(b, generator=self._generator) < 0.5)[rows] if self.config.flip else None
        floats = self._normalized(images, b, rows)
        return self._cutout(resized_crop(floats, boxes, self.config.resized_crop, flips), b, rows)

    def _policy(self, images: torch.Tensor, b: int, rows: slice) -> torch.Tensor:
        cfg, gen = self.config, self._generator
        if cfg.policy == "randaugment":
            ops, signs = draw_randaugment(b, cfg.policy_ops, gen)
            return rand_augment(images, ops[rows], signs[rows], cfg.policy_magnitude)
        if cfg.policy == "trivialaugment":
            ops, bins, signs = draw_trivialaugment(b, gen)
            return trivial_augment(images, ops[rows], bins[rows], signs[rows])
        return images

    def _normalized(self, images: torch.Tensor, b: int, rows: slice) -> torch.Tensor:
        """uint8 to normalised float32, after the augmentation policy and colour jitter (in ``[0, 1]``) when the
        config asks for them."""
        images = self._policy(images, b, rows)
        j = self.config.color_jitter
        if not j:
            return images.to(torch.float32).mul_(self._scale).add_(self._shift)
        if images.shape[1] != 3:
            raise ValueError(f"color_jitter needs RGB images; these have {images.shape[1]} channels")
        gen = self._generator
        factors = torch.cat([torch.empty(b, 3).uniform_(1 - j, 1 + j, generator=gen),
                             torch.empty(b, 1).uniform_(-j / 2, j / 2, generator=gen)], dim=1)[rows]
        jittered = color_jitter(images.to(torch.float32).div_(255.0), factors)
        return jittered.mul_(self._scale * 255.0).add_(self._shift)

    def _cutout(self, floats: torch.Tensor, b: int, rows: slice) -> torch.Tensor:
        if not self.config.cutout:
            return floats
        _, _, h, w = floats.shape
        gen = self._generator
        centers = torch.stack([torch.randint(0, h, (b,), generator=gen), torch.randint(0, w, (b,), generator=gen)],
                              dim=1)[rows]
        return floats.mul_(cutout_mask(floats.shape, self.config.cutout, centers.to(self.device)))

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this loader is: generator states, epoch, position."""
        return {
            "epoch": self._epoch,
            "position": self._position,
            "rng_state": self._generator.get_state(),
            "epoch_rng_state": self._epoch_rng_state,
            "num_examples": self.num_examples,
            "batch_size": self.config.batch_size,
            "shuffle": self.config.shuffle,
            "drop_last": self.config.drop_last,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of a loader over the same data and batching."""
        for key, mine in (
            ("num_examples", self.num_examples),
            ("batch_size", self.config.batch_size),
            ("shuffle", self.config.shuffle),
            ("drop_last", self.config.drop_last),
        ):
            if state[key] != mine:
                raise ValueError(f"state has {key}={state[key]!r} but this loader has {key}={mine!r}")
        for key, top in (("position", len(self) - 1), ("epoch", None)):
            value = state[key]
            if type(value) is not int or value < 0 or (top is not None and value > top):
                valid = f"0..{top}" if top is not None else "an integer >= 0"
                raise ValueError(f"state {key} {value!r} is out of range; valid: {valid}")
        self._epoch = int(state["epoch"])
        self._position = int(state["position"])
        self._order = None
        self._epoch_rng_state = None
        if state["epoch_rng_state"] is not None:
            self._generator.set_state(state["epoch_rng_state"])
            self._start_epoch()
        self._generator.set_state(state["rng_state"])

    def __repr__(self) -> str:
        return (
            f"Loader(num_examples={self.num_examples}, batches={len(self)}, device={self.device}, "
            f"seed={self.seed}, config={self.config})"
        )
