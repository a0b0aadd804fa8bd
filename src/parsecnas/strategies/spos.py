"""Single-Path One-Shot (Guo et al. 2020): train the supernet on uniformly sampled single paths, with no
architecture parameters, then search it with regularized evolution scored by the shared weights.

The two phases share one search loop and its steps: the first ``1 - search_fraction`` of the steps train the
weights on one uniform path each (the supernet is then a fair estimator of every path, the paper's argument);
the rest run the evolutionary search, each step scoring ``candidates_per_step`` architectures asked from
:class:`~parsecnas.strategies.evolution.RegularizedEvolution` by their accuracy on that step's search batch
with the shared weights, weights frozen. The derived architecture is the best scored; before the search phase
it is a fixed architecture drawn at the start, so ``mode_accuracy`` then tracks the supernet's training.

Batch norm: the supernet's BN always normalises by the statistics of the batch it runs on (it keeps no running
statistics, see ``docs/architecture.md``), so every candidate is scored with BN statistics of its own, computed
on the batch it is scored on: the paper's recalibration of BN per candidate, done on the scoring batch itself
rather than on separate training batches.

Any other black-box strategy can search a trained supernet the same way through
:class:`~parsecnas.estimators.supernet.SupernetEstimator`.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..config import check_finite
from ..nets.supernet import training_loss
from ..optim import WeightOptimizer
from ..spaces.base import Space, sample_uniform
from .base import Batch, Scheduled, WeightSharingStrategy, register_strategy
from .evolution import EvolutionConfig, RegularizedEvolution


@dataclass(frozen=True)
class SposConfig(Scheduled):
    """Attributes:
        search_fraction: share of the search's steps spent on the evolutionary search over the trained
            supernet (the rest train it on uniform single paths); in (0, 1).
        candidates_per_step: architectures scored per search-phase step, all on that step's search batch (a
            paired comparison).
        population_size: regularized evolution's population P (the first P candidates are uniform samples).
        sample_size: its tournament size S.
        epochs: the search's epochs (set by the search loop).
        steps_per_epoch: steps per epoch (set by the search loop).
    """

    search_fraction: float = 0.25
    candidates_per_step: int = 4
    population_size: int = 20
    sample_size: int = 5
    epochs: int = 1
    steps_per_epoch: int = 1

    def __post_init__(self) -> None:
        check_finite(self)
        if not 0 < self.search_fraction < 1:
            raise ValueError(f"search_fraction must be in (0, 1), got {self.search_fraction}")
        if self.candidates_per_step < 1 or self.epochs < 1 or self.steps_per_epoch < 1:
            raise ValueError(f"need candidates_per_step, epochs and steps_per_epoch >= 1; got "
                             f"{self.candidates_per_step}, {self.epochs}, {self.steps_per_epoch}")
        EvolutionConfig(self.population_size, self.sample_size)  # its own checks

    @property
    def training_steps(self) -> int:
        """Steps that train the weights before the search phase."""
        return round(self.epochs * self.steps_per_epoch * (1 - self.search_fraction))


class Spos(WeightSharingStrategy):
    """SPOS over any space (uniform single paths need only the space's decisions).

    Example:
        >>> from parsecnas.spaces import get_space
        >>> from parsecnas.nets.nb201 import NB201SuperNet
        >>> from parsecnas.optim import WeightOptimizer, WeightOptimConfig
        >>> net = NB201SuperNet(num_cells=1, channels=4)
        >>> spos = Spos(get_space("nb201"), SposConfig(epochs=1, steps_per_epoch=4, search_fraction=0.5), seed=0)
        >>> opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        >>> batch = (torch.randn(8, 3, 8, 8), torch.randint(0, 10, (8,)))
        >>> [sorted(spos.step(net, opt, batch, batch)) for _ in range(3)][1:]
        [['grad_norm', 'loss'], ['best_score', 'search_accuracy']]
    """

    name = "spos"

    def __init__(self, space: Space, config: SposConfig | None = None, seed: int = 0) -> None:
        super().__init__()
        self.space, self.config = space, config or SposConfig()
        self.generator = torch.Generator().manual_seed(seed)
        self.evolution = RegularizedEvolution(space, EvolutionConfig(self.config.population_size,
                                                                     self.config.sample_size), seed + 1)
        self.fixed = sample_uniform(space, self.generator)  # derived before any candidate is scored
        self.steps_done = 0

    @property
    def searching(self) -> bool:
        """Whether the steps now score candidates (the evolutionary phase) rather than train weights."""
        return self.steps_done >= self.config.training_steps

    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> dict[str, float]:
        self.steps_done += 1
        if self.steps_done <= self.config.training_steps:
            arch: Any = sample_uniform(self.space, self.generator)
            weights.zero_grad()
            loss = training_loss(net, arch, train)
            (self.share(train) * loss).backward()
            return {"loss": loss.item(), "grad_norm": weights.step()}
        candidates = self.evolution.ask(self.config.candidates_per_step)
        scores = [self.batch_accuracy(net, arch, search) for arch in candidates]
        self.evolution.tell(candidates, scores)
        return {"search_accuracy": sum(scores) / len(scores), "best_score": self.evolution.best_score_}


    def derive(self) -> Hashable:
        best = self.evolution.best_arch_
        return self.fixed if best is None else best

    def epoch_metrics(self) -> dict[str, float]:
        return {"candidates_scored": float(len(self.evolution.history_))}

    def outputs(self) -> dict[str, Any]:
        history = sorted(self.evolution.history_, key=lambda item: -item[1])[:10]
        return {"top_architectures": [{"architecture": self.space.to_plain(a), "search_accuracy": s}
                                      for a, s in history]} if history else {}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "evolution": self.evolution.state_dict(),
                "fixed": self.space.format(self.fixed), "steps_done": self.steps_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.evolution.load_state_dict(state["evolution"])
        self.fixed = self.space.parse(state["fixed"])
        self.steps_done = int(state["steps_done"])


register_strategy("spos", lambda space, config, seed: Spos(space, config, seed), SposConfig,
                  summary="SPOS: a supernet trained on uniform single paths, then regularized evolution scored "
                          "by the shared weights (Guo et al. 2020)")
