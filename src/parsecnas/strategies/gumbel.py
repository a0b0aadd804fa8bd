"""Gumbel-softmax strategies: GDAS (Dong & Yang 2019) and SNAS (Xie et al. 2019).

Both keep architecture logits alpha (one edge x op matrix per cell type of the space's relaxed view) and draw
per-edge samples with Gumbel noise from the strategy's own generator, at a temperature tau annealed over the search.
GDAS runs on any relaxed space (DARTS, NB201); SNAS on the DARTS space only (its resource penalty counts the
parameters of the DARTS supernet's ops).

* GDAS: a hard Gumbel-max sample of one op per edge; only that op runs (the active mask), and its weight is the
  straight-through one-hot ``hard - soft.detach() + soft`` with soft = softmax((alpha + g) / tau), so the
  gradient reaches alpha through soft. tau goes linearly from 10 to 0.1. As in the GDAS code, a weight step on
  the train batch (its own sample) comes first, then an Adam step on alpha on the search batch.
* SNAS: relaxed samples Z = softmax((alpha + g) / tau), every op running, tau annealed exponentially (1 to
  0.03 by default). SNAS is single-level: one loss on the train batch updates the weights and alpha together
  (the search batch is not used). An optional resource penalty adds ``resource_weight`` times the expected
  parameter count sum Z * params(op) (in millions, over the cells sharing the weights).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from ..config import check_finite
from ..estimators.cost import Cost
from ..nets.supernet import training_loss
from ..optim import WeightOptimizer
from ..spaces.base import RelaxedSpace, Space, as_relaxed
from .base import Batch, Scheduled, WeightSharingStrategy, register_strategy
from .cost_budget import LatencyLossFields
from .darts import edge_entropy, init_logits, mixing_for, search_loss, skip_connections


@dataclass(frozen=True)
class _GumbelConfig(Scheduled):
    arch_lr: float = 3e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    init_scale: float = 1e-3
    tau_max: float = 10.0
    tau_min: float = 0.1
    anneal: Literal["linear", "exponential"] = "linear"
    epochs: int = 50
    steps_per_epoch: int = 391

    def __post_init__(self) -> None:
        check_finite(self)
        if self.arch_lr <= 0 or self.arch_weight_decay < 0 or self.init_scale < 0:
            raise ValueError("need arch_lr > 0, arch_weight_decay >= 0 and init_scale >= 0; got "
                             f"{self.arch_lr}, {self.arch_weight_decay}, {self.init_scale}")
        if not all(0 <= b < 1 for b in self.arch_betas):
            raise ValueError(f"arch_betas must lie in [0, 1), got {self.arch_betas}")
        if not 0 < self.tau_min <= self.tau_max:
            raise ValueError(f"need 0 < tau_min <= tau_max; got {self.tau_min}, {self.tau_max}")
        if self.anneal not in ("linear", "exponential"):
            raise ValueError(f"anneal must be 'linear' or 'exponential', got {self.anneal!r}")
        if self.epochs < 1 or self.steps_per_epoch < 1:
            raise ValueError(f"need epochs >= 1 and steps_per_epoch >= 1; got {self.epochs}, {self.steps_per_epoch}")

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


@dataclass(frozen=True)
class GdasConfig(_GumbelConfig, LatencyLossFields):
    """GDAS's settings (paper defaults).

    Attributes:
        arch_lr, arch_betas, arch_weight_decay: Adam on alpha (as DARTS: 3e-4, (0.5, 0.999), 1e-3).
        init_scale: alpha starts as ``init_scale`` times standard normal noise.
        tau_max, tau_min: the temperature at the first and the last step.
        anneal: ``linear`` (GDAS) or ``exponential`` interpolation between them.
        epochs, steps_per_epoch: the search's length, over which tau anneals (match the search's schedule).
        cost, cost_setting, latency_alpha, latency_beta: FBNet's latency loss on the search loss, with LAT the
            expected cost of the sampled (straight-through) cell (:class:`LatencyLossFields`); off without a cost.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_latency_fields()


@dataclass(frozen=True)
class SnasConfig(_GumbelConfig):
    """SNAS's settings: as :class:`GdasConfig` (other temperature defaults) plus the resource penalty.

    Attributes:
        resource_weight: weight of the expected parameter count (millions) added to the loss; 0 turns it off.
    """

    tau_max: float = 1.0
    tau_min: float = 0.03
    anneal: Literal["linear", "exponential"] = "exponential"
    resource_weight: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.resource_weight < 0:
            raise ValueError(f"resource_weight must be >= 0, got {self.resource_weight}")


def temperature(step: int, total: int, tau_max: float, tau_min: float, anneal: str = "linear") -> float:
    """tau at ``step`` (0-based) of ``total``: ``tau_max`` at the first step, ``tau_min`` from the last on."""
    frac = min(1.0, step / max(1, total - 1))
    if anneal == "exponential":
        return tau_max * (tau_min / tau_max) ** frac
    return tau_max - (tau_max - tau_min) * frac


def gumbel_noise(shape: torch.Size | tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Standard Gumbel noise, -log(E) with E ~ Exp(1), drawn from ``generator``."""
    return -torch.empty(shape).exponential_(generator=generator).log()


def gumbel_max(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One index per row, argmax(logits + g): an exact sample of softmax(logits) (the Gumbel-max trick)."""
    return (logits.detach() + gumbel_noise(logits.shape, generator)).argmax(dim=-1)


def hard_gumbel_sample(logits: torch.Tensor, tau: float, generator: torch.Generator
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """GDAS's sample: straight-through one-hot weights (value exactly one-hot, gradient of the tempered softmax)
    and the bool mask of the sampled op per row."""
    soft = torch.softmax((logits + gumbel_noise(logits.shape, generator)) / tau, dim=-1)
    hard = torch.zeros_like(soft).scatter_(-1, soft.detach().argmax(dim=-1, keepdim=True), 1.0)
    return hard - soft.detach() + soft, hard.bool()


def relaxed_gumbel_sample(logits: torch.Tensor, tau: float, generator: torch.Generator) -> torch.Tensor:
    """SNAS's relaxed sample softmax((logits + g) / tau) (differentiable in ``logits``)."""
    return torch.softmax((logits + gumbel_noise(logits.shape, generator)) / tau, dim=-1)


def op_parameter_counts(net: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters (millions) of each op of each edge, summed over the cells of each type (they share alpha):
    the supernet's ``op_parameters()``, which every supernet of a relaxed space provides."""
    counts = getattr(net, "op_parameters", None)
    if counts is None:
        raise TypeError(f"SNAS's resource cost needs a supernet with op_parameters(); {type(net).__name__} has none")
    return dict(counts())


class _GumbelStrategy(WeightSharingStrategy):
    """What GDAS and SNAS share: alpha, its Adam, the Gumbel generator, the temperature schedule, derivation."""

    def __init__(self, space: Space, config: _GumbelConfig, seed: int) -> None:
        self.space: RelaxedSpace = as_relaxed(space, self.name)
        self.layout = self.space.mixing_layout
        self.config = config
        self.generator = torch.Generator().manual_seed(seed)
        self.alpha = init_logits(self.generator, config.init_scale, self.layout)
        self.arch_optimizer = torch.optim.Adam(list(self.alpha.values()), lr=config.arch_lr,
                                               betas=config.arch_betas, weight_decay=config.arch_weight_decay)
        self.steps = 0

    @property
    def tau(self) -> float:
        """The temperature of the next step."""
        c = self.config
        return temperature(self.steps, c.total_steps, c.tau_max, c.tau_min, c.anneal)

    def sum_alpha_gradients(self) -> None:
        """alpha's ``.grad`` summed over ranks (each rank's backward held its share of the loss)."""
        grads = {c: a.grad for c, a in self.alpha.items() if a.grad is not None}
        for c, g in zip(grads, self.sum_over_ranks(list(grads.values()))):
            self.alpha[c].grad = g

    def probabilities(self) -> dict[str, torch.Tensor]:
        return {c: torch.softmax(a.detach(), dim=-1) for c, a in self.alpha.items()}

    def derive(self) -> Hashable:
        return self.space.derive(self.probabilities())

    def epoch_metrics(self) -> dict[str, float]:
        return {"skip_connections": float(skip_connections(self.space, self.derive())),
                "entropy": edge_entropy(self.probabilities()), "tau": self.tau}

    def outputs(self) -> dict[str, Any]:
        return {"architecture_weights": {"primitives": list(self.layout.ops),
                                         **{c: p.tolist() for c, p in self.probabilities().items()}}}

    def state_dict(self) -> dict[str, Any]:
        return {"alpha": {c: a.detach().clone() for c, a in self.alpha.items()},
                "arch_optimizer": self.arch_optimizer.state_dict(), "generator": self.generator.get_state(),
                "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for c, a in self.alpha.items():
                a.copy_(state["alpha"][c])
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        self.generator.set_state(state["generator"])
        self.steps = int(state["steps"])


class Gdas(_GumbelStrategy):
    """GDAS over any relaxed space: one sampled op per edge runs, in the weight step and the arch step.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> from parsecnas.nets import SuperNet
        >>> from parsecnas.optim import WeightOptimizer, WeightOptimConfig
        >>> net = SuperNet(num_cells=3, channels=4)
        >>> gdas = Gdas(get_space("darts"), GdasConfig(epochs=1, steps_per_epoch=2), seed=0)
        >>> opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        >>> batch = (torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))
        >>> sorted(gdas.step(net, opt, batch, batch))
        ['grad_norm', 'loss', 'search_loss', 'tau']
    """

    name = "gdas"

    def __init__(self, space: Space, config: GdasConfig | None = None, seed: int = 0,
                 cost: Cost | None = None) -> None:
        super().__init__(space, config or GdasConfig(), seed)
        self.latency = (config or GdasConfig()).latency_loss(space, cost)

    def epoch_metrics(self) -> dict[str, float]:
        metrics = super().epoch_metrics()
        if self.latency is not None:
            metrics.update(self.latency.metrics(self.probabilities(), self.space.mixing_from(self.derive())))
        return metrics

    def sample(self, tau: float) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Straight-through one-hot weights and one-op-per-edge masks for every cell type."""
        pairs = {c: hard_gumbel_sample(a, tau, self.generator) for c, a in self.alpha.items()}
        return {c: w for c, (w, _) in pairs.items()}, {c: m for c, (_, m) in pairs.items()}

    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> dict[str, float]:
        tau = self.tau
        _, active = self.sample(tau)
        weights.zero_grad()
        one_hot = {c: m.to(train[0].dtype) for c, m in active.items()}
        loss = training_loss(net, mixing_for(train[0], one_hot, active), train)
        (self.share(train) * loss).backward()
        grad_norm = weights.step()
        self.arch_optimizer.zero_grad(set_to_none=True)
        w, active = self.sample(tau)
        val = search_loss(net, mixing_for(search[0], w, active), search)
        objective = val if self.latency is None else val * self.latency.factor(w).to(val.dtype)
        grads = self.sum_over_ranks(torch.autograd.grad(self.share(search) * objective, list(self.alpha.values()),
                                                        allow_unused=True, materialize_grads=True))
        for a, g in zip(self.alpha.values(), grads):
            a.grad = g
        self.arch_optimizer.step()
        self.steps += 1
        return {"loss": loss.item(), "search_loss": val.item(), "grad_norm": grad_norm, "tau": tau}


class Snas(_GumbelStrategy):
    """SNAS over the DARTS cell space: relaxed Gumbel-softmax samples, one joint update of weights and alpha.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> from parsecnas.nets import SuperNet
        >>> from parsecnas.optim import WeightOptimizer, WeightOptimConfig
        >>> net = SuperNet(num_cells=3, channels=4)
        >>> snas = Snas(get_space("darts"), SnasConfig(epochs=1, steps_per_epoch=2, resource_weight=0.1), seed=0)
        >>> opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        >>> batch = (torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))
        >>> sorted(snas.step(net, opt, batch, batch))
        ['grad_norm', 'loss', 'resource', 'tau']
    """

    name = "snas"
    config: SnasConfig

    def __init__(self, space: Space, config: SnasConfig | None = None, seed: int = 0) -> None:
        super().__init__(space, config or SnasConfig(), seed)
        self._costs: dict[str, torch.Tensor] | None = None

    def expected_cost(self, net: nn.Module, sample: dict[str, torch.Tensor]) -> torch.Tensor:
        """Expected parameters (millions) of the cells under the relaxed sample: sum Z * params(op)."""
        if self._costs is None:  # measured once, on first use
            self._costs = op_parameter_counts(net)
        return torch.stack([(sample[c] * self._costs[c].to(sample[c].dtype)).sum() for c in self.layout.cells]).sum()

    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> dict[str, float]:
        tau = self.tau
        sample = {c: relaxed_gumbel_sample(a, tau, self.generator) for c, a in self.alpha.items()}
        weights.zero_grad()
        self.arch_optimizer.zero_grad(set_to_none=True)
        ce = training_loss(net, mixing_for(train[0], sample, {}), train)
        resource = self.expected_cost(net, sample)
        (self.share(train) * (ce + self.config.resource_weight * resource)).backward()
        grad_norm = weights.step()
        self.sum_alpha_gradients()
        self.arch_optimizer.step()
        self.steps += 1
        return {"loss": ce.item(), "resource": resource.item(), "grad_norm": grad_norm, "tau": tau}


register_strategy("gdas", lambda space, config, seed: Gdas(space, config, seed), GdasConfig, needs=(RelaxedSpace,),
                  summary="GDAS: one Gumbel-max sampled op per edge (Dong & Yang 2019)")
register_strategy("snas", lambda space, config, seed: Snas(space, config, seed), SnasConfig, needs=(RelaxedSpace,),
                  summary="SNAS: relaxed Gumbel-softmax samples with a resource cost (Xie et al. 2019)")
