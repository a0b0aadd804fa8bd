"""The DARTS weight optimiser shared by every weight-sharing strategy: SGD, cosine lr, gradient clipping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .config import check_finite
from .run.distributed import Distributed


@dataclass(frozen=True)
class WeightOptimConfig:
    """SGD on the shared weights (DARTS defaults): lr cosine-annealed per epoch from ``lr`` to ``lr_min``."""

    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0

    def __post_init__(self) -> None:
        check_finite(self)
        check_sgd_settings(self.lr, self.momentum, self.weight_decay, self.grad_clip, self.lr_min)


def check_sgd_settings(lr: float, momentum: float, weight_decay: float, grad_clip: float,
                       lr_min: float = 0.0) -> None:
    """The rule every SGD config shares (search weights, training from scratch, partial training).

    Raises:
        ValueError: naming the bad setting and the valid range.
    """
    if lr <= 0 or lr_min < 0 or lr_min > lr:
        raise ValueError(f"need lr > 0 and 0 <= lr_min <= lr; got lr={lr}, lr_min={lr_min}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
    if weight_decay < 0 or grad_clip <= 0:
        raise ValueError(f"need weight_decay >= 0 and grad_clip > 0 (the largest gradient norm); got "
                         f"weight_decay={weight_decay}, grad_clip={grad_clip}")


class WeightOptimizer:
    """SGD with momentum, weight decay, global-norm clipping and a per-epoch cosine schedule.

    Strategies call :meth:`zero_grad`, accumulate gradients, then :meth:`step`; the search loop calls
    :meth:`end_epoch`. With ``distributed`` ranks, :meth:`step` first sums the gradients over them: each rank's
    backward passes hold its part of the step's loss (its share of the batch, or its share of PARSEC's samples),
    so every rank clips and steps on the same gradient and the weights stay identical everywhere.
    """

    def __init__(self, params: Iterable[nn.Parameter], config: WeightOptimConfig, epochs: int,
                 distributed: Distributed | None = None) -> None:
        self.config = config
        self.distributed = distributed or Distributed()
        self.params = [p for p in params if p.requires_grad]
        self.sgd = torch.optim.SGD(self.params, lr=config.lr, momentum=config.momentum,
                                   weight_decay=config.weight_decay)
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.sgd, max(1, epochs), eta_min=config.lr_min)

    @property
    def lr(self) -> float:
        return float(self.sgd.param_groups[0]["lr"])

    def zero_grad(self) -> None:
        self.sgd.zero_grad(set_to_none=True)

    def step(self) -> float:
        """Sums the accumulated gradient over ranks, clips it to ``grad_clip`` (global norm), steps, returns the
        norm before clipping."""
        self.distributed.sum_gradients(self.params)
        norm = nn.utils.clip_grad_norm_(self.params, self.config.grad_clip)
        self.sgd.step()
        return float(norm)

    def end_epoch(self) -> None:
        self.schedule.step()

    def state_dict(self) -> dict[str, Any]:
        return {"sgd": self.sgd.state_dict(), "schedule": self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sgd.load_state_dict(state["sgd"])
        self.schedule.load_state_dict(state["schedule"])
