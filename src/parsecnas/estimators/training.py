"""Real training as an estimator: train an architecture of any space from scratch for a few epochs, score it on a
held-out validation split.

:class:`PartialTraining` is both a black-box estimator (``estimator(arch)``, at its default number of epochs) and a
multi-fidelity one (``estimator(arch, epochs)``, fractional epochs allowed), so successive halving and Hyperband
can wrap any strategy's candidates in any space with partial training as the low fidelity. The validation split
is a seeded, class-stratified share of the training set; the test split is never seen. With a
:class:`~parsecnas.estimators.curves.CurveStopping` rule it records the validation curve epoch by epoch and
ends a run whose optimistic extrapolated final accuracy cannot beat the best finished run's (Domhan et al.
2015); the stopped run scores its predicted final accuracy.

Example:
    >>> from parsecnas.spaces import get_space, sample_uniform
    >>> est = PartialTraining(get_space("darts"), PartialTrainingConfig(steps_per_epoch=5))
    >>> est(sample_uniform(get_space("darts"), torch.Generator().manual_seed(0)), 1).score  # doctest: +SKIP
    0.31
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..config import check_finite
from ..data import Loader, LoaderConfig, load_dataset, train_search_split
from ..evaluation import evaluate
from ..nets.seeded import seeded
from ..optim import check_sgd_settings
from ..run.resources import resolve_device
from ..spaces.base import Space
from .cost import count_parameters
from .curves import CurveStopping, predict_final


@dataclass(frozen=True)
class PartialTrainingConfig:
    """How an architecture is trained and scored.

    Attributes:
        dataset: a name from ``parsecnas.data.list_datasets()``.
        net: keyword options of the space's ``build`` (DARTS: ``num_cells``, ``channels``; NB201 too).
        epochs: the default fidelity (epochs of training) when the estimator is called without one.
        steps_per_epoch: cap on steps per epoch (default: one pass over the training part).
        valid_fraction: share of the training set held out for the score.
        valid_examples: at most this many of them are scored (a seeded subset).
    """

    dataset: str = "fashion-mnist-small"
    data_dir: str | None = None
    net: dict[str, Any] = field(default_factory=lambda: {"num_cells": 5, "channels": 12})
    epochs: float = 1.0
    steps_per_epoch: int | None = None
    batch_size: int = 64
    lr: float = 0.025
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    valid_fraction: float = 0.2
    valid_examples: int = 2000
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        check_finite(self)
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid_fraction must lie in (0, 1), got {self.valid_fraction}")
        check_sgd_settings(self.lr, self.momentum, self.weight_decay, self.grad_clip)
        if self.epochs <= 0 or self.batch_size < 1 or self.valid_examples < 1:
            raise ValueError(f"need epochs > 0, batch_size >= 1 and valid_examples >= 1; got {self.epochs}, "
                             f"{self.batch_size}, {self.valid_examples}")


@dataclass(frozen=True)
class TrainingResult:
    """One evaluation: ``score`` is the validation accuracy (what a search maximises)."""

    arch: Any
    score: float
    epochs: float
    steps: int
    seconds: float
    params_m: float
    curve: tuple[float, ...] = ()
    """Validation accuracy after each whole epoch (with a ``stopping`` rule or ``curve=True``)."""
    stopped_at: float | None = None
    """The epoch a ``stopping`` rule ended the run at (its ``score`` is then the predicted final accuracy)."""


class PartialTraining:
    """Trains ``space.build(arch)`` from scratch for ``epochs`` (SGD, cosine over the run) and returns its
    validation accuracy. The same architecture, epochs and seed always give the same result."""

    def __init__(self, space: Space, config: PartialTrainingConfig | None = None, *, curve: bool = False,
                 stopping: CurveStopping | None = None) -> None:
        self.space = space
        self.config = config or PartialTrainingConfig()
        self.stopping = stopping
        self.curve = curve or stopping is not None
        c = self.config
        self.device = resolve_device(c.device)
        self.dataset = load_dataset(c.dataset, c.data_dir)
        labels = self.dataset.train_labels
        train_idx, valid_idx = train_search_split(len(labels), 1 - c.valid_fraction, seed=c.seed, labels=labels)
        pick = torch.randperm(len(valid_idx), generator=torch.Generator().manual_seed(c.seed))[:c.valid_examples]
        self._train_idx, self._valid_idx = train_idx, valid_idx[pick].sort().values

    def __call__(self, arch: Any, epochs: float | None = None) -> TrainingResult:
        ds = self.dataset
        return self.fit(lambda: self.space.build(arch, num_classes=ds.num_classes, in_channels=ds.in_channels,
                                                 **self._options()), arch, epochs)

    def fit(self, build: Callable[[], nn.Module], arch: Any, epochs: float | None = None) -> TrainingResult:
        """Trains the network ``build()`` makes (seeded) as :meth:`__call__` trains ``space.build(arch)``: for a
        network the space does not build itself (a sub-network scaled past the space's sizes); ``arch`` is what
        the result records."""
        c = self.config
        epochs = c.epochs if epochs is None else float(epochs)
        if epochs <= 0:
            raise ValueError(f"epochs must be > 0, got {epochs}")
        ds = self.dataset
        train = Loader.from_dataset(ds, "train", self._train_idx, LoaderConfig.for_training(ds, c.batch_size),
                                    device=self.device, seed=c.seed)
        valid = Loader.from_dataset(ds, "train", self._valid_idx, LoaderConfig.for_evaluation(256),
                                    device=self.device)
        steps = max(1, math.ceil(epochs * (c.steps_per_epoch or len(train))))
        net = seeded(c.seed, build)
        net = net.to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        sgd = torch.optim.SGD(net.parameters(), lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(sgd, steps)
        start = time.perf_counter()
        per_epoch = c.steps_per_epoch or len(train)
        curve: list[float] = []
        net.train()
        for step in range(steps):
            x, y = train.next_batch()
            loss = torch.nn.functional.cross_entropy(net(x.contiguous(memory_format=torch.channels_last)), y)
            sgd.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), c.grad_clip)
            sgd.step()
            schedule.step()
            if self.curve and (step + 1) % per_epoch == 0 and step + 1 < steps:
                curve.append(evaluate(net, valid)["top1"])
                net.train()
                if self.stopping is not None and self.stopping.should_stop(curve):
                    predicted = predict_final(curve, epochs).mean
                    return TrainingResult(arch, predicted, epochs, step + 1, time.perf_counter() - start,
                                          count_parameters(net) / 1e6, tuple(curve), float(len(curve)))
        score = evaluate(net, valid)["top1"]
        if self.curve and steps % per_epoch == 0:
            curve.append(score)
        if self.stopping is not None:
            self.stopping.observe(score)
        return TrainingResult(arch, score, epochs, steps, time.perf_counter() - start, count_parameters(net) / 1e6,
                              tuple(curve))

    def _options(self) -> dict[str, Any]:
        options = dict(self.config.net)
        if self.space.name == "darts":
            options.setdefault("auxiliary", False)
        return options


__all__ = ["PartialTraining", "PartialTrainingConfig", "TrainingResult"]
