"""A DARTS evaluation network (a genotype and its :class:`~parsecnas.train.TrainConfig`) as a scalable network.

Depth is the number of cells, width the initial channels C, resolution the input side (``crop_size`` under the
ImageNet protocol, else ``image_size``: the stored images resampled). The rounding rules:

* **depth**: a DARTS stack of ``num_cells = 3m + 2`` cells has ``m`` normal cells in each of its three stages and
  its two reductions at 1/3 and 2/3 of the depth (the CIFAR network's 20 cells: m = 6; ImageNet's 14: m = 4). The
  multiplier scales ``m`` (rounded to the nearest, at least 1), so the scaled stack keeps that layout and every
  stage grows alike; a base whose cell count is not of that form is refused.
* **width**: C times the multiplier, to the nearest multiple of ``channel_divisor`` and never below 90% of it
  (EfficientNet's rule); the networks need an even C, so the divisor must be even.
* **resolution**: the side times the multiplier, to the nearest multiple of ``resolution_divisor`` (4 keeps both
  reductions of the CIFAR stack exact halvings).

A multiplier of exactly 1 leaves its axis as it is. Multiply-adds are counted by
:func:`~parsecnas.estimators.cost.count_multiply_adds` on the built network (no auxiliary head), so predicted and
actual growth can be compared.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..data import ImageDataset, load_dataset
from ..estimators.cost import count_multiply_adds, count_parameters
from ..nets import build_network
from ..spaces.genotype import Genotype, resolve_genotype
from ..train import TrainConfig, search_data, train_genotype
from .base import Dims, NetCost, Rounding, ScalableNet, register_scalable, round_to_multiple

__all__ = ["GenotypeNet", "stage_cells"]


def stage_cells(num_cells: int) -> int:
    """``m``, the normal cells per stage of a ``3m + 2``-cell DARTS stack (ValueError naming the valid counts)."""
    if num_cells < 5 or (num_cells - 2) % 3:
        below = max(5, num_cells - (num_cells - 2) % 3)
        raise ValueError(f"num_cells {num_cells} cannot be scaled in depth: a DARTS stack scales by its normal "
                         f"cells per stage m, with num_cells = 3m + 2 (5, 8, 11, 14, 17, 20, ...) so that the "
                         f"reductions stay at 1/3 and 2/3; the nearest: {below} or {below + 3}")
    return (num_cells - 2) // 3


class GenotypeNet(ScalableNet):
    """The evaluation network of ``genotype`` trained with ``config``, on the three axes.

    Args:
        genotype: the architecture.
        config: the base network (``num_cells``, ``channels``, ``image_size`` / ``crop_size``) and the recipe
            the scaled network trains with (a candidate's short training changes only the epochs).
        source: how the user named the genotype (for the printed ``parsecnas train`` command).
    """

    def __init__(self, genotype: Genotype, config: TrainConfig, source: str = "genotype.json") -> None:
        self.genotype, self.config, self.source = genotype, config, source
        self._data: ImageDataset | None = None
        self._costs: dict[Dims, NetCost] = {}

    def _dataset(self) -> ImageDataset:
        if self._data is None:
            self._data = load_dataset(self.config.dataset, self.config.data_dir)
        return self._data

    def base(self) -> Dims:
        c = self.config
        stage_cells(c.num_cells)
        return Dims(c.num_cells, c.channels, c.crop_size or c.image_size or self._dataset().image_size)

    def scaled(self, depth: float, width: float, resolution: float, rounding: Rounding) -> Dims:
        if rounding.channel_divisor % 2:
            raise ValueError(f"channel_divisor {rounding.channel_divisor}: DARTS networks need an even number of "
                             "channels; give an even divisor (2, 4, 8, ...)")
        base = self.base()
        m = stage_cells(base.depth)
        cells = base.depth if depth == 1 else 3 * max(1, math.floor(m * depth + 0.5)) + 2
        channels = base.width if width == 1 else round_to_multiple(base.width * width, rounding.channel_divisor)
        side = (base.resolution if resolution == 1
                else round_to_multiple(base.resolution * resolution, rounding.resolution_divisor))
        return Dims(cells, channels, side)

    def settings(self, dims: Dims) -> dict[str, Any]:
        side = {"crop_size": dims.resolution} if self.config.crop_size else {"image_size": dims.resolution}
        return {"num_cells": dims.depth, "channels": dims.width, **side}

    def cost(self, dims: Dims) -> NetCost:
        if dims not in self._costs:
            ds = self._dataset()
            net = build_network(self.genotype, self.config.setting, num_cells=dims.depth, channels=dims.width,
                                num_classes=ds.num_classes, in_channels=ds.in_channels, auxiliary=False)
            self._costs[dims] = NetCost(count_parameters(net),
                                        count_multiply_adds(net, (ds.in_channels, dims.resolution, dims.resolution)))
        return self._costs[dims]

    def train(self, dims: Dims, run_dir: Path, epochs: int, steps_per_epoch: int | None,
              resume: bool) -> dict[str, Any]:
        config = replace(self.config, epochs=epochs, steps_per_epoch=steps_per_epoch, validation="held_out",
                         tracking=(), **self.settings(dims))
        return train_genotype(self.genotype, config, run_dir, resume=resume, progress=False)

    def describe(self) -> dict[str, Any]:
        return {"genotype": self.genotype.to_dict()}

    def command(self, dims: Dims) -> str:
        """``parsecnas train SOURCE --key=value ...``: the recipe's fields that differ from the CIFAR protocol's
        defaults, with the scaled size."""
        config, default = replace(self.config, **self.settings(dims)), TrainConfig()
        flags = [f"--{name}={_flag_value(getattr(config, name))}" for name in config.__dataclass_fields__
                 if getattr(config, name) != getattr(default, name)]
        return " ".join(["parsecnas", "train", shlex.quote(self.source), *map(shlex.quote, flags)])


def _flag_value(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return value if isinstance(value, str) else repr(value)


def _factory(source: str, config: TrainConfig) -> GenotypeNet:
    return GenotypeNet(resolve_genotype(source), config, source)


register_scalable("genotype", _factory, TrainConfig, summary="a DARTS evaluation network: a genotype and its "
                  "TrainConfig (num_cells, channels, image_size)",
                  defaults=lambda source: replace(TrainConfig(), **search_data(source)))
