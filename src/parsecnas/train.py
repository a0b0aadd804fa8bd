"""Training an architecture from scratch with the DARTS protocol (cutout, drop path, auxiliary head).

The full issue-5 feature set (ImageNet protocol, several seeds, export) builds on this; what is here trains a
genotype's evaluation network on the whole training set, reports test accuracy, and resumes exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .config import to_dict
from .data import Loader, LoaderConfig, load_dataset
from .estimators.cost import count_multiply_adds, count_parameters
from .nets import EvalNetwork, build_network
from .run import ProgressBar, Run, Timer, device_name, peak_rss_mb
from .search import resolve_device
from .spaces.genotype import Genotype, resolve_genotype


@dataclass(frozen=True)
class TrainConfig:
    """DARTS CIFAR protocol by default: 20 cells, C = 36, batch 96, 600 epochs, cutout 16, drop path 0.2,
    auxiliary weight 0.4, SGD lr 0.025 cosine to 0, momentum 0.9, weight decay 3e-4, clipping 5."""

    dataset: str = "cifar10"
    data_dir: str | None = None
    setting: str = "cifar10"
    num_cells: int = 20
    channels: int = 36
    epochs: int = 600
    steps_per_epoch: int | None = None
    batch_size: int = 96
    lr: float = 0.025
    lr_min: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    cutout: int = 16
    drop_path: float = 0.2
    auxiliary_weight: float = 0.4
    seed: int = 0
    device: str = "auto"
    channels_last: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1; got {self.epochs}, {self.batch_size}")
        if not 0 <= self.drop_path < 1:
            raise ValueError(f"drop_path must lie in [0, 1), got {self.drop_path}")
        if self.auxiliary_weight < 0 or self.lr <= 0:
            raise ValueError(f"need auxiliary_weight >= 0 and lr > 0; got {self.auxiliary_weight}, {self.lr}")


def _layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@torch.no_grad()
def test_accuracy(net: EvalNetwork, loader: Loader, channels_last: bool = True) -> float:
    """Top-1 accuracy of ``net`` (eval mode: BN running statistics, no drop path) over ``loader``."""
    net.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((net(_layout(x, channels_last)).argmax(1) == y).sum())
        total += y.numel()
    return correct / max(1, total)


def train_genotype(
    genotype: Genotype | str, config: TrainConfig, run_dir: str | Path, *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Trains ``genotype`` from scratch and returns (and writes to ``result.json``) its figures.

    Example:
        >>> cfg = TrainConfig(dataset="fashion-mnist-small", num_cells=3, channels=8, epochs=1)
        >>> train_genotype("DARTS_V2", cfg, "/tmp/parsecnas-train-doc", progress=False)  # doctest: +SKIP
    """
    genotype = resolve_genotype(genotype)
    run = Run(run_dir)
    resuming = run.create({"genotype": genotype.to_dict(), **to_dict(config)}, resume=resume)
    device = resolve_device(config.device)
    ds = load_dataset(config.dataset, config.data_dir)
    train = Loader.from_dataset(
        ds,
        "train",
        None,
        LoaderConfig.for_training(ds, config.batch_size, config.cutout),
        device=device,
        seed=config.seed,
    )
    test = Loader.from_dataset(ds, "test", None, LoaderConfig.for_evaluation(256), device=device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = build_network(
            genotype,
            config.setting,
            num_cells=config.num_cells,
            channels=config.channels,
            num_classes=ds.num_classes,
            in_channels=ds.in_channels,
            auxiliary=config.auxiliary_weight > 0,
        )
    params, macs = count_parameters(net), count_multiply_adds(net, (ds.in_channels, ds.image_size, ds.image_size))
    memory = torch.channels_last if config.channels_last else torch.contiguous_format
    net = net.to(device, memory_format=memory)  # type: ignore[call-overload]
    net.drop_path_generator = torch.Generator(device=device).manual_seed(config.seed + 1)
    sgd = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(sgd, config.epochs, eta_min=config.lr_min)
    start, elapsed = 0, 0.0
    state = run.restore() if resuming else None
    if state is not None:
        start, elapsed = int(state["epoch"]), float(state["elapsed"])
        net.load_state_dict(state["net"])
        sgd.load_state_dict(state["sgd"])
        schedule.load_state_dict(state["schedule"])
        train.load_state_dict(state["loader"])
        net.drop_path_generator.set_state(state["drop_path_generator"])
    steps = config.steps_per_epoch or len(train)
    timer = Timer(offset=elapsed).start()
    with ProgressBar(total=(config.epochs - start) * steps, desc="train", enabled=progress) as bar:
        for epoch in range(start, config.epochs):
            net.train()
            net.drop_path_prob = config.drop_path * epoch / config.epochs
            total_loss = 0.0
            for _ in range(steps):
                x, y = train.next_batch()
                logits, aux = net.forward_train(_layout(x, config.channels_last))
                loss = F.cross_entropy(logits, y)
                if aux is not None:
                    loss = loss + config.auxiliary_weight * F.cross_entropy(aux, y)
                sgd.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
                sgd.step()
                total_loss += loss.item()
                bar.update(1, epoch=f"{epoch + 1}/{config.epochs}", loss=loss.item())
            schedule.step()
            run.log(
                {
                    "epoch": epoch + 1,
                    "train_loss": total_loss / steps,
                    "time_s": timer.elapsed,
                    "peak_rss_mb": peak_rss_mb(),
                }
            )
            run.save_checkpoint(
                {
                    "epoch": epoch + 1,
                    "elapsed": timer.elapsed,
                    "net": net.state_dict(),
                    "sgd": sgd.state_dict(),
                    "schedule": schedule.state_dict(),
                    "loader": train.state_dict(),
                    "drop_path_generator": net.drop_path_generator.get_state(),
                }
            )
    accuracy = test_accuracy(net, test, config.channels_last)
    result = {
        "genotype": genotype.to_dict(),
        "test_accuracy": accuracy,
        "test_error": 1.0 - accuracy,
        "params_m": params / 1e6,
        "multiply_adds_m": macs / 1e6,
        "train_hours": timer.hours,
        "device": device_name(device),
        "epochs": config.epochs,
        "dataset": config.dataset,
    }
    run.write_json("result.json", result)
    return result
