"""Once-for-All / BigNAS on the elastic space: train one network so that all its sub-networks are good, then
search it for the best sub-network (optionally under a cost budget), with no retraining.

Training (the first ``1 - search_fraction`` of the search's steps), one step per train batch, gradients of
every sub-network accumulated before one weight step:

* the **sandwich rule** (Yu et al. 2020): the largest sub-network, the smallest and ``random_subnets`` uniform
  ones, every step;
* **in-place distillation** (BigNAS): the largest learns the labels, the others the largest's soft predictions
  (at temperature ``temperature``, gradient stopped), so every sub-network is pulled toward the best one;
* **progressive shrinking** (Cai et al. 2020), with ``progressive``: the training steps are split into four
  phases that make more dimensions elastic: the largest only; elastic kernel (and resolution); + depth;
  + expansion ratio (and width). Without it, every dimension is elastic from the start.

Search (the remaining steps): each step asks ``candidates_per_step`` sub-networks from a black-box strategy
(``search``: regularized evolution or random search), recalibrates each one's batch-norm statistics on the last
``calibration_batches`` train batches (:func:`~parsecnas.nets.elastic.recalibrate_bn`) and scores it by its
eval-mode accuracy on that step's search batch. Under a cost budget (``cost``, ``cost_target``) a sub-network
over the budget scores -1 (so evolution discards it) and is never returned. The derived architecture is the
best scored within the budget; before the search, the largest (the smallest if only that fits the budget).

At the end of every epoch the derived sub-network's statistics are recalibrated, so ``mode_accuracy`` is its
eval-mode accuracy with statistics of its own. Single-process: under data parallelism each rank would
recalibrate on its own shard.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..config import check_choice, check_finite
from ..estimators.cost import Cost, network_cost
from ..nets.elastic import ElasticMobileNet, recalibrate_bn
from ..optim import WeightOptimizer
from ..spaces.base import Space
from ..spaces.ofa import DIMENSIONS, ElasticArch, OfaSpace
from .base import Batch, Scheduled, WeightSharingStrategy, register_strategy
from .blackbox import BlackBoxStrategy
from .evolution import EvolutionConfig, RegularizedEvolution
from .random_search import RandomSearch

__all__ = ["PHASES", "Ofa", "OfaConfig"]

PHASES = ((), ("resolution", "kernel"), ("resolution", "kernel", "depth"), DIMENSIONS)
"""Progressive shrinking's phases: the dimensions elastic in each."""


@dataclass(frozen=True)
class OfaConfig(Scheduled):
    """Attributes:
        random_subnets: uniform sub-networks per step besides the largest and the smallest (the sandwich).
        distill: the other sub-networks learn the largest's soft predictions (in-place distillation); else
            the labels.
        temperature: the distillation temperature (the loss is scaled by its square, as Hinton et al.).
        progressive: progressive shrinking (four phases over the training steps) instead of every dimension
            elastic from the start.
        search_fraction: share of the steps spent searching the trained network (weights frozen); in (0, 1).
        search: the black-box strategy of the search: ``evolution`` (regularized) or ``random``.
        candidates_per_step: sub-networks scored per search step, all on that step's search batch.
        population_size: regularized evolution's population P.
        sample_size: its tournament size S.
        calibration_batches: recent train batches each candidate's batch-norm statistics are computed on.
        cost: a cost to budget, counted on each extracted sub-network: ``params`` or ``madds`` (millions, at
            the sub-network's resolution); ``None``: no budget.
        cost_target: the budget, in millions; sub-networks over it are never returned.
        epochs: the search's epochs (set by the search loop).
        steps_per_epoch: steps per epoch (set by the search loop).
    """

    random_subnets: int = 2
    distill: bool = True
    temperature: float = 1.0
    progressive: bool = False
    search_fraction: float = 0.25
    search: str = "evolution"
    candidates_per_step: int = 4
    population_size: int = 20
    sample_size: int = 5
    calibration_batches: int = 2
    cost: str | None = None
    cost_target: float | None = None
    epochs: int = 1
    steps_per_epoch: int = 1

    def __post_init__(self) -> None:
        check_finite(self)
        check_choice("search", self.search, ("evolution", "random"))
        if self.cost is not None:
            check_choice("cost", self.cost, ("params", "madds"))
        if (self.cost is None) != (self.cost_target is None) or (self.cost_target is not None
                                                                 and not self.cost_target > 0):
            raise ValueError(f"a cost budget needs both cost (params or madds) and cost_target > 0; got cost="
                             f"{self.cost!r}, cost_target={self.cost_target}")
        if not 0 < self.search_fraction < 1 or not self.temperature > 0:
            raise ValueError(f"need search_fraction in (0, 1) and temperature > 0; got {self.search_fraction}, "
                             f"{self.temperature}")
        counts = (self.random_subnets + 1, self.candidates_per_step, self.calibration_batches, self.epochs,
                  self.steps_per_epoch)
        if min(counts) < 1:
            raise ValueError(f"need random_subnets >= 0 and candidates_per_step, calibration_batches, epochs, "
                             f"steps_per_epoch >= 1; got {self.random_subnets}, {counts[1:]}")
        EvolutionConfig(self.population_size, self.sample_size)  # its own checks

    @property
    def training_steps(self) -> int:
        """Steps that train the weights before the search."""
        return round(self.epochs * self.steps_per_epoch * (1 - self.search_fraction))

    def elastic(self, step: int) -> tuple[str, ...]:
        """The dimensions elastic at training step ``step`` (0-based)."""
        if not self.progressive:
            return DIMENSIONS
        return PHASES[min(len(PHASES) - 1, step * len(PHASES) // max(1, self.training_steps))]


class Ofa(WeightSharingStrategy):
    """OFA / BigNAS training and search on the elastic space (see the module).

    Example:
        >>> from parsecnas.spaces import get_space
        >>> from parsecnas.optim import WeightOptimizer, WeightOptimConfig
        >>> space = get_space("ofa")
        >>> net = space.supernet(num_cells=2, channels=4, num_classes=3)
        >>> ofa = Ofa(space, OfaConfig(epochs=1, steps_per_epoch=3, search_fraction=0.34), seed=0)
        >>> opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        >>> batch = (torch.randn(8, 3, 16, 16), torch.randint(0, 3, (8,)))
        >>> [sorted(ofa.step(net, opt, batch, batch)) for _ in range(3)][-1]
        ['best_score', 'search_accuracy', 'within_budget']
    """

    name = "ofa"

    def __init__(self, space: Space, config: OfaConfig | None = None, seed: int = 0) -> None:
        super().__init__()
        if not isinstance(space, OfaSpace):
            raise TypeError(f"strategy 'ofa' needs the elastic ofa space, got {space.name!r}")
        self.space, self.config = space, config or OfaConfig()
        self.generator = torch.Generator().manual_seed(seed)
        cfg = self.config
        self.searcher: BlackBoxStrategy = (
            RegularizedEvolution(space, EvolutionConfig(cfg.population_size, cfg.sample_size), seed + 1)
            if cfg.search == "evolution" else RandomSearch(space, seed=seed + 1))
        self.fallback: ElasticArch = space.largest()
        self.best_arch_: ElasticArch | None = None
        self.best_score_ = float("-inf")
        self.scored: list[tuple[ElasticArch, float, float | None]] = []
        self.calibration: list[torch.Tensor] = []
        self.steps_done = 0
        self._cost: Cost | None = None

    def _net(self, net: nn.Module) -> ElasticMobileNet:
        if not isinstance(net, ElasticMobileNet):
            raise TypeError(f"strategy 'ofa' trains an ElasticMobileNet, got {type(net).__name__}")
        return net

    def cost(self, net: ElasticMobileNet, arch: ElasticArch) -> float | None:
        """``arch``'s cost under the config's budget (``None`` without one)."""
        if self.config.cost is None:
            return None
        if self._cost is None:
            channels = net.spec.in_channels
            self._cost = network_cost(self.config.cost, net.extract, lambda a: (channels, a.resolution, a.resolution))
        return self._cost(arch)

    def within(self, net: ElasticMobileNet, arch: ElasticArch) -> bool:
        cost = self.cost(net, arch)
        return cost is None or self.config.cost_target is None or cost <= self.config.cost_target

    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> dict[str, float]:
        elastic_net = self._net(net)
        if self.steps_done == 0 and not self.within(elastic_net, self.fallback):
            self.fallback = self.space.smallest()
            if not self.within(elastic_net, self.fallback):
                raise ValueError(f"cost_target={self.config.cost_target} is below the smallest sub-network's "
                                 f"{self.config.cost} ({self.cost(elastic_net, self.fallback):.4f} M); raise it")
        self.steps_done += 1
        self.calibration = [*self.calibration, train[0].detach().clone()][-self.config.calibration_batches:]
        if self.steps_done <= self.config.training_steps:
            stats = self._train(elastic_net, weights, train, self.config.elastic(self.steps_done - 1))
        else:
            stats = self._search(elastic_net, search)
        if self.steps_done % self.config.steps_per_epoch == 0:  # mode_accuracy with the derived net's own BN
            self.recalibrate(elastic_net, self.derived())
        return stats

    def sandwich(self, elastic: tuple[str, ...]) -> list[ElasticArch]:
        """The sub-networks of one training step: the largest, the smallest, then uniform ones."""
        if not elastic:
            return [self.space.largest()]
        return [self.space.largest(), self.space.smallest(elastic),
                *(self.space.sample(self.generator, elastic) for _ in range(self.config.random_subnets))]

    def _train(self, net: ElasticMobileNet, weights: WeightOptimizer, train: Batch, elastic: tuple[str, ...]
               ) -> dict[str, float]:
        x, y = train
        largest, *others = self.sandwich(elastic)
        weights.zero_grad()
        logits = net(x, largest)
        loss = F.cross_entropy(logits, y)
        (self.share(train) * loss).backward()
        t = self.config.temperature
        soft = F.softmax(logits.detach() / t, dim=1)
        losses = []
        for arch in others:
            out = net(x, arch)
            if self.config.distill:
                sub = -(soft * F.log_softmax(out / t, dim=1)).sum(1).mean() * t * t
            else:
                sub = F.cross_entropy(out, y)
            (self.share(train) * sub).backward()
            losses.append(sub.item())
        stats = {"loss": loss.item(), "grad_norm": weights.step(), "elastic_dimensions": float(len(elastic))}
        if losses:
            stats |= {"loss_smallest": losses[0], "loss_subnets": sum(losses) / len(losses)}
        return stats

    def recalibrate(self, net: ElasticMobileNet, arch: ElasticArch) -> None:
        """``arch``'s batch-norm statistics from the recent train batches."""
        recalibrate_bn(net, lambda x: net(x, arch), self.calibration)

    def _search(self, net: ElasticMobileNet, search: Batch) -> dict[str, float]:
        candidates = self.searcher.ask(self.config.candidates_per_step)
        scores = []
        for arch in candidates:
            assert isinstance(arch, ElasticArch)
            cost = self.cost(net, arch)
            score = -1.0
            if self.within(net, arch):
                self.recalibrate(net, arch)
                net.eval()
                score = self.batch_accuracy(net, arch, search)
                net.train()
                if score > self.best_score_:
                    self.best_arch_, self.best_score_ = arch, score
            scores.append(score)
            self.scored.append((arch, score, cost))
        self.searcher.tell(candidates, scores)
        fits = [s for s in scores if s >= 0]
        return {"search_accuracy": sum(fits) / len(fits) if fits else 0.0, "best_score": max(-1.0, self.best_score_),
                "within_budget": len(fits) / len(scores)}

    def derive(self) -> Hashable:
        return self.derived()

    def derived(self) -> ElasticArch:
        """The best sub-network scored within the budget; before any, the largest (or smallest) that fits."""
        return self.fallback if self.best_arch_ is None else self.best_arch_

    def epoch_metrics(self) -> dict[str, float]:
        return {"candidates_scored": float(len(self.scored))}

    def outputs(self) -> dict[str, Any]:
        best = sorted((item for item in self.scored if item[1] >= 0), key=lambda item: -item[1])[:10]
        cfg = self.config
        unit = {} if cfg.cost is None else {"cost_name": cfg.cost, "cost_target": cfg.cost_target}
        return {"top_architectures": [{"architecture": self.space.to_plain(a), "search_accuracy": s, "cost": c}
                                      for a, s, c in best], **({"budget": unit} if unit else {})} if best else {}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "searcher": self.searcher.state_dict(),
                "fallback": self.space.format(self.fallback), "steps_done": self.steps_done,
                "best": None if self.best_arch_ is None else self.space.format(self.best_arch_),
                "best_score": self.best_score_, "calibration": list(self.calibration),
                "scored": [[self.space.format(a), s, c] for a, s, c in self.scored]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.searcher.load_state_dict(state["searcher"])
        self.fallback = self.space.parse(state["fallback"])
        self.steps_done = int(state["steps_done"])
        self.best_arch_ = None if state["best"] is None else self.space.parse(state["best"])
        self.best_score_ = float(state["best_score"])
        self.calibration = list(state["calibration"])
        self.scored = [(self.space.parse(a), float(s), None if c is None else float(c)) for a, s, c in state["scored"]]


register_strategy("ofa", lambda space, config, seed: Ofa(space, config, seed), OfaConfig, spaces=("ofa",),
                  summary="Once-for-All / BigNAS: sandwich rule, in-place distillation, optional progressive "
                          "shrinking, then a search of the trained elastic network, optionally under a cost budget")
