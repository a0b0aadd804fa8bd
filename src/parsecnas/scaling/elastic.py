"""An extracted elastic (Once-for-All) sub-network as a scalable network (``kind: elastic``).

The base is an :class:`~parsecnas.spaces.elastic_arch.ElasticArch` (its string form, or a finished ``--space ofa``
search run directory: its ``architecture.txt``); the scaled networks are standalone
:class:`~parsecnas.nets.elastic.MobileSubnet` networks made by :meth:`ElasticArch.scaled`, sizes past the space's
choices allowed, trained from scratch. The three axes and their rounding:

* **depth** (``Dims.depth``: the blocks run, over all stages): every stage's depth times the multiplier, rounded
  to the nearest (halves up), at least 1, so that the stages grow alike; a stage deeper than its slots repeats
  its last active block. Each stage's depth is non-decreasing in the multiplier, so the total names one tuple of
  depths (:meth:`ElasticNet.depths`).
* **width** (``Dims.width``: the stem's channels, ``round(channels * width multiplier)``): the stem's channels
  times the multiplier, to the nearest multiple of ``channel_divisor`` and never below 90% of it (EfficientNet's
  rule); the architecture's width multiplier becomes that width over ``channels``, and every layer follows it
  (each stage's and the head's channels, rounded to the nearest).
* **resolution** (``Dims.resolution``): the architecture's input side times the multiplier, to the nearest
  multiple of ``resolution_divisor``.

A multiplier of exactly 1 leaves its axis as it is. Costs are counted on the built network with
:func:`~parsecnas.estimators.cost.count_parameters` and :func:`~parsecnas.estimators.cost.count_multiply_adds`.
A candidate trains with :class:`~parsecnas.estimators.training.PartialTraining` (SGD, cosine, from scratch) and
is scored on a seeded, class-stratified share of the *training* set; its ``result.json`` is written atomically
at the end, so a resumed search skips it (a candidate cut off mid-training starts again: its budget is short).

Example:
    >>> net = ElasticNet(ElasticArch.parse("r24-w1.0|d2:k3e3,k5e4|d1:k3e6"), SubnetConfig(channels=8))
    >>> net.base()
    Dims(depth=3, width=8, resolution=24)
    >>> net.scaled(2.0, 1.5, 1.2, Rounding()), net.depths(6)
    (Dims(depth=6, width=12, resolution=28), (4, 2))
    >>> str(net.architecture(net.scaled(2.0, 1.5, 1.2, Rounding())))
    'r28-w1.5|d4:k3e3,k5e4,k5e4,k5e4|d2:k3e6,k3e6'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import check_finite
from ..data import ImageDataset
from ..estimators.cost import count_multiply_adds, count_parameters
from ..estimators.training import PartialTraining, PartialTrainingConfig
from ..nets.elastic import STAGE_WIDTHS, ElasticSpec, MobileSubnet
from ..nets.elastic_ops import scaled_width
from ..run import Run
from ..spaces.elastic_arch import ElasticArch
from ..spaces.ofa import OfaSpace
from .base import Dims, NetCost, Rounding, ScalableNet, register_scalable, round_to_multiple

__all__ = ["ElasticNet", "SubnetConfig", "resolve_subnet"]


@dataclass(frozen=True)
class SubnetConfig:
    """The scaled sub-networks' channels and the short training that scores them.

    Attributes:
        dataset: a name from ``parsecnas.data.list_datasets()``.
        data_dir: where dataset files live (else ``$PARSECNAS_DATA``, else the per-user cache).
        channels: the stem's width at width multiplier 1.0 (the elastic network's C; stage widths follow).
        epochs: epochs of a candidate's training (the search passes its ``search_epochs``).
        steps_per_epoch: cap on steps per epoch (``None``: one pass over the training part).
        batch_size: examples per training batch.
        lr: SGD's initial learning rate (cosine to 0 over the run).
        valid_fraction: share of the training set held out for ``val_accuracy`` (never trained on).
        valid_examples: at most this many of them are scored (a seeded subset).
        seed: seeds the split, the loader and the initial weights.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    """

    dataset: str = "fashion-mnist-small"
    data_dir: str | None = None
    channels: int = 16
    epochs: int = 1
    steps_per_epoch: int | None = None
    batch_size: int = 64
    lr: float = 0.025
    valid_fraction: float = 0.2
    valid_examples: int = 2000
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        check_finite(self)
        if self.channels < 1 or self.epochs < 1:
            raise ValueError(f"need channels >= 1 and epochs >= 1; got {self.channels}, {self.epochs}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1 or unset, got {self.steps_per_epoch}")
        self.training()  # the shared fields (lr, batch size, split) are checked where they are used

    def training(self, epochs: int | None = None, steps_per_epoch: int | None = None) -> PartialTrainingConfig:
        """The :class:`PartialTrainingConfig` of a candidate's training (this config's budget unless given)."""
        return PartialTrainingConfig(
            dataset=self.dataset, data_dir=self.data_dir, net={"channels": self.channels},
            epochs=float(epochs or self.epochs), steps_per_epoch=steps_per_epoch or self.steps_per_epoch,
            batch_size=self.batch_size, lr=self.lr, valid_fraction=self.valid_fraction,
            valid_examples=self.valid_examples, seed=self.seed, device=self.device)


def resolve_subnet(source: str | Path) -> ElasticArch:
    """The sub-network ``source`` names: an :class:`ElasticArch` string form, or a finished ``--space ofa`` search
    run directory (its ``architecture.txt``). ValueError, one line, for anything else."""
    path = Path(source)
    if path.is_dir():
        arch_file = path / "architecture.txt"
        if not arch_file.is_file():
            raise ValueError(f"{str(source)!r} holds no architecture.txt: give a finished --space ofa search run "
                             "directory or a sub-network's string form ('r32-w1.0|d4:k3e6,...|d2:...')")
        return ElasticArch.parse(arch_file.read_text(encoding="utf-8"))
    return ElasticArch.parse(str(source))


class ElasticNet(ScalableNet):
    """Sub-network ``arch`` built with ``config.channels`` and trained with ``config``, on the three axes.

    Args:
        arch: the base sub-network.
        config: its channels and the candidates' training.
        source: how the user named it (recorded by :meth:`describe`).
    """

    def __init__(self, arch: ElasticArch, config: SubnetConfig, source: str = "") -> None:
        self.arch, self.config, self.source = arch, config, source or str(arch)
        self._estimators: dict[int | None, PartialTraining] = {}
        self._costs: dict[Dims, NetCost] = {}

    def base(self) -> Dims:
        if len(self.arch.depths) > len(STAGE_WIDTHS):
            raise ValueError(f"{self.arch} has {len(self.arch.depths)} stages; elastic networks have at most "
                             f"{len(STAGE_WIDTHS)}")
        return Dims(self.arch.total_depth, scaled_width(self.config.channels, self.arch.width), self.arch.resolution)

    def _stage_depths(self, multiplier: float) -> tuple[int, ...]:
        return tuple(max(1, math.floor(d * multiplier + 0.5)) for d in self.arch.depths)

    def depths(self, total: int) -> tuple[int, ...]:
        """The per-stage depths of the scaled network running ``total`` blocks (ValueError naming the totals the
        depth rule reaches near it)."""
        if total == self.arch.total_depth:
            return self.arch.depths
        # each stage's depth steps up at multipliers (k - 1/2) / d; between two steps the depths are constant
        steps = sorted({(k - 0.5) / d for d in self.arch.depths for k in range(1, total + 2)})
        probes = [steps[0] / 2, *((a + b) / 2 for a, b in zip(steps, steps[1:])), steps[-1] + 1]
        reached = {sum(ds): ds for ds in map(self._stage_depths, probes)}
        if total not in reached:
            near = sorted(reached, key=lambda t: (abs(t - total), t))[:2]
            raise ValueError(f"depth {total} is not reachable from {self.arch.depths} by scaling every stage's "
                             f"depth alike; the nearest totals: {', '.join(map(str, sorted(near)))}")
        return reached[total]

    def scaled(self, depth: float, width: float, resolution: float, rounding: Rounding) -> Dims:
        base = self.base()
        blocks = base.depth if depth == 1 else sum(self._stage_depths(depth))
        stem = base.width if width == 1 else round_to_multiple(base.width * width, rounding.channel_divisor)
        side = (base.resolution if resolution == 1
                else round_to_multiple(base.resolution * resolution, rounding.resolution_divisor))
        return Dims(blocks, stem, side)

    def architecture(self, dims: Dims) -> ElasticArch:
        """The sub-network of size ``dims``: the base with those depths, that stem width and that input side."""
        width = self.arch.width if dims.width == self.base().width else dims.width / self.config.channels
        return self.arch.scaled(resolution=dims.resolution, width=width, depths=self.depths(dims.depth))

    def _build(self, arch: ElasticArch, dataset: ImageDataset) -> MobileSubnet:
        spec = ElasticSpec(stages=len(arch.depths), channels=self.config.channels, max_depth=max(arch.depths),
                           num_classes=dataset.num_classes, in_channels=dataset.in_channels)
        return MobileSubnet(arch, spec)

    def _estimator(self, steps_per_epoch: int | None = None) -> PartialTraining:
        if steps_per_epoch not in self._estimators:
            space = OfaSpace(stages=len(self.arch.depths))  # the space the sub-networks come from (not built by it)
            self._estimators[steps_per_epoch] = PartialTraining(space, self.config.training(
                steps_per_epoch=steps_per_epoch))
        return self._estimators[steps_per_epoch]

    def cost(self, dims: Dims) -> NetCost:
        if dims not in self._costs:
            dataset = self._estimator(self.config.steps_per_epoch).dataset
            net = self._build(self.architecture(dims), dataset)
            self._costs[dims] = NetCost(count_parameters(net), count_multiply_adds(
                net, (dataset.in_channels, dims.resolution, dims.resolution)))
        return self._costs[dims]

    def train(self, dims: Dims, run_dir: Path, epochs: int, steps_per_epoch: int | None,
              resume: bool) -> dict[str, Any]:
        """Trains the sub-network of size ``dims`` from scratch (a resumed candidate starts again) and writes
        ``result.json``: ``val_accuracy`` on held-out training images, steps, seconds, parameters."""
        arch = self.architecture(dims)
        estimator = self._estimator(steps_per_epoch)
        trained = estimator.fit(lambda: self._build(arch, estimator.dataset), arch, epochs)
        result = {"val_accuracy": trained.score, "architecture": str(arch), "epochs": epochs,
                  "steps": trained.steps, "seconds": trained.seconds, "params_m": trained.params_m,
                  **self.settings(dims)}
        Run(run_dir).write_json("result.json", result)
        return result

    def settings(self, dims: Dims) -> dict[str, Any]:
        arch = self.architecture(dims)
        return {"architecture": str(arch), "depths": list(arch.depths), "width_multiplier": arch.width}

    def describe(self) -> dict[str, Any]:
        return {"architecture": str(self.arch), "channels": self.config.channels}


def _factory(source: str, config: SubnetConfig) -> ElasticNet:
    return ElasticNet(resolve_subnet(source), config, source)


def _defaults(source: str) -> SubnetConfig:
    """The dataset, data folder and channels of the ofa search run ``source`` names, if it is one."""
    path = Path(source)
    if not (path.is_dir() and (path / "config.yaml").is_file()):
        return SubnetConfig()
    stored = Run(path).config()
    data, net = stored.get("data") or {}, stored.get("net") or {}
    fields: dict[str, Any] = {}
    if isinstance(data.get("dataset"), str):
        fields["dataset"] = data["dataset"]
    if data.get("data_dir"):
        fields["data_dir"] = data["data_dir"]
    if isinstance(net.get("channels"), int):
        fields["channels"] = net["channels"]
    return replace(SubnetConfig(), **fields)


register_scalable("elastic", _factory, SubnetConfig, summary="an elastic (OFA) sub-network: an ElasticArch string "
                  "or ofa search run, and its SubnetConfig (channels, dataset, training)", defaults=_defaults)
