"""XNAS: neural architecture search by prediction with expert advice (Nayman et al. 2019).

Every op of every edge is an expert with a weight v (kept in log space); an edge mixes its ops with the normalised
weights v / sum v. Each step, on the search batch, the reward of op i is R_i = -dL_val / dw_i, minus the gradient
of the search loss with respect to the op's mixing weight, and the weights are updated by exponentiated gradient,
v_i <- v_i * exp(eta * R_i). Then the wipeout rule removes every op that can no longer become the edge's best in
the steps left: at step t of T, op i goes when

    v_i < max_j v_j * exp(-2 * eta * L * (T - t)),

L a bound on |R| (``reward_bound``, or the running maximum of |R| seen so far). Wiped ops never return and stop
computing (the supernet's active mask), so the search gets cheaper as it goes. Then one SGD step on the shared
weights on the train batch with the updated mixture, as in DARTS's first-order alternation.

XNAS is registered for the DARTS space only (its wipeout horizon and reward bound were set up and checked there);
asking for it on another space raises an error naming the strategies that support that space.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import check_finite
from ..nets.supernet import training_loss
from ..optim import WeightOptimizer
from ..spaces.base import RelaxedSpace, Space, as_relaxed
from .base import Batch, Scheduled, WeightSharingStrategy, register_strategy
from .darts import edge_entropy, mixing_for, search_loss, skip_connections


@dataclass(frozen=True)
class XnasConfig(Scheduled):
    """XNAS's settings.

    Attributes:
        eta: the exponentiated-gradient learning rate (the regret bound's optimum is
            :func:`optimal_eta`; rewards here are gradients of a mean loss, small, so a larger value moves faster).
        reward_bound: L, the bound on |R| in the wipeout threshold; ``None`` estimates it as the running max |R|.
        epochs: epochs of the search (T = epochs * steps_per_epoch; match the search's schedule).
        steps_per_epoch: steps in one epoch (survivor counts are logged at each epoch's end).
        include_none: whether the zero op is an expert too. Its reward is always 0 (it computes nothing), so by
            default it is left out and never weighted.
    """

    eta: float = 1.0
    reward_bound: float | None = None
    epochs: int = 50
    steps_per_epoch: int = 391
    include_none: bool = False

    def __post_init__(self) -> None:
        check_finite(self)
        if self.eta <= 0 or (self.reward_bound is not None and self.reward_bound <= 0):
            raise ValueError(f"need eta > 0 and reward_bound > 0 (or None); got {self.eta}, {self.reward_bound}")
        if self.epochs < 1 or self.steps_per_epoch < 1:
            raise ValueError(f"need epochs >= 1 and steps_per_epoch >= 1; got {self.epochs}, {self.steps_per_epoch}")

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def optimal_eta(num_experts: int, total_steps: int, reward_bound: float) -> float:
    """The learning rate minimising the exponentiated-gradient regret bound, sqrt(2 ln N / T) / L."""
    return (2 * torch.log(torch.tensor(float(num_experts))).item() / total_steps) ** 0.5 / reward_bound


def wipeout_threshold(log_v_max: torch.Tensor, eta: float, bound: float, step: int, total: int) -> torch.Tensor:
    """log of the wipeout threshold: log(v_max) - 2 * eta * L * (T - t) (an op below it can never catch up)."""
    return log_v_max - 2 * eta * bound * max(0, total - step)


def wipeout(log_v: torch.Tensor, active: torch.Tensor, eta: float, bound: float, step: int,
            total: int) -> torch.Tensor:
    """The active mask after XNAS's wipeout at ``step`` of ``total``; an edge's strongest op always survives."""
    log_v_max = log_v.masked_fill(~active, -float("inf")).max(dim=-1, keepdim=True).values
    return active & (log_v >= wipeout_threshold(log_v_max, eta, bound, step, total))


def expert_weights(log_v: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """Mixing weights v / sum v over each edge's surviving experts (0 for wiped ones)."""
    return torch.softmax(log_v.masked_fill(~active, -float("inf")), dim=-1)


class Xnas(WeightSharingStrategy):
    """XNAS over the DARTS cell space.

    Args:
        space: the DARTS space.
        config: XNAS's settings.
        seed: seeds the strategy's generator (XNAS itself draws nothing; kept for a uniform interface).

    Attributes:
        log_v: ``{"normal": (14, 8), "reduce": (14, 8)}`` expert log-weights, shifted so each edge's max is 0.
        active: bool masks of the surviving ops.
        survivors: per logged epoch, surviving ops per edge of each cell.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> from parsecnas.nets import SuperNet
        >>> from parsecnas.optim import WeightOptimizer, WeightOptimConfig
        >>> net = SuperNet(num_cells=3, channels=4)
        >>> xnas = Xnas(get_space("darts"), XnasConfig(epochs=1, steps_per_epoch=2), seed=0)
        >>> opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        >>> batch = (torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))
        >>> sorted(xnas.step(net, opt, batch, batch))
        ['grad_norm', 'loss', 'reward_bound', 'search_loss', 'surviving_ops']
    """

    name = "xnas"

    def __init__(self, space: Space, config: XnasConfig | None = None, seed: int = 0) -> None:
        self.space = as_relaxed(space, self.name)
        self.layout = self.space.mixing_layout
        self.config = config or XnasConfig()
        self.generator = torch.Generator().manual_seed(seed)
        self.log_v = {c: torch.zeros(self.layout.shape) for c in self.layout.cells}
        excluded = () if self.config.include_none or "none" not in self.layout.ops else ("none",)
        self.active = self.layout.mask(excluded)
        self.bound = self.config.reward_bound or 0.0
        self.steps = 0
        self.survivors: list[dict[str, list[int]]] = []

    def weights(self) -> dict[str, torch.Tensor]:
        return {c: expert_weights(v, self.active[c]) for c, v in self.log_v.items()}

    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> dict[str, float]:
        rewards, val = self.rewards(net, search)
        self.update(rewards)
        weights.zero_grad()
        loss = training_loss(net, mixing_for(train[0], self.weights(), self.active), train)
        (self.share(train) * loss).backward()
        grad_norm = weights.step()
        return {"loss": loss.item(), "search_loss": val, "grad_norm": grad_norm, "reward_bound": self.bound,
                "surviving_ops": float(self.surviving())}

    def rewards(self, net: nn.Module, search: Batch) -> tuple[dict[str, torch.Tensor], float]:
        """R = -dL_val/dw for every op's mixing weight (0 for wiped ops), and the search loss (distributed: the
        whole batch's R, summed over the ranks' shares)."""
        mix = {c: w.detach().requires_grad_() for c, w in self.weights().items()}
        loss = search_loss(net, mixing_for(search[0], mix, self.active), search)
        grads = self.sum_over_ranks(torch.autograd.grad(self.share(search) * loss, list(mix.values()),
                                                        allow_unused=True, materialize_grads=True))
        return {c: -g.detach().cpu().float() * self.active[c] for c, g in zip(mix, grads)}, loss.item()

    def update(self, rewards: dict[str, torch.Tensor]) -> None:
        """Exponentiated-gradient update of the experts, then wipeout; counts one step."""
        self.steps += 1
        if self.config.reward_bound is None:
            self.bound = max([self.bound, *(float(r.abs().max()) for r in rewards.values())])
        for c, r in rewards.items():
            v = self.log_v[c] + self.config.eta * r
            v = v - v.masked_fill(~self.active[c], -float("inf")).max(dim=-1, keepdim=True).values
            self.log_v[c] = v.masked_fill(~self.active[c], -float("inf")).clamp_min(-1e30)
            if self.bound > 0:
                self.active[c] = wipeout(self.log_v[c], self.active[c], self.config.eta, self.bound, self.steps,
                                         self.config.total_steps)
        if self.steps % self.config.steps_per_epoch == 0:
            self.survivors.append({c: [int(n) for n in m.sum(dim=-1)] for c, m in self.active.items()})

    def surviving(self) -> int:
        """Surviving ops over both cell types' edges."""
        return sum(int(m.sum()) for m in self.active.values())

    def derive(self) -> Hashable:
        return self.space.derive(self.weights())

    def epoch_metrics(self) -> dict[str, float]:
        return {"surviving_ops": float(self.surviving()),
                "skip_connections": float(skip_connections(self.space, self.derive())),
                "entropy": edge_entropy(self.weights())}

    def outputs(self) -> dict[str, Any]:
        return {"xnas_survivors": {"steps_per_epoch": self.config.steps_per_epoch, "epochs": self.survivors},
                "architecture_weights": {"primitives": list(self.layout.ops),
                                         **{c: w.tolist() for c, w in self.weights().items()}}}

    def figures(self, directory: Path) -> list[Path]:
        """The surviving ops per edge over the search (``survivors.png``)."""
        return [plot_survivors(self.outputs()["xnas_survivors"], Path(directory) / "survivors.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"log_v": {c: v.clone() for c, v in self.log_v.items()},
                "active": {c: m.clone() for c, m in self.active.items()}, "bound": self.bound, "steps": self.steps,
                "survivors": [dict(s) for s in self.survivors], "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.log_v = {c: v.clone() for c, v in state["log_v"].items()}
        self.active = {c: m.clone().bool() for c, m in state["active"].items()}
        self.bound, self.steps = float(state["bound"]), int(state["steps"])
        self.survivors = [{c: list(n) for c, n in s.items()} for s in state["survivors"]]
        self.generator.set_state(state["generator"])


def plot_survivors(record: dict[str, Any], path: str | Path) -> Path:
    """Draws XNAS's surviving ops per epoch (``outputs()["xnas_survivors"]``): one thin line per edge and the
    mean per edge in bold, a panel per cell type; writes ``path`` (.png, .pdf or .svg). Needs matplotlib."""
    from ..report._mpl import new_figure, save_figure

    epochs = record["epochs"]
    if not epochs:
        raise ValueError("no survivor counts recorded yet: XNAS logs them at the end of each epoch")
    cells = list(epochs[0])
    fig = new_figure(4 * len(cells), 3)
    for k, cell in enumerate(cells):
        ax = fig.add_subplot(1, len(cells), k + 1)
        counts = torch.tensor([e[cell] for e in epochs], dtype=torch.float).reshape(len(epochs), -1)
        xs = list(range(1, len(epochs) + 1))
        for edge in range(counts.shape[1]):
            ax.plot(xs, counts[:, edge].tolist(), color="0.75", linewidth=0.8)
        ax.plot(xs, counts.mean(dim=1).tolist(), color="C0", linewidth=2, label="mean")
        ax.set_title(f"{cell} cell")
        ax.set_xlabel("epoch")
        ax.set_ylabel("surviving ops per edge")
        ax.set_ylim(0, float(counts.max()) + 0.5)
        ax.legend(loc="upper right")
    fig.tight_layout()
    return save_figure(fig, path)


register_strategy("xnas", lambda space, config, seed: Xnas(space, config, seed), XnasConfig, needs=(RelaxedSpace,),
                  summary="XNAS: experts with exponentiated gradients and wipeout (Nayman et al. 2019)")
