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
import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .config import ConfigError, from_dict, to_dict
from .data import ImageDataset, Loader, LoaderConfig, load_dataset, train_search_split
from .data.split import split_held_out as split_held_out  # re-exported: its old home
from .estimators.cost import count_parameters
from .estimators.tabular import table_record
from .evaluation import evaluate
from .library import warm_start_from_library
from .nets.seeded import seeded
from .optim import WeightOptimizer
from .run import ProgressBar, Run, Timer, device_name, peak_rss_mb
from .run.distributed import Distributed, from_env
from .run.divergence import check_finite_checkpoint, check_step_losses
from .run.resources import resolve_device
from .run.tracking import check_trackers
from .search_config import DataConfig, NetConfig, SearchConfig
from .spaces import get_space
from .spaces.base import Space
from .strategies import WeightSharingStrategy, create_strategy
from .strategies.base import Scheduled, check_space
from .warm_start import load_distribution as load_distribution  # re-exported: its old home
from .warm_start import warm_start

__all__ = ["DataConfig", "EpochStats", "NetConfig", "SearchConfig", "SearchResult", "TableLookup", "TrainedSupernet",
           "evaluate_architecture", "load_distribution", "load_trained_supernet", "run_search", "split_held_out",
           "start_summary", "write_outputs"]

_log = logging.getLogger(__name__)


@dataclass
class SearchResult:
    """What a search returns: the derived architecture, where its files are, and the per-epoch metrics."""

    architecture: Any
    run_dir: Path
    metrics: list[dict[str, Any]]
    strategy: WeightSharingStrategy
    space: Space


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
    settings: Any
    """The strategy's settings as it runs them (its schedule laid over the search)."""
    dist: Distributed
    """This process's rank: only rank 0 evaluates, writes and shows progress."""


class TableLookup:
    """Looks architectures up in the space's tabular benchmark, when it has one and the table is installed.

    Returns ``None`` for spaces without a table; when the table file is missing it logs a note once and returns
    ``None`` from then on, so a search never fails for want of it.
    """

    def __init__(self, space: Space, dataset: str, data_dir: str | None) -> None:
        self.space_name = space.name
        self.record = table_record(space.name)
        self.dataset = dataset
        self.data_dir = data_dir

    def __call__(self, arch: Hashable) -> dict[str, Any] | None:
        if self.record is None:
            return None
        try:
            return self.record(arch, self.dataset, self.data_dir)
        except FileNotFoundError as error:
            _log.warning("skipping the %s benchmark lookup (table_test_accuracy, benchmark_lookup.json): %s",
                         self.space_name, error)
            self.record = None
            return None


def _setup(config: SearchConfig, dist: Distributed | None = None) -> _Setup:
    dist = dist or Distributed()
    device = dist.place(resolve_device(config.device))
    space = get_space(config.space)
    ds = dist.main_first(lambda: load_dataset(config.data.dataset, config.data.data_dir))  # rank 0 caches it
    if config.data.image_size is not None:
        ds = ds.resized(config.data.image_size)
    train_idx, search_idx = train_search_split(len(ds.train_labels), 1 - config.data.search_fraction,
                                               seed=config.seed, labels=ds.train_labels)
    loader_cfg = LoaderConfig.for_training(ds, config.data.batch_size, config.data.cutout)
    train = Loader.from_dataset(ds, "train", train_idx, loader_cfg, device=device, seed=config.seed * 3 + 1)
    held_idx, search_idx = split_held_out(search_idx, config.data.eval_examples, config.seed)
    search = Loader.from_dataset(ds, "train", search_idx, loader_cfg, device=device, seed=config.seed * 3 + 2)
    held_out = Loader.from_dataset(ds, "train", held_idx, LoaderConfig.for_evaluation(256), device=device)
    size = {} if config.net.num_cells is None else {"num_cells": config.net.num_cells}
    net = seeded(config.seed, lambda: space.supernet(
        **size, channels=config.net.channels, num_classes=ds.num_classes, in_channels=ds.in_channels,
        auxiliary=config.net.auxiliary, auxiliary_weight=config.net.auxiliary_weight))
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    net = net.to(device, memory_format=layout)  # type: ignore[call-overload]
    settings = _with_schedule(config, len(train))
    strategy = create_strategy(config.strategy, space, settings, config.seed)
    strategy.distribute(dist)
    if strategy.shards_batches:  # data-parallel: each rank its share of every batch
        train.set_shard(dist.rank, dist.world_size)
        search.set_shard(dist.rank, dist.world_size)
    weights = WeightOptimizer(net.parameters(), config.weights, config.epochs, dist)
    return _Setup(space, ds, train, search, held_out, net, strategy, weights, device,
                  TableLookup(space, config.data.dataset, config.data.data_dir), settings, dist)


@dataclass
class TrainedSupernet:
    """A search run's supernet with its trained shared weights, and the loaders of its held-out examples and of
    its weight-training split (e.g. to recalibrate batch norm for one sub-network)."""

    space: Space
    net: torch.nn.Module
    held_out: Loader
    channels_last: bool
    train: Loader | None = None

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
    return TrainedSupernet(s.space, s.net, s.held_out, config.channels_last, s.train)


def _with_schedule(config: SearchConfig, batches_per_epoch: int) -> Any:
    """The strategy's settings laid out over the search (a :class:`~parsecnas.strategies.base.Scheduled`
    config), so temperature annealing, wipeout and op-set shrinking span the actual search."""
    settings = config.settings
    if not isinstance(settings, Scheduled):
        return settings
    return settings.with_schedule(config.epochs, config.steps_per_epoch or batches_per_epoch)


def _layout(batch: tuple[torch.Tensor, torch.Tensor], channels_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch
    return (x.contiguous(memory_format=torch.channels_last) if channels_last else x), y


def evaluate_architecture(net: torch.nn.Module, arch: Any, loader: Loader, channels_last: bool = True) -> float:
    """Top-1 accuracy of ``arch`` with the shared weights over one pass of ``loader`` (the one evaluation loop,
    :func:`parsecnas.evaluation.evaluate`). The supernet's batch norm always uses batch statistics (see
    docs/architecture.md), so this is measured in batches of the loader's size (256 for the held-out loader)."""
    return evaluate(net, loader, channels_last, arch=arch)["top1"]


def run_search(config: SearchConfig, run_dir: str | Path, *, resume: bool = False,
               progress: bool = True, distributed: Distributed | None = None) -> SearchResult:
    """Runs (or resumes) a weight-sharing search and writes its outputs into ``run_dir``.

    Everything that can refuse the config (space, strategy, data, ``init_from``) runs before the run
    directory is made. Resuming a finished run (all epochs, or stopped early by the strategy) runs nothing
    and returns its result.

    Launched by ``torchrun`` (or with ``distributed`` given), every rank runs the search and the strategy
    spreads its work over them (:meth:`~parsecnas.strategies.base.WeightSharingStrategy.distribute`); rank 0
    alone locks and writes ``run_dir`` and shows progress; every rank returns the same result. The checkpoint
    does not depend on the number of ranks, so a run resumes with any.

    Example:
        >>> from parsecnas.search import SearchConfig, NetConfig, run_search
        >>> from parsecnas.strategies import ParsecConfig
        >>> cfg = SearchConfig(epochs=1, steps_per_epoch=2, net=NetConfig(num_cells=3, channels=4),
        ...                    settings=ParsecConfig(samples=2))
        >>> result = run_search(cfg, "/tmp/parsecnas-doc-run", progress=False)  # doctest: +SKIP
    """
    check_space(config.strategy, get_space(config.space))  # before the run directory exists
    dist = distributed or from_env(resolve_device(config.device))
    check_trackers(config.tracking)
    run = Run(run_dir)
    with dist.main_context(lambda: run.lock(resume=resume)):  # held until the search ends, by rank 0
        s = _setup(config, dist)
        choice = None  # before the run is created: a warm start that cannot happen is an error, not a no-op
        if config.init_from == "auto":
            choice = warm_start_from_library(s.strategy, s.space, s.dataset, config.library,
                                             config.library_neighbours)
        elif config.init_from:
            warm_start(s.strategy, s.space, config.init_from)
        defaults = to_dict(SearchConfig(strategy=config.strategy))
        ran = to_dict(replace(config, settings=s.settings))  # what runs, the strategy's schedule included
        created = dist.on_main(lambda: run.create(ran, resume=resume, defaults=defaults,
                                                  upgrade=lambda st: _upgraded(st, len(s.train))))
        state = run.restore(limit=config.epochs, parts=_parts(s), numbers=("elapsed",),
                            cut_log=dist.is_main) if created else None
        done = _Progress() if state is None else _Progress(int(state["epoch"]), float(state["elapsed"]),
                                                           bool(state.get("finished", False)))
        timer = Timer(offset=done.elapsed).start()
        if choice is not None and dist.is_main:
            run.write_json("warm_start.json", choice.to_dict())
        if progress and dist.is_main and not done.finished:
            print(start_summary(config, s, run.path, done.epoch), flush=True)
            if choice is not None:
                print(choice.describe(), flush=True)
        if not done.finished:
            with run.tracking(config.tracking):  # mirrors of metrics.jsonl (csv, tensorboard, mlflow)
                done = _search(config, run, s, done.epoch, timer, progress and dist.is_main)
        arch = s.strategy.derive()
        if dist.is_main and not (state is not None and state.get("finished")
                                 and run.path_of("search_cost.json").is_file()):
            write_outputs(run, s, arch, timer.hours)
        dist.barrier()  # every rank returns the metrics rank 0 finished writing
        return SearchResult(arch, run.path, run.metrics(), s.strategy, s.space)


def start_summary(config: SearchConfig, s: _Setup, run_dir: Path, start_epoch: int = 0) -> str:
    """What a search is about to run, in a few lines: data and splits, network, steps, strategy, device, run."""
    ds, steps = s.dataset, config.steps_per_epoch or len(s.train)
    schedule = set(s.settings.schedule_fields) if isinstance(s.settings, Scheduled) else set()
    settings = ", ".join(f"{k}={v!r}" for k, v in to_dict(s.settings).items() if v is not None and k not in schedule)
    layers = getattr(s.net, "cells", None)
    cells = config.net.num_cells or (len(layers) if isinstance(layers, torch.nn.ModuleList) else "the default")
    rows = [
        ("data", f"{ds.name}: {ds.num_classes} classes, {ds.in_channels}x{ds.image_size}x{ds.image_size} images; "
                 f"{s.train.num_examples} weight-training / {s.search.num_examples} search / "
                 f"{s.held_out.num_examples} held-out examples"),
        ("supernet", f"{s.space.name} space, {cells} cells, C = {config.net.channels}, "
                     f"{count_parameters(s.net) / 1e6:.3f}M parameters"),
        ("steps", f"{config.epochs} epochs x {steps} steps = {config.epochs * steps:,}, batch "
                  f"{config.data.batch_size}" + (f" (resuming after epoch {start_epoch})" if start_epoch else "")),
        ("strategy", f"{config.strategy}" + (f": {settings}" if settings else "")),
        ("device", device_name(s.device)),
        ("run", f"{run_dir} (resume with --resume --run-dir {run_dir})"),
    ]
    return "\n".join(f"  {name:<9}{text}" for name, text in rows)


def _upgraded(stored: dict[str, Any], batches_per_epoch: int) -> dict[str, Any]:
    """A stored search config in the current shape (older runs kept one section per strategy and stored the
    strategy's schedule as given, not as it ran), or as it is when it does not load."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            config = from_dict(SearchConfig, stored)
        except ConfigError:
            return stored
    return to_dict(replace(config, settings=_with_schedule(config, batches_per_epoch)))


@dataclass(frozen=True)
class _Progress:
    epoch: int = 0
    elapsed: float = 0.0
    finished: bool = False


def _parts(s: _Setup) -> dict[str, Callable[[Any], object]]:
    """What a checkpoint holds, by entry, with the function that loads each (the one list of the state)."""
    return {"net": s.net.load_state_dict, "weights": s.weights.load_state_dict,
            "strategy": s.strategy.load_state_dict, "train_loader": s.train.load_state_dict,
            "search_loader": s.search.load_state_dict}


def _state(s: _Setup) -> dict[str, Any]:
    return {"net": s.net.state_dict(), "weights": s.weights.state_dict(), "strategy": s.strategy.state_dict(),
            "train_loader": s.train.state_dict(), "search_loader": s.search.state_dict()}


def _search(config: SearchConfig, run: Run, s: _Setup, start_epoch: int, timer: Timer, progress: bool) -> _Progress:
    """Epochs ``start_epoch + 1 ..`` until the last or the strategy's ``should_stop``; a checkpoint after each."""
    steps = config.steps_per_epoch or len(s.train)
    with ProgressBar(total=(config.epochs - start_epoch) * steps, desc=config.strategy, enabled=progress) as bar:
        for epoch in range(start_epoch, config.epochs):
            means = _epoch(config, run, s, steps, bar, epoch)
            finished = epoch + 1 == config.epochs or s.strategy.should_stop()
            state = {"epoch": epoch + 1, "elapsed": timer.elapsed, "finished": finished, **_state(s)}
            check_finite_checkpoint(state, run.path, epoch=epoch + 1, last_good=epoch)
            if s.dist.is_main:  # the other ranks hold the same state and write nothing
                record = _record(config, s, means, epoch + 1, steps, timer)
                run.log(record)
                bar.write(f"epoch {epoch + 1}: mode accuracy {record['mode_accuracy']:.4f}"
                          + (f", entropy {record['entropy']:.2f}" if "entropy" in record else "")
                          + (f", table test accuracy {record['table_test_accuracy']:.2f}"
                             if "table_test_accuracy" in record else ""))
                run.save_checkpoint(state)
            if finished:
                return _Progress(epoch + 1, timer.elapsed, True)
    return _Progress(config.epochs, timer.elapsed, True)


def _epoch(config: SearchConfig, run: Run, s: _Setup, steps: int, bar: ProgressBar, epoch: int) -> EpochStats:
    """One epoch of strategy steps; the per-epoch summary of their statistics. A non-finite loss stops it."""
    s.net.train()
    means = EpochStats(s.strategy.min_metrics)
    for step in range(steps):
        stats = s.dist.mean_stats(s.strategy.step(s.net, s.weights, _layout(s.train.next_batch(), config.channels_last),
                                                  _layout(s.search.next_batch(), config.channels_last)))
        check_step_losses(stats, run.path, epoch=epoch + 1, step=step + 1, last_good=epoch)
        means.add(stats)
        bar.update(1, epoch=f"{epoch + 1}/{config.epochs}", step=step + 1, loss=stats.get("loss", 0.0),
                   **s.strategy.progress_metrics())
    s.weights.end_epoch()
    return means


def _record(config: SearchConfig, s: _Setup, means: EpochStats, epoch: int, steps: int, timer: Timer
            ) -> dict[str, Any]:
    """The metrics line of an epoch: the derived architecture's held-out (and table) accuracy, step means,
    the strategy's numbers, time and memory."""
    arch = s.strategy.derive()
    found = s.benchmark(arch)
    return {"epoch": epoch, "step": epoch * steps,
            "mode_accuracy": evaluate_architecture(s.net, arch, s.held_out, config.channels_last),
            **({} if found is None else {"table_test_accuracy": found["test_accuracy"]}),
            **means.summary(), **s.strategy.epoch_metrics(), "lr": s.weights.lr,
            "time_s": timer.elapsed, "peak_rss_mb": peak_rss_mb(), "architecture": s.space.to_plain(arch)}


def write_outputs(run: Run, s: _Setup, arch: Any, hours: float) -> None:
    """The derived architecture (the space's :meth:`~parsecnas.spaces.base.Space.files`, e.g.
    ``genotype.json`` or ``architecture.txt``), the strategy's artefacts, the benchmark lookup, drawings and
    curves. Where the space has a benchmark table, ``benchmark_lookup.json`` holds the derived cell's record.
    """
    for name, text in s.space.files(arch).items():
        run.write_text(name, text)
    for stem, obj in s.strategy.outputs().items():
        run.write_json(f"{stem}.json", obj)
    found = s.benchmark(arch)
    if found is not None:
        run.write_json("benchmark_lookup.json", {"space": s.space.name, **found})
    try:
        from .report import plot_search_curves

        s.space.draw(arch, run.path_of("cell"))
        metrics = run.metrics()
        keys = tuple(k for k in ("mode_accuracy", "entropy") if any(k in r for r in metrics))  # what was logged
        plot_search_curves(metrics, run.path_of("curves.png"), keys=keys, title="search")
        panel = tuple(k for k in ("loss", "ess") if any(k in r for r in metrics))  # ess: PARSEC's weights
        if panel:
            plot_search_curves(metrics, run.path_of("loss.png"), keys=panel,
                               title="training loss" + (" and effective sample size" if "ess" in panel else ""))
        if found is not None:
            plot_search_curves(metrics, run.path_of("table_curve.png"), keys=("table_test_accuracy", "mode_accuracy"))
        s.strategy.figures(run.path)
    except ImportError as err:  # plots need the `plot` extra; the numbers are all in the files above
        _log.warning("no figures written to %s (%s); the numbers are all in its JSON files", run.path, err)
    run.write_json("search_cost.json", {"device": device_name(s.device), "device_hours": hours})  # written last
