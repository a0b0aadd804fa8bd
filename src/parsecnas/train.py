"""Training an architecture from scratch with the DARTS protocols (the settings: :mod:`parsecnas.train_config`).

Two protocols, both as in the DARTS and PARSEC papers: ``cifar`` (the :class:`TrainConfig` defaults: 20 cells,
C = 36, batch 96, SGD 0.025 cosine, 600 epochs, cutout 16, drop path, auxiliary 0.4) and ``imagenet``
(:meth:`TrainConfig.imagenet`: 14 cells, C = 48, batch 128, SGD 0.1 decayed by 0.97 per epoch, label smoothing
0.1, 250 epochs). Each run writes ``result.json`` (top-1/top-5 test error, parameters, multiply-adds, training
time, and the search cost of the run the genotype came from) and ``model.pt`` (see :mod:`parsecnas.export`);
a killed run resumes from its per-epoch checkpoint to the same result.

Under ``torchrun`` the network trains with ``DistributedDataParallel``: each rank takes its share of every batch
of ``batch_size`` examples (the loader is sharded, each example once per epoch across ranks), so the global
batch, the learning-rate schedule and the steps per epoch are those of one process. Batch norm stays plain
(each rank normalises by its own share's statistics; ``DistributedDataParallel`` keeps rank 0's running
statistics on every rank); see docs/architecture.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .config import to_dict
from .data import ImageDataset, Loader, LoaderConfig, load_dataset
from .data.split import split_held_out
from .estimators.cost import count_multiply_adds, count_parameters
from .evaluation import autocast, autocast_dtype, evaluate, resolve_device, to_layout
from .evaluation import iter_logits as iter_logits  # re-exported: their old home
from .evaluation import topk_accuracy as topk_accuracy
from .export import save_model
from .nets import EvalNetwork, build_network, seeded
from .predict import Preprocess
from .report.table import summarize as summarize  # re-exported: its old home
from .run import ProgressBar, Run, Timer, device_name, peak_rss_mb
from .run.distributed import Distributed, from_env
from .run.divergence import check_finite_checkpoint, check_step_losses
from .run.tracking import check_trackers
from .spaces.genotype import Genotype, genotype_path, published_genotypes, resolve_genotype
from .train_config import _STORED_DEFAULTS, PROTOCOLS, TrainConfig, protocol_config

__all__ = ["PROTOCOLS", "TrainConfig", "evaluation_loader", "protocol_config", "search_data", "search_provenance",
           "train_genotype", "training_loss"]

def evaluation_loader(ds: ImageDataset, config: TrainConfig, device: torch.device, split: str = "test",
                      indices: torch.Tensor | None = None) -> Loader:
    """The test split of ``ds`` (or ``indices`` of another ``split``) in its stored order (never shuffled, so
    every network sees the same examples in the same order), batched and (ImageNet protocol) centre-cropped as
    ``config`` says."""
    return Loader.from_dataset(ds, split, indices, LoaderConfig.for_evaluation(config.eval_batch_size,
                                                                               config.crop_size), device=device)


def training_loss(logits: torch.Tensor, aux: torch.Tensor | None, y: torch.Tensor, auxiliary_weight: float,
                  label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of the logits plus ``auxiliary_weight`` times that of the auxiliary logits (if any)."""
    loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
    if aux is not None:
        loss = loss + auxiliary_weight * F.cross_entropy(aux.float(), y, label_smoothing=label_smoothing)
    return loss


def search_provenance(spec: str | Path | Genotype) -> dict[str, Any]:
    """Where a genotype came from, for the results table: its name, the search method and the search's cost.

    A search run directory (or a ``genotype.json`` inside one) gives the strategy of its ``config.yaml`` and the
    device-hours of its ``search_cost.json``; a published name gives ``published``; anything else, unknown.
    """
    if isinstance(spec, Genotype):
        return {"architecture": "genotype", "search_method": None, "search_cost": None}
    text = str(spec)
    if text in published_genotypes():
        return {"architecture": text, "search_method": "published", "search_cost": None}
    path = genotype_path(text)
    run_dir = None if path is None else path if path.is_dir() else path.parent if path.is_file() else None
    if path is None or run_dir is None or not (run_dir / "search_cost.json").is_file():
        return {"architecture": path.stem if path is not None and path.is_file() else "genotype", "search_method": None,
                "search_cost": None}
    run = Run(run_dir)
    config = run.config() if (run_dir / "config.yaml").is_file() else {}
    return {"architecture": run_dir.resolve().name, "search_method": config.get("strategy"),
            "search_cost": run.read_json("search_cost.json")}


def search_data(spec: str | Path | Genotype) -> dict[str, Any]:
    """The dataset (and data folder) of the search run ``spec`` names (a run directory or a ``genotype.json`` in
    one), as ``TrainConfig`` fields, so that ``parsecnas train RUN_DIR`` trains on the data it searched on;
    ``{}`` for anything else."""
    path = genotype_path(spec)
    if path is None:
        return {}
    run_dir = path if path.is_dir() else path.parent
    if not (run_dir / "config.yaml").is_file():
        return {}
    data = Run(run_dir).config().get("data")
    if not isinstance(data, dict) or not isinstance(data.get("dataset"), str):
        return {}
    return {"dataset": data["dataset"], **({"data_dir": data["data_dir"]} if data.get("data_dir") else {})}


def _build(genotype: Genotype, config: TrainConfig, num_classes: int, in_channels: int) -> EvalNetwork:
    return seeded(config.seed, lambda: build_network(
        genotype, config.setting, num_cells=config.num_cells, channels=config.channels, num_classes=num_classes,
        in_channels=in_channels, auxiliary=config.auxiliary_weight > 0))


def _scheduler(sgd: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    if config.lr_schedule == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(sgd, gamma=config.lr_decay)
    return torch.optim.lr_scheduler.CosineAnnealingLR(sgd, config.epochs, eta_min=config.lr_min)


EpochHook = Callable[[dict[str, Any]], None]
"""Sees each epoch's ``metrics.jsonl`` record on rank 0 once its checkpoint is written (for logging and for a
tuner's pruning: an exception it raises, such as ``optuna.TrialPruned``, ends the run there, resumable)."""


def train_genotype(
    genotype: Genotype | str | Path, config: TrainConfig, run_dir: str | Path, *, resume: bool = False,
    progress: bool = True, distributed: Distributed | None = None, on_epoch: EpochHook | None = None,
) -> dict[str, Any]:
    """Trains ``genotype`` from scratch and returns (and writes to ``result.json``) its figures.

    ``genotype`` is a :class:`Genotype`, a published name, a genotype file or a search run directory (whose
    search cost is then carried into the result). The trained network is saved as ``model.pt``. Under
    ``torchrun`` (or with ``distributed`` given) every rank trains its share of each batch; rank 0 alone writes
    ``run_dir`` and evaluates; every rank returns the result. ``on_epoch`` sees every epoch's record (see
    :data:`EpochHook`).

    Example:
        >>> cfg = TrainConfig(dataset="fashion-mnist-small", num_cells=3, channels=8, epochs=1)
        >>> train_genotype("DARTS_V2", cfg, "/tmp/parsecnas-train-doc", progress=False)  # doctest: +SKIP
    """
    provenance = search_provenance(genotype)
    genotype = resolve_genotype(genotype)
    dist = distributed or from_env(resolve_device(config.device))
    check_trackers(config.tracking)  # a missing tracking extra is refused before the run directory exists
    run = Run(run_dir)
    with dist.main_context(lambda: run.lock(resume=resume)):  # held by rank 0 until the training ends
        return _train(genotype, provenance, config, run, resume, progress, dist, on_epoch)


@dataclass
class _Training:
    """What a training run builds before its first step; :meth:`state` / :meth:`loaders` list the checkpointed
    state once."""

    device: torch.device
    train: Loader
    test: Loader
    val: Loader | None
    """What the per-epoch accuracy is measured on (``config.validation``): held-out training images, the test
    set, or nothing."""
    net: EvalNetwork
    forward: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
    """``net.forward_train``, through ``DistributedDataParallel`` when there are several ranks."""
    dist: Distributed
    sgd: torch.optim.SGD
    schedule: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    image_size: int
    params: int
    macs: int
    preprocess: dict[str, Any]
    """The input the trained model expects (:class:`parsecnas.predict.Preprocess`), kept in ``model.pt``."""

    def loaders(self) -> dict[str, Callable[[Any], object]]:
        """Each checkpoint entry with the function that loads it."""
        assert self.net.drop_path_generator is not None
        return {"net": self.net.load_state_dict, "sgd": self.sgd.load_state_dict,
                "schedule": self.schedule.load_state_dict, "loader": self.train.load_state_dict,
                "scaler": self.scaler.load_state_dict, "drop_path_generator": self.net.drop_path_generator.set_state}

    def state(self) -> dict[str, Any]:
        assert self.net.drop_path_generator is not None
        return {"net": self.net.state_dict(), "sgd": self.sgd.state_dict(), "schedule": self.schedule.state_dict(),
                "loader": self.train.state_dict(), "scaler": self.scaler.state_dict(),
                "drop_path_generator": self.net.drop_path_generator.get_state()}


def _setup_training(genotype: Genotype, config: TrainConfig, device: torch.device,
                    dist: Distributed | None = None) -> _Training:
    dist = dist or Distributed()
    ds = dist.main_first(lambda: load_dataset(config.dataset, config.data_dir))  # rank 0 caches it first
    ds = ds if config.image_size is None else ds.resampled(config.image_size)
    held_out, train_idx = (split_held_out(torch.arange(len(ds.train_labels)), config.val_examples, config.seed)
                           if config.validation == "held_out" else (None, None))
    train = Loader.from_dataset(ds, "train", train_idx, LoaderConfig.for_training(
        ds, config.batch_size, config.cutout, config.crop_size, config.color_jitter, config.augment, config.augment_n,
        config.augment_m), device=device, seed=config.seed)
    train.set_shard(dist.rank, dist.world_size)
    test = evaluation_loader(ds, config, device)
    val = (evaluation_loader(ds, config, device, "train", held_out) if held_out is not None
           else test if config.validation == "test" else None)
    net = _build(genotype, config, ds.num_classes, ds.in_channels)
    size = config.crop_size or ds.image_size
    params, macs = count_parameters(net), count_multiply_adds(net, (ds.in_channels, size, size))
    memory = torch.channels_last if config.channels_last else torch.contiguous_format
    net = net.to(device, memory_format=memory)  # type: ignore[call-overload]
    net.drop_path_generator = torch.Generator(device=device).manual_seed(config.seed + 1)
    sgd = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    amp_dtype = autocast_dtype(device, config.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    forward = _data_parallel(net, dist) if dist.active else net.forward_train
    return _Training(device, train, test, val, net, torch.compile(forward) if config.compile else forward, dist,
                     sgd, _scheduler(sgd, config), scaler, amp_dtype, size, params, macs,
                     Preprocess.of(ds, config.crop_size).to_dict())


class _TrainForward(torch.nn.Module):
    """``net.forward_train`` as a module's ``forward``, which ``DistributedDataParallel`` wraps."""

    def __init__(self, net: EvalNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.net.forward_train(x)


def _data_parallel(net: EvalNetwork, dist: Distributed) -> torch.nn.Module:
    device = next(net.parameters()).device
    ids = [device] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(_TrainForward(net), device_ids=ids)  # every step uses every
    # parameter (drop path scales examples, it removes no op), so DDP need not search the graph for unused ones


def _train(genotype: Genotype, provenance: dict[str, Any], config: TrainConfig, run: Run, resume: bool,
           progress: bool, dist: Distributed, on_epoch: EpochHook | None = None) -> dict[str, Any]:
    device = dist.place(resolve_device(config.device))  # before the run is created: a missing GPU is an error
    t = _setup_training(genotype, config, device, dist)  # so are data that do not load
    resuming = dist.on_main(lambda: run.create({"genotype": genotype.to_dict(), **to_dict(config)}, resume=resume,
                                               defaults=_STORED_DEFAULTS, extendable=("epochs",)))
    state = run.restore(limit=config.epochs, parts=t.loaders(), numbers=("elapsed",),
                        cut_log=dist.is_main) if resuming else None
    if state is not None:
        _stretch_schedule(t, config)
    start, elapsed = (0, 0.0) if state is None else (int(state["epoch"]), float(state["elapsed"]))
    steps = config.steps_per_epoch or len(t.train)
    if progress and dist.is_main and start < config.epochs:
        print(_start_summary(t, config, run, start, steps), flush=True)
    timer = Timer(offset=elapsed).start()
    with ProgressBar(total=(config.epochs - start) * steps, desc="train", enabled=progress and dist.is_main) as bar, \
            run.tracking(config.tracking):
        for epoch in range(start, config.epochs):
            mean_loss = _epoch(t, config, run, epoch, steps, bar)
            state = {"epoch": epoch + 1, "elapsed": timer.elapsed, **t.state()}
            check_finite_checkpoint(state, run.path, epoch=epoch + 1, last_good=epoch)
            if dist.is_main:  # rank 0's state is every rank's (DDP keeps weights and BN statistics in step)
                record = {"epoch": epoch + 1, "train_loss": mean_loss, **_validation(t, config),
                          "lr": t.sgd.param_groups[0]["lr"], "drop_path": t.net.drop_path_prob,
                          "time_s": timer.elapsed, "peak_rss_mb": peak_rss_mb()}
                run.log(record)
                run.save_checkpoint(state)
                if on_epoch is not None:
                    on_epoch(record)
    return dist.on_main(lambda: _finish(t, genotype, provenance, config, run, timer.hours))


def _start_summary(t: _Training, config: TrainConfig, run: Run, start: int, steps: int) -> str:
    """What a training run is about to do: data and its parts, network size, steps, device, run directory."""
    kind = "held-out training" if config.validation == "held_out" else config.validation
    val = "no validation" if t.val is None else f"validated on {t.val.num_examples} {kind} examples each epoch"
    rows = [("data", f"{config.dataset}: {t.train.num_examples} training / {t.test.num_examples} test examples, "
                     f"{val}"),
            ("network", f"{config.num_cells} cells, C = {config.channels}, {t.params / 1e6:.3f}M parameters, "
                        f"{t.macs / 1e6:.0f}M multiply-adds per {t.image_size}x{t.image_size} image"),
            ("steps", f"{config.epochs} epochs x {steps} steps, batch {config.batch_size}"
                      + (f" (resuming after epoch {start})" if start else "")),
            ("device", device_name(t.device)),
            ("run", f"{run.path} (resume with --resume --run-dir {run.path})")]
    return "\n".join(f"  {name:<8} {text}" for name, text in rows)


def _stretch_schedule(t: _Training, config: TrainConfig) -> None:
    """A run resumed with more epochs than it started with: the cosine schedule (restored with the old length)
    is laid over the new length from the current epoch on."""
    schedule = t.schedule
    if not isinstance(schedule, torch.optim.lr_scheduler.CosineAnnealingLR) or schedule.T_max == config.epochs:
        return
    schedule.T_max = config.epochs
    for group, base in zip(t.sgd.param_groups, schedule.base_lrs):
        progress = math.pi * schedule.last_epoch / config.epochs
        group["lr"] = schedule.eta_min + (base - schedule.eta_min) * (1 + math.cos(progress)) / 2
    schedule._last_lr = [group["lr"] for group in t.sgd.param_groups]  # what get_last_lr() reports


def _validation(t: _Training, config: TrainConfig) -> dict[str, float]:
    """The epoch's ``val_accuracy`` (held-out training images) or ``test_accuracy``, as ``config.validation``
    says; evaluation changes no state that training reads, so a resumed run logs the same numbers."""
    if t.val is None:
        return {}
    key = "test_accuracy" if config.validation == "test" else "val_accuracy"
    return {key: evaluate(t.net, t.val, config.channels_last, t.amp_dtype)["top1"]}


def _epoch(t: _Training, config: TrainConfig, run: Run, epoch: int, steps: int, bar: ProgressBar) -> float:
    """One epoch of SGD steps (drop path ramped, AMP, clipping); the mean training loss. A non-finite loss
    stops the run before its step is taken. Distributed, each rank's loss counts by its share of the batch and
    the logged loss is the mean over ranks."""
    t.net.train()
    t.net.drop_path_prob = config.drop_path * epoch / config.epochs
    if t.dist.rank > 0:  # rank 0 draws from the checkpointed generator; the others from their own seeds
        assert t.net.drop_path_generator is not None
        t.net.drop_path_generator.manual_seed(config.seed + 1 + 7919 * (epoch * t.dist.world_size + t.dist.rank))
    total_loss = 0.0
    for step in range(steps):
        x, y = t.train.next_batch()
        with autocast(t.device, t.amp_dtype):
            logits, aux = t.forward(to_layout(x, config.channels_last))
        loss = training_loss(logits, aux, y, config.auxiliary_weight, config.label_smoothing)
        value = t.dist.mean_stats({"loss": loss.item()})["loss"]
        check_step_losses({"loss": value}, run.path, epoch=epoch + 1, step=step + 1, last_good=epoch)
        if t.dist.active:  # DDP averages the ranks' gradients; this makes it the mean over the whole batch
            loss = loss * (t.dist.share(len(y)) * t.dist.world_size)
        t.sgd.zero_grad(set_to_none=True)
        t.scaler.scale(loss).backward()
        t.scaler.unscale_(t.sgd)
        torch.nn.utils.clip_grad_norm_(t.net.parameters(), config.grad_clip)
        t.scaler.step(t.sgd)
        t.scaler.update()
        total_loss += value
        bar.update(1, epoch=f"{epoch + 1}/{config.epochs}", loss=value)
    t.schedule.step()
    return total_loss / steps


def _finish(t: _Training, genotype: Genotype, provenance: dict[str, Any], config: TrainConfig, run: Run,
            hours: float) -> dict[str, Any]:
    """Test accuracy of the trained network; ``model.pt``, ``curves.png`` and ``result.json``."""
    accuracy = evaluate(t.net, t.test, config.channels_last, t.amp_dtype)
    metrics = run.metrics()
    result = {
        **provenance,
        "genotype": genotype.to_dict(),
        "dataset": config.dataset,
        "image_size": t.image_size,
        "crop_size": config.crop_size,
        "seed": config.seed,
        "epochs": config.epochs,
        "test_accuracy": accuracy["top1"],
        "test_top5_accuracy": accuracy["top5"],
        "test_error_pct": 100 * (1 - accuracy["top1"]),
        "test_top5_error_pct": 100 * (1 - accuracy["top5"]),
        "params_m": t.params / 1e6,
        "multiply_adds_m": t.macs / 1e6,
        "train_hours": hours,
        "device": device_name(t.device),
        "validation": config.validation,
        **{k: v for k, v in (metrics[-1] if metrics else {}).items() if k == "val_accuracy"},
    }
    record = {**{k: v for k, v in result.items() if k != "genotype"}, "preprocess": t.preprocess}
    save_model(t.net, run.path_of("model.pt"), record)
    _plot_curves(metrics, run)
    run.write_json("result.json", result)
    return result


def _plot_curves(metrics: list[dict[str, Any]], run: Run) -> None:
    """``curves.png``: the training loss and the per-epoch accuracy; skipped without matplotlib."""
    from .report import plot_search_curves

    last = metrics[-1] if metrics else {}
    keys = ("train_loss", *(k for k in ("val_accuracy", "test_accuracy") if k in last))
    try:
        plot_search_curves(metrics, run.path_of("curves.png"), keys=keys[:2], title="training")
    except ImportError:  # the plot extra is missing: the numbers are all in metrics.jsonl
        pass
