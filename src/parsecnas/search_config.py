"""The configs of a weight-sharing search: data, network size, and the search itself with its strategy's
``settings`` (typed by the strategy's registered config). Re-exported by :mod:`parsecnas.search`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import check_choice, check_device, check_finite, check_min, fill_typed_fields, typed_by
from .data.registry import list_datasets
from .optim import WeightOptimConfig
from .run.tracking import tracking_names
from .spaces import list_spaces
from .strategies import list_strategies
from .strategies.base import strategy_config_type

__all__ = ["DataConfig", "NetConfig", "SearchConfig"]


@dataclass(frozen=True)
class DataConfig:
    """Which data a search uses and how it is batched.

    Attributes:
        dataset: a name from ``parsecnas.data.list_datasets()``; the shipped default needs no download.
        data_dir: where dataset files live (else ``$PARSECNAS_DATA``, else the per-user cache).
        batch_size: examples per train batch and per search batch.
        search_fraction: share of the training set held out as the search split (PARSEC and DARTS: 0.5).
        cutout: cutout side on train batches (0: off).
        eval_examples: examples set apart from the search split (at most a fifth of it), on which the derived
            architecture's accuracy (``mode_accuracy``) is measured: neither the weights nor the architecture
            parameters are fitted on them.
        image_size: search on images area-averaged to this side (e.g. 16 for CIFAR: 4x fewer pixels, a cheaper
            supernet step); ``None``: the dataset's own size. The architecture found is trained at full size.
    """

    dataset: str = "fashion-mnist-small"
    data_dir: str | None = None
    batch_size: int = 64
    search_fraction: float = 0.5
    cutout: int = 0
    eval_examples: int = 2000
    image_size: int | None = None

    def __post_init__(self) -> None:
        check_finite(self)
        check_choice("dataset", self.dataset, list_datasets())
        check_min(self, 0, "cutout")
        if self.image_size is not None and self.image_size < 8:
            raise ValueError(f"image_size must be >= 8 pixels or unset, got {self.image_size}")
        if not 0 < self.search_fraction < 1:
            raise ValueError(f"search_fraction must lie in (0, 1), got {self.search_fraction}")
        if self.batch_size < 1 or self.eval_examples < 1:
            raise ValueError(f"batch_size and eval_examples must be >= 1; got {self.batch_size}, "
                             f"{self.eval_examples}")


@dataclass(frozen=True)
class NetConfig:
    """The supernet's size. Fine-tuning on the evaluation configuration (PARSEC section 4.2) uses 20 cells,
    C = 36 and the auxiliary head (``configs/parsec-finetune.yaml``).

    Attributes:
        num_cells: ``None``: the space's default (DARTS: 8 cells in all; NB201: 5 cells per stage, as the
            benchmark's networks). Its meaning is the space's: NB201 counts cells per stage.
        channels: initial width C (16 for both spaces' search networks).
        auxiliary: an auxiliary head (DARTS space only).
        auxiliary_weight: weight of the auxiliary loss.
    """

    num_cells: int | None = None
    channels: int = 16
    auxiliary: bool = False
    auxiliary_weight: float = 0.4

    def __post_init__(self) -> None:
        check_finite(self)
        check_min(self, 0, "auxiliary_weight")
        if (self.num_cells is not None and self.num_cells < 1) or self.channels < 2 or self.channels % 2:
            raise ValueError(f"need num_cells >= 1 and an even channels >= 2; got {self.num_cells}, "
                             f"{self.channels}")


@dataclass(frozen=True)
class SearchConfig:
    """One weight-sharing search. Loadable from YAML and ``key.sub=value`` flags (``parsecnas.config``).

    Attributes:
        strategy: a registered strategy name (``parsecnas.strategies.list_strategies()``).
        space: a registered search space: ``darts`` or ``nb201`` (``parsecnas.spaces.list_spaces()``).
        seed: seeds the split, the loaders, the network's initial weights and the strategy's generator.
        settings: the strategy's own config (``ParsecConfig`` for ``parsec``, ``DartsConfig`` for ``darts``:
            the type registered with it); ``None`` takes its defaults. In YAML a mapping, in flags
            ``--settings.samples=8``. (The old one-section-per-strategy form, ``parsec:``, still loads, with
            a deprecation warning.)
        epochs: passes over the train split (the cosine lr schedule spans them).
        steps_per_epoch: cap on steps per epoch (default: one pass over the train split).
        init_from: a search run directory whose learnt distribution warm-starts this one, or ``auto``: the
            search(es) of the same space in ``library`` whose datasets are nearest this one in meta-feature space
            (:mod:`parsecnas.library`; the choice is printed and kept in ``warm_start.json``).
        library: the library of learnt distributions ``init_from: auto`` picks from (else ``$PARSECNAS_LIBRARY``).
        library_neighbours: how many of the nearest library entries ``auto`` mixes (1: the nearest alone).
        channels_last: run convolutions in channels-last layout (much faster depthwise convs on CPU).
        device: ``auto`` (a GPU when present), ``cpu`` or ``cuda[:i]``.
        tracking: mirrors of ``metrics.jsonl``, the record that stays the source of truth: any of ``csv``
            (``metrics.csv``), ``tensorboard`` (``tensorboard/``; the ``tensorboard`` extra) and ``mlflow``
            (``mlflow.db``; the ``mlflow`` extra), as a list or comma-separated (``--tracking=csv,tensorboard``).
    """

    strategy: str = "parsec"
    space: str = "darts"
    seed: int = 0
    epochs: int = 50
    steps_per_epoch: int | None = None
    init_from: str | None = None
    library: str | None = None
    library_neighbours: int = 1
    channels_last: bool = True
    device: str = "auto"
    tracking: tuple[str, ...] | str = ()
    data: DataConfig = field(default_factory=DataConfig)
    net: NetConfig = field(default_factory=NetConfig)
    weights: WeightOptimConfig = field(default_factory=WeightOptimConfig)
    settings: Any = field(default=None, metadata=typed_by("strategy", strategy_config_type, list_strategies))

    def __post_init__(self) -> None:
        check_finite(self)
        fill_typed_fields(self)  # settings: the strategy's config (an unknown strategy lists the valid ones)
        object.__setattr__(self, "tracking", tracking_names(self.tracking))
        check_choice("space", self.space, list_spaces())
        check_device(self.device)
        check_min(self, 0, "seed")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1 or unset, got {self.steps_per_epoch}")
        if self.library_neighbours < 1:
            raise ValueError(f"library_neighbours must be >= 1, got {self.library_neighbours}")


    if not TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any:
            if not name.startswith("_") and name in list_strategies():
                raise AttributeError(f"SearchConfig.{name} is gone: the chosen strategy's config is "
                                     f"SearchConfig.settings (strategy={self.strategy!r})")
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
