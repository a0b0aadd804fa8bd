"""The weight-sharing search loop: data -> supernet -> strategy steps -> run directory.

The loop owns the data, the network and the weight optimiser; the strategy owns its belief. Every epoch it logs
the derived architecture's held-out accuracy, the strategy's numbers, time and peak memory, then writes an
atomic checkpoint from which a killed search resumes to exactly the result of an uninterrupted one.

Any registered space works (``space: darts`` or ``nb201``). Where the space has a tabular benchmark
(NAS-Bench-201) and its table is installed, every epoch also logs the derived cell's benchmark test accuracy
(``table_test_accuracy``) and the run ends with ``benchmark_lookup.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from .config import check_finite, to_dict
from .data import ImageDataset, Loader, LoaderConfig, load_dataset, train_search_split
from .optim import WeightOptimConfig, WeightOptimizer
from .run import ProgressBar, Run, Timer, device_name, peak_rss_mb
from .run.divergence import check_finite_checkpoint, check_step_losses
from .run.resources import resolve_device
from .spaces import get_space
from .spaces.base import Space, TabulatedSpace
from .spaces.genotype import Genotype
from .strategies import (
    DartsConfig,
    GdasConfig,
    ParsecConfig,
    SnasConfig,
    WeightSharingStrategy,
    XnasConfig,
    create_strategy,
)
from .strategies.base import check_space
from .warm_start import warm_start

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataConfig:
    """Which data a search uses and how it is batched.

    Attributes:
        dataset: a name from ``parsecnas.data.list_datasets()``; the shipped default needs no download.
        data_dir: where dataset files live (else ``$PARSECNAS_DATA``, else the per-user cache).
        batch_size: examples per train batch and per search batch.
        search_fraction: share of the training set held out as the search split (PARSEC and DARTS: 0.5).
        cutout: cutout side on train batches (0: off).
        eval_examples: held-out search-split examples on which the derived architecture's accuracy is measured.
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
        if (self.num_cells is not None and self.num_cells < 1) or self.channels < 2 or self.channels % 2:
            raise ValueError(f"need num_cells >= 1 and an even channels >= 2; got {self.num_cells}, "
                             f"{self.channels}")


@dataclass(frozen=True)
class SearchConfig:
    """One weight-sharing search. Loadable from YAML and ``key.sub=value`` flags (``parsecnas.config``).

    Attributes:
        strategy: a registered strategy name; its settings are the field of the same name.
        epochs: passes over the train split (the cosine lr schedule spans them).
        steps_per_epoch: cap on steps per epoch (default: one pass over the train split).
        init_from: a search run directory whose learnt distribution warm-starts this one.
        channels_last: run convolutions in channels-last layout (much faster depthwise convs on CPU).
        device: ``auto`` (a GPU when present), ``cpu`` or ``cuda[:i]``.
    """

    strategy: str = "parsec"
    space: str = "darts"
    seed: int = 0
    epochs: int = 50
    steps_per_epoch: int | None = None
    init_from: str | None = None
    channels_last: bool = True
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    net: NetConfig = field(default_factory=NetConfig)
    weights: WeightOptimConfig = field(default_factory=WeightOptimConfig)
    parsec: ParsecConfig = field(default_factory=ParsecConfig)
    darts: DartsConfig = field(default_factory=DartsConfig)
    xnas: XnasConfig = field(default_factory=XnasConfig)
    gdas: GdasConfig = field(default_factory=GdasConfig)
    snas: SnasConfig = field(default_factory=SnasConfig)

    def __post_init__(self) -> None:
        check_finite(self)
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1 or unset, got {self.steps_per_epoch}")


@dataclass
class SearchResult:
    """What a search returns: the derived architecture, where its files are, and the per-epoch metrics."""

    architecture: Any
    run_dir: Path
    metrics: list[dict[str, Any]]
    strategy: WeightSharingStrategy


class EpochStats:
    """Per-epoch summary of step statistics: each key's mean over the steps that reported it (a key that only
    some steps report, e.g. ``search_nll`` after a warm-up, is not diluted), plus ``{key}_min`` for ``minima``."""

    def __init__(self, minima: tuple[str, ...] = ()) -> None:
        self.minima = minima
        self.totals: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.lowest: dict[str, float] = {}

    def add(self, stats: dict[str, float]) -> None:
        for key, value in stats.items():
            self.totals[key] = self.totals.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1
            if key in self.minima:
                self.lowest[key] = min(value, self.lowest.get(key, value))

    def summary(self) -> dict[str, float]:
        means = {key: total / self.counts[key] for key, total in self.totals.items()}
        return {**means, **{f"{key}_min": value for key, value in self.lowest.items()}}


@dataclass
class _Setup:
    space: Space
    dataset: ImageDataset
    train: Loader
    search: Loader
    held_out: Loader
    net: torch.nn.Module
    strategy: WeightSharingStrategy
    weights: WeightOptimizer
    device: torch.device
    benchmark: TableLookup


class TableLookup:
    """Looks architectures up in the space's tabular benchmark, when it has one and the table is installed.

    Returns ``None`` for spaces without a table; when the table file is missing it logs a note once and returns
    ``None`` from then on, so a search never fails for want of it.
    """

    def __init__(self, space: Space, dataset: str, data_dir: str | None) -> None:
        self.space: TabulatedSpace | None = space if isinstance(space, TabulatedSpace) else None
        self.dataset = dataset
        self.data_dir = data_dir

    def __call__(self, arch: Hashable) -> dict[str, Any] | None:
        if self.space is None:
            return None
        try:
            return self.space.lookup(arch, self.dataset, self.data_dir)
        except FileNotFoundError as error:
            _log.warning("skipping the %s benchmark lookup (table_test_accuracy, benchmark_lookup.json): %s",
                         self.space.name, error)
            self.space = None
            return None


def _setup(config: SearchConfig) -> _Setup:
    device = resolve_device(config.device)
    space = get_space(config.space)
    ds = load_dataset(config.data.dataset, config.data.data_dir)
    if config.data.image_size is not None:
        ds = ds.resized(config.data.image_size)
    train_idx, search_idx = train_search_split(len(ds.train_labels), 1 - config.data.search_fraction,
                                               seed=config.seed, labels=ds.train_labels)
    loader_cfg = LoaderConfig.for_training(ds, config.data.batch_size, config.data.cutout)
    train = Loader.from_dataset(ds, "train", train_idx, loader_cfg, device=device, seed=config.seed * 3 + 1)
    search = Loader.from_dataset(ds, "train", search_idx, loader_cfg, device=device, seed=config.seed * 3 + 2)
    held_out = Loader.from_dataset(ds, "train", held_out_indices(search_idx, config.data.eval_examples, config.seed),
                                   LoaderConfig.for_evaluation(256), device=device)
    with torch.random.fork_rng(devices=[]):  # deterministic init without disturbing the caller's RNG
        torch.manual_seed(config.seed)
        size = {} if config.net.num_cells is None else {"num_cells": config.net.num_cells}
        net = space.supernet(**size, channels=config.net.channels, num_classes=ds.num_classes,
                             in_channels=ds.in_channels, auxiliary=config.net.auxiliary,
                             auxiliary_weight=config.net.auxiliary_weight)
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    net = net.to(device, memory_format=layout)  # type: ignore[call-overload]
    strategy = create_strategy(config.strategy, space, _with_schedule(config, len(train)), config.seed)
    weights = WeightOptimizer(net.parameters(), config.weights, config.epochs)
    return _Setup(space, ds, train, search, held_out, net, strategy, weights, device,
                  TableLookup(space, config.data.dataset, config.data.data_dir))


@dataclass
class TrainedSupernet:
    """A search run's supernet with its trained shared weights, and the loader of its held-out examples."""

    space: Space
    net: torch.nn.Module
    held_out: Loader
    channels_last: bool

    def accuracy(self, arch: Any) -> float:
        """Held-out accuracy of ``arch`` with the shared weights (as ``mode_accuracy`` is measured)."""
        self.net.eval()
        return evaluate_architecture(self.net, arch, self.held_out, self.channels_last)


def load_trained_supernet(config: SearchConfig, run_dir: str | Path) -> TrainedSupernet:
    """Rebuilds the supernet of the search ``config`` ran in ``run_dir`` with the weights of its last checkpoint,
    e.g. to rank many architectures by shared-weight accuracy after a search (RSPS, ranking quality)."""
    state = Run(run_dir).load_checkpoint()
    if state is None:
        raise FileNotFoundError(f"{run_dir} holds no search checkpoint")
    s = _setup(config)
    s.net.load_state_dict(state["net"])
    return TrainedSupernet(s.space, s.net, s.held_out, config.channels_last)


def held_out_indices(search_indices: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """A seeded uniform subset of ``n`` search-split indices (sorted), on which the derived architecture's
    accuracy is measured. Random, not the first ``n``: datasets stored class by class (image folders, the CIFAR
    JPEG archive) would otherwise be measured on one class."""
    order = torch.randperm(len(search_indices), generator=torch.Generator().manual_seed(seed + 12345))
    return search_indices[order[:n]].sort().values


def _with_schedule(config: SearchConfig, batches_per_epoch: int) -> Any:
    """The strategy's config with its schedule fields (``epochs``, ``steps_per_epoch``), where it has them, set
    to the search's own, so temperature annealing, wipeout and op-set shrinking span the actual search."""
    strategy_config = getattr(config, config.strategy, None)
    if strategy_config is None:
        return None
    names = {f.name for f in fields(strategy_config)}
    schedule = {"epochs": config.epochs, "steps_per_epoch": config.steps_per_epoch or batches_per_epoch}
    return replace(strategy_config, **{k: v for k, v in schedule.items() if k in names})


def _layout(batch: tuple[torch.Tensor, torch.Tensor], channels_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch
    return (x.contiguous(memory_format=torch.channels_last) if channels_last else x), y


@torch.no_grad()
def evaluate_architecture(net: torch.nn.Module, arch: Any, loader: Loader, channels_last: bool = True) -> float:
    """Accuracy of ``arch`` with the shared weights over one pass of ``loader``.

    The supernet's batch norm always uses batch statistics (see docs/architecture.md), so this is measured in
    batches of the loader's size (256 for the held-out loader), a fixed-order pass over fixed examples.
    """
    correct = total = 0
    for batch in loader:
        x, y = _layout(batch, channels_last)
        correct += int((net(x, arch).argmax(1) == y).sum())
        total += y.numel()
    return correct / max(1, total)


def run_search(config: SearchConfig, run_dir: str | Path, *, resume: bool = False,
               progress: bool = True) -> SearchResult:
    """Runs (or resumes) a weight-sharing search and writes its outputs into ``run_dir``.

    Example:
        >>> from parsecnas.search import SearchConfig, NetConfig, run_search
        >>> cfg = SearchConfig(epochs=1, steps_per_epoch=2, net=NetConfig(num_cells=3, channels=4),
        ...                    parsec=ParsecConfig(samples=2))
        >>> result = run_search(cfg, "/tmp/parsecnas-doc-run", progress=False)  # doctest: +SKIP
    """
    check_space(config.strategy, get_space(config.space))  # before the run directory exists
    run = Run(run_dir)
    with run.lock(resume=resume):  # held until the search ends: a second process on run_dir is refused
        return _search(config, run, resume, progress)


def _search(config: SearchConfig, run: Run, resume: bool, progress: bool) -> SearchResult:
    s = _setup(config)
    if config.init_from:  # before the run is created: a warm start that cannot happen is an error, not a no-op
        warm_start(s.strategy, s.space, config.init_from)
    resuming = run.create(to_dict(config), resume=resume, defaults=to_dict(SearchConfig()))
    start_epoch, elapsed = 0, 0.0
    parts: dict[str, Callable[[Any], object]] = {
        "net": s.net.load_state_dict, "weights": s.weights.load_state_dict, "strategy": s.strategy.load_state_dict,
        "train_loader": s.train.load_state_dict, "search_loader": s.search.load_state_dict}
    state = run.restore(limit=config.epochs, parts=parts, numbers=("elapsed",)) if resuming else None
    if state is not None:
        start_epoch, elapsed = int(state["epoch"]), float(state["elapsed"])
    steps = config.steps_per_epoch or len(s.train)
    timer = Timer(offset=elapsed).start()
    with ProgressBar(total=(config.epochs - start_epoch) * steps, desc=config.strategy, enabled=progress) as bar:
        for epoch in range(start_epoch, config.epochs):
            s.net.train()
            means = EpochStats(s.strategy.min_metrics)
            for step in range(steps):
                stats = s.strategy.step(s.net, s.weights, _layout(s.train.next_batch(), config.channels_last),
                                        _layout(s.search.next_batch(), config.channels_last))
                check_step_losses(stats, run.path, epoch=epoch + 1, step=step + 1, last_good=epoch)
                means.add(stats)
                bar.update(1, epoch=f"{epoch + 1}/{config.epochs}", step=step + 1, loss=stats.get("loss", 0.0),
                           **{k: v for k, v in s.strategy.epoch_metrics().items() if k == "entropy"})
            s.weights.end_epoch()
            arch = s.strategy.derive()
            found = s.benchmark(arch)
            record = {"epoch": epoch + 1, "step": (epoch + 1) * steps,
                      "mode_accuracy": evaluate_architecture(s.net, arch, s.held_out, config.channels_last),
                      **({} if found is None else {"table_test_accuracy": found["test_accuracy"]}),
                      **means.summary(),
                      **s.strategy.epoch_metrics(), "lr": s.weights.lr,
                      "time_s": timer.elapsed, "peak_rss_mb": peak_rss_mb(),
                      "architecture": s.space.format(arch)}
            state = {"epoch": epoch + 1, "elapsed": timer.elapsed, "net": s.net.state_dict(),
                     "weights": s.weights.state_dict(), "strategy": s.strategy.state_dict(),
                     "train_loader": s.train.state_dict(), "search_loader": s.search.state_dict()}
            check_finite_checkpoint(state, run.path, epoch=epoch + 1, last_good=epoch)
            run.log(record)
            bar.write(f"epoch {epoch + 1}: mode accuracy {record['mode_accuracy']:.4f}"
                      + (f", entropy {record['entropy']:.2f}" if "entropy" in record else "")
                      + (f", table test accuracy {found['test_accuracy']:.2f}" if found else ""))
            run.save_checkpoint(state)
            if getattr(s.strategy, "should_stop", lambda: False)():  # DARTS+ early stopping
                break
    arch = s.strategy.derive()
    write_outputs(run, s, arch, timer.hours)
    return SearchResult(arch, run.path, run.metrics(), s.strategy)


def write_outputs(run: Run, s: _Setup, arch: Any, hours: float) -> None:
    """The derived architecture, the strategy's artefacts, the benchmark lookup, cell drawings and curves.

    A DARTS genotype goes to ``genotype.json`` / ``genotype.txt`` (and ``cell_*.png``); any other architecture to
    ``architecture.txt`` in the space's string form (``space.parse`` reads it back). Where the space has a
    benchmark table, ``benchmark_lookup.json`` holds the derived cell's record and the table's optimum.
    """
    if isinstance(arch, Genotype):
        run.write_text("genotype.json", s.space.format(arch) + "\n")
        run.write_text("genotype.txt", str(arch) + "\n")
    else:
        run.write_text("architecture.txt", s.space.format(arch) + "\n")
    for stem, obj in s.strategy.outputs().items():
        run.write_json(f"{stem}.json", obj)
    run.write_json("search_cost.json", {"device": device_name(s.device), "device_hours": hours})
    found = s.benchmark(arch)
    if found is not None:
        run.write_json("benchmark_lookup.json", {"space": s.space.name, **found})
    try:
        from .report import draw_genotype, plot_search_curves

        if isinstance(arch, Genotype):
            draw_genotype(arch, run.path_of("cell"))
        metrics = run.metrics()
        keys = tuple(k for k in ("mode_accuracy", "entropy") if any(k in r for r in metrics))  # what was logged
        plot_search_curves(metrics, run.path_of("curves.png"), keys=keys)
        if found is not None:
            plot_search_curves(run.metrics(), run.path_of("table_curve.png"),
                               keys=("table_test_accuracy", "mode_accuracy"))
        s.strategy.figures(run.path)
    except ImportError:  # plots need the `plot` extra; the numbers are all in the files above
        pass
