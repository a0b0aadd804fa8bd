"""DARTS: differentiable architecture search (Liu et al. 2019), with three published variants as settings.

The belief is a matrix of architecture logits alpha per cell type of the space's relaxed view (DARTS space: (14, 8)
for the normal and the reduction cell; NB201: one (6, 5) shared by all cells); every edge runs the softmax mixture
of its ops, and the architecture is derived by the space's own rule (``space.derive``). Each step, as in the DARTS
code, first one Adam step on alpha along the gradient of the search-batch loss, then one SGD step on the shared
weights on the train batch with the updated (fixed) mixture.

* ``order=1``: the gradient of L_val(w, alpha) at the current weights.
* ``order=2``: the unrolled gradient of L_val(w', alpha), w' = w - xi * grad_w L_train(w, alpha), xi the current
  weight lr. Its Hessian-vector product is approximated by central differences, as in the paper (eq. 7-8); see
  :func:`unrolled_arch_gradient`.

Variants (all off by default):

* FairDARTS (Chu et al. 2020): ``relaxation="sigmoid"`` (independent sigmoid weights, no competition between ops)
  and ``zero_one_weight=10``: L_01 = -(1/N) sum_i (sigmoid(alpha_i) - 0.5)^2 pushes every weight to 0 or 1.
* DARTS+ (Liang et al. 2019): ``stop_skip_connections=2``; :meth:`Darts.should_stop` turns true once the derived
  normal cell holds that many skip connections.
* P-DARTS (Chen et al. 2019), its search-space approximation only: at the end of each epoch in ``shrink_epochs``,
  every edge keeps its ``shrink_keep[i]`` strongest ops; the others stop computing (the active mask).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..config import check_finite
from ..estimators.cost import Cost
from ..nets.supernet import MixingWeights, training_loss
from ..ops import PRIMITIVES
from ..optim import WeightOptimizer
from ..spaces.base import MixingLayout, RelaxedSpace, Space, as_relaxed
from .base import Batch, Scheduled, WeightSharingStrategy, register_strategy
from .cost_budget import LatencyLossFields

Closure = Callable[[], torch.Tensor]


@dataclass(frozen=True)
class DartsConfig(Scheduled, LatencyLossFields):
    """DARTS's settings (paper defaults) and its variants' switches.

    Attributes:
        order: 1 (first-order approximation) or 2 (unrolled, second-order).
        arch_lr: Adam learning rate on alpha.
        arch_betas: Adam betas.
        arch_weight_decay: L2 weight decay on alpha (Adam's).
        init_scale: alpha starts as ``init_scale`` times standard normal noise.
        relaxation: ``softmax`` (DARTS) or ``sigmoid`` (FairDARTS).
        zero_one_weight: weight of FairDARTS's zero-one loss (the paper: 10); 0 turns it off.
        stop_skip_connections: DARTS+ early stopping: stop once the derived normal cell holds this many skip
            connections (the paper: 2); 0 turns it off.
        shrink_epochs: P-DARTS: after each of these epochs (1-based, increasing) the op set shrinks.
        shrink_keep: ops kept per edge at each shrink (P-DARTS: 8 -> 5 -> 3), one per entry of ``shrink_epochs``.
        steps_per_epoch: steps in one epoch of the search (only the shrinking schedule uses it; match the search).
        fd_scale: r in the finite-difference step eps = r / ||grad_w' L_val|| (the paper: 0.01).
        cost, cost_setting, latency_alpha, latency_beta: FBNet's latency loss on the search loss,
            CE * alpha * log(LAT)^beta with LAT the relaxed cell's expected cost (:class:`LatencyLossFields`);
            off without a cost.
    """

    schedule_fields = ("steps_per_epoch",)

    order: Literal[1, 2] = 1
    arch_lr: float = 3e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    init_scale: float = 1e-3
    relaxation: Literal["softmax", "sigmoid"] = "softmax"
    zero_one_weight: float = 0.0
    stop_skip_connections: int = 0
    shrink_epochs: tuple[int, ...] = ()
    shrink_keep: tuple[int, ...] = ()
    steps_per_epoch: int = 391
    fd_scale: float = 0.01

    def __post_init__(self) -> None:
        check_finite(self)
        if self.order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {self.order!r}")
        if self.relaxation not in ("softmax", "sigmoid"):
            raise ValueError(f"relaxation must be 'softmax' or 'sigmoid', got {self.relaxation!r}")
        if self.arch_lr <= 0 or self.arch_weight_decay < 0 or self.init_scale < 0 or self.fd_scale <= 0:
            raise ValueError("need arch_lr > 0, arch_weight_decay >= 0, init_scale >= 0 and fd_scale > 0; got "
                             f"{self.arch_lr}, {self.arch_weight_decay}, {self.init_scale}, {self.fd_scale}")
        if not all(0 <= b < 1 for b in self.arch_betas):
            raise ValueError(f"arch_betas must lie in [0, 1), got {self.arch_betas}")
        if self.zero_one_weight < 0 or self.stop_skip_connections < 0 or self.steps_per_epoch < 1:
            raise ValueError("need zero_one_weight >= 0, stop_skip_connections >= 0 and steps_per_epoch >= 1; got "
                             f"{self.zero_one_weight}, {self.stop_skip_connections}, {self.steps_per_epoch}")
        if len(self.shrink_epochs) != len(self.shrink_keep):
            raise ValueError(f"shrink_epochs {self.shrink_epochs} and shrink_keep {self.shrink_keep} need one "
                             "entry each per shrink")
        if any(b <= a for a, b in zip(self.shrink_epochs, self.shrink_epochs[1:])) or any(
                e < 1 for e in self.shrink_epochs):
            raise ValueError(f"shrink_epochs must be increasing epochs >= 1, got {self.shrink_epochs}")
        if any(not 2 <= k <= len(PRIMITIVES) for k in self.shrink_keep):
            raise ValueError(f"shrink_keep entries must lie in 2..{len(PRIMITIVES)}, got {self.shrink_keep}")
        self.check_latency_fields()


def init_logits(generator: torch.Generator, scale: float, layout: MixingLayout) -> dict[str, torch.Tensor]:
    """Architecture logits ``scale * N(0, 1)`` of the layout's shape per cell type, as leaves that require grad."""
    return {cell: (scale * torch.randn(*layout.shape, generator=generator)).requires_grad_() for cell in layout.cells}


def relax(logits: torch.Tensor, active: torch.Tensor, kind: str = "softmax") -> torch.Tensor:
    """Per-edge op weights: the softmax over the active ops (``sigmoid``: independent sigmoids); 0 elsewhere."""
    if kind == "sigmoid":
        return torch.sigmoid(logits) * active
    return torch.softmax(logits.masked_fill(~active, -float("inf")), dim=-1)


def zero_one_loss(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """FairDARTS's L_01 = -(1/N) sum_i (sigmoid(alpha_i) - 0.5)^2: lowest when every weight is 0 or 1."""
    flat = torch.cat([a.flatten() for a in logits])
    return -(torch.sigmoid(flat) - 0.5).square().mean()


def _grad(loss: torch.Tensor, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Gradients of ``loss`` w.r.t. ``inputs``; zeros for inputs it does not depend on (e.g. masked ops)."""
    return list(torch.autograd.grad(loss, list(inputs), allow_unused=True, materialize_grads=True))


@torch.no_grad()
def _axpy(params: Sequence[torch.Tensor], scale: float, directions: Sequence[torch.Tensor]) -> None:
    for p, d in zip(params, directions):
        p.add_(d, alpha=scale)


Reduce = Callable[[list[torch.Tensor]], list[torch.Tensor]]


def finite_difference_hvp(train_loss: Closure, params: Sequence[torch.Tensor], alphas: Sequence[torch.Tensor],
                          vector: Sequence[torch.Tensor], r: float = 0.01, reduce: Reduce = list
                          ) -> list[torch.Tensor]:
    """(grad_alpha L(w + eps v) - grad_alpha L(w - eps v)) / (2 eps) with eps = r / ||v||: the mixed second
    derivative grad^2_{alpha, w} L(w, alpha) applied to ``vector`` (DARTS eq. 8), without double backward.

    ``train_loss`` evaluates L at the current values of ``params``, which are moved in place and left at
    w (up to rounding; callers that need w bit-exactly restore it themselves). ``reduce`` turns each gradient
    into the whole batch's (the sum over ranks of their terms; the identity when alone).
    """
    norm = float(torch.stack([v.double().square().sum() for v in vector]).sum().sqrt())
    if norm == 0.0:
        return [torch.zeros_like(a) for a in alphas]
    eps = r / norm
    _axpy(params, eps, vector)
    plus = reduce(_grad(train_loss(), alphas))
    _axpy(params, -2 * eps, vector)
    minus = reduce(_grad(train_loss(), alphas))
    _axpy(params, eps, vector)
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def unrolled_arch_gradient(train_loss: Closure, val_loss: Closure, params: Sequence[torch.Tensor],
                           alphas: Sequence[torch.Tensor], xi: float,
                           offsets: Sequence[torch.Tensor] | None = None,
                           r: float = 0.01, reduce: Reduce = list) -> tuple[list[torch.Tensor], float]:
    """DARTS's second-order architecture gradient (eq. 7) and the unrolled search loss L_val(w', alpha).

    w' = w - xi * (grad_w L_train(w, alpha) + offsets); the gradient is grad_alpha L_val(w', alpha) -
    xi * grad^2_{alpha, w} L_train(w, alpha) grad_w' L_val(w', alpha), its second term by
    :func:`finite_difference_hvp`. ``offsets`` (constant in alpha, so the formula is unchanged) lets the virtual
    step follow the optimiser, as the DARTS code does: weight decay * w + momentum * momentum buffer.
    ``params`` are modified in place while this runs and restored exactly before it returns. ``reduce`` makes
    every gradient the whole batch's (see :func:`finite_difference_hvp`).

    Example:
        >>> w, a = torch.tensor([1.0], requires_grad=True), torch.tensor([0.5], requires_grad=True)
        >>> grads, _ = unrolled_arch_gradient(lambda: (w * a).square().sum(), lambda: (w + a).sum(), [w], [a], 0.1)
        >>> round(float(grads[0]), 4)  # d/da [w - 0.1 * 2 w a^2 + a] at w=1, a=0.5: 1 - 0.4 * w * a
        0.8
    """
    backup = [p.detach().clone() for p in params]
    step = reduce(_grad(train_loss(), params))
    if offsets is not None:
        step = [g + o for g, o in zip(step, offsets)]
    try:
        _axpy(params, -xi, step)
        val = val_loss()
        grads = reduce(_grad(val, [*alphas, *params]))
        d_alpha, d_w = grads[: len(alphas)], grads[len(alphas):]
        with torch.no_grad():
            for p, b in zip(params, backup):
                p.copy_(b)
        hvp = finite_difference_hvp(train_loss, params, alphas, d_w, r, reduce)
    finally:
        with torch.no_grad():
            for p, b in zip(params, backup):
                p.copy_(b)
    return [da - xi * h for da, h in zip(d_alpha, hvp)], val.item()


def optimizer_offsets(weights: WeightOptimizer) -> list[torch.Tensor]:
    """The parts of an SGD step besides the gradient, as the DARTS code unrolls it: wd * w + mu * buffer."""
    cfg, out = weights.config, []
    for p in weights.params:
        term = cfg.weight_decay * p.detach()
        buffer = weights.sgd.state.get(p, {}).get("momentum_buffer")
        out.append(term if buffer is None else term + cfg.momentum * buffer)
    return out


def shrink(weights: torch.Tensor, active: torch.Tensor, keep: int) -> torch.Tensor:
    """P-DARTS: the active mask keeping, on each edge, the ``keep`` highest-weighted of its active ops."""
    scores = weights.detach().masked_fill(~active, -float("inf"))
    kept = torch.zeros_like(active).scatter_(1, scores.topk(min(keep, active.shape[1]), dim=1).indices, True)
    return kept & active


def skip_connections(space: RelaxedSpace, arch: Hashable) -> int:
    """Skip connections in the first cell type of ``arch`` (DARTS: the normal cell, where DARTS+ stops the
    search at 2; NB201: its one cell)."""
    layout = space.mixing_layout
    return int(space.mixing_from(arch)[layout.cells[0]][:, layout.op_index("skip_connect")].sum())


def edge_entropy(weights: Mapping[str, torch.Tensor]) -> float:
    """Sum over both cells' edges of the entropy of each edge's normalised op weights (nats)."""
    total = 0.0
    for w in weights.values():
        p = w.detach() / w.detach().sum(dim=-1, keepdim=True).clamp_min(1e-12)
        total += float(-(p * p.clamp_min(1e-12).log()).sum())
    return total


def mixing_for(net_input: torch.Tensor, weights: dict[str, torch.Tensor],
               active: dict[str, torch.Tensor]) -> MixingWeights:
    """What the supernet takes: weights on the input's device and dtype, plus masks where some ops are off."""
    out: MixingWeights = {c: w.to(net_input.device, net_input.dtype) for c, w in weights.items()}
    out.update({f"{c}_active": m for c, m in active.items() if not bool(m.all())})
    return out


def search_loss(net: nn.Module, arch: MixingWeights, batch: Batch) -> torch.Tensor:
    """Mean cross-entropy on a search batch (no auxiliary head: the architecture is judged by the main output)."""
    x, y = batch
    return F.cross_entropy(net(x, arch), y)


class Darts(WeightSharingStrategy):
    """DARTS over any space with a relaxed view (and FairDARTS, DARTS+ and P-DARTS through :class:`DartsConfig`).

    Args:
        space: a :class:`~parsecnas.spaces.base.RelaxedSpace` (DARTS, NB201); the strategy works on its
            edge x op view and derives architectures with ``space.derive``.
        config: DARTS's settings.
        seed: seeds alpha's initial noise.
        cost: the additive cost of the latency loss (else the one ``config.cost`` names, if any).

    Attributes:
        alpha: architecture logits per cell type (DARTS space: ``{"normal": (14, 8), "reduce": (14, 8)}``).
        active: bool masks of the ops still in the search (P-DARTS shrinking turns entries off).

    Example:
        >>> from parsecnas.spaces import get_space
        >>> from parsecnas.nets import SuperNet
        >>> from parsecnas.optim import WeightOptimizer, WeightOptimConfig
        >>> net = SuperNet(num_cells=3, channels=4)
        >>> darts = Darts(get_space("darts"), DartsConfig(order=2), seed=0)
        >>> opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        >>> batch = (torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))
        >>> sorted(darts.step(net, opt, batch, batch))
        ['grad_norm', 'loss', 'search_loss']
    """

    name = "darts"

    def __init__(self, space: Space, config: DartsConfig | None = None, seed: int = 0,
                 cost: Cost | None = None) -> None:
        self.space: RelaxedSpace = as_relaxed(space, self.name)
        self.layout = self.space.mixing_layout
        self.config = config or DartsConfig()
        self.latency = self.config.latency_loss(space, cost)
        self.generator = torch.Generator().manual_seed(seed)
        self.alpha = init_logits(self.generator, self.config.init_scale, self.layout)
        self.active = self.layout.mask()
        self.arch_optimizer = torch.optim.Adam(list(self.alpha.values()), lr=self.config.arch_lr,
                                               betas=self.config.arch_betas,
                                               weight_decay=self.config.arch_weight_decay)
        self.steps = 0
        self.shrinks_done = 0

    def weights(self) -> dict[str, torch.Tensor]:
        """The current per-edge op weights (differentiable in alpha)."""
        return {c: relax(a, self.active[c], self.config.relaxation) for c, a in self.alpha.items()}

    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> dict[str, float]:
        self._apply_shrink_schedule()
        val = self.arch_step(net, weights, train, search)
        weights.zero_grad()
        fixed = mixing_for(train[0], {c: w.detach() for c, w in self.weights().items()}, self.active)
        loss = training_loss(net, fixed, train)
        (self.share(train) * loss).backward()
        grad_norm = weights.step()
        self.steps += 1
        return {"loss": loss.item(), "search_loss": val, "grad_norm": grad_norm}

    def arch_step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> float:
        """One Adam step on alpha (first- or second-order gradient, plus the zero-one loss); the search loss.
        Distributed, each rank's losses count by its share of the batch and every gradient is summed over
        ranks."""
        alphas = list(self.alpha.values())
        search_share, train_share = self.share(search), self.share(train)

        def val_loss() -> torch.Tensor:
            loss = search_share * search_loss(net, mixing_for(search[0], self.weights(), self.active), search)
            return loss if self.latency is None else loss * self.latency.factor(self.weights()).to(loss.dtype)

        if self.config.order == 1:
            loss = val_loss()
            grads, val = self.sum_over_ranks(_grad(loss, alphas)), loss.item()
        else:
            def train_loss() -> torch.Tensor:
                return train_share * training_loss(net, mixing_for(train[0], self.weights(), self.active), train)

            grads, val = unrolled_arch_gradient(train_loss, val_loss, weights.params, alphas, weights.lr,
                                                optimizer_offsets(weights), self.config.fd_scale,
                                                self.sum_over_ranks)
        val /= search_share
        if self.config.zero_one_weight > 0:
            extra = _grad(self.config.zero_one_weight * zero_one_loss(alphas), alphas)
            grads = [g + e for g, e in zip(grads, extra)]
        for a, g in zip(alphas, grads):
            a.grad = g.to(a.dtype)
        self.arch_optimizer.step()
        return val

    def _apply_shrink_schedule(self) -> None:
        epochs, keep = self.config.shrink_epochs, self.config.shrink_keep
        while self.shrinks_done < len(epochs) and self.steps >= epochs[self.shrinks_done] * self.config.steps_per_epoch:
            current = self.weights()
            self.active = {c: shrink(current[c], m, keep[self.shrinks_done]) for c, m in self.active.items()}
            self.shrinks_done += 1

    def derive(self) -> Hashable:
        return self.space.derive({c: w.detach() for c, w in self.weights().items()})

    def should_stop(self) -> bool:
        """DARTS+: true once the derived normal cell holds ``stop_skip_connections`` skip connections."""
        limit = self.config.stop_skip_connections
        return limit > 0 and skip_connections(self.space, self.derive()) >= limit

    def epoch_metrics(self) -> dict[str, float]:
        metrics = {"skip_connections": float(skip_connections(self.space, self.derive())),
                   "entropy": edge_entropy(self.weights()),
                   "active_ops": float(sum(int(m.sum()) for m in self.active.values()))}
        if self.latency is not None:
            metrics.update(self.latency.metrics(self.weights(), self.space.mixing_from(self.derive())))
        return metrics

    def outputs(self) -> dict[str, Any]:
        w = self.weights()
        return {"architecture_weights": {"primitives": list(self.layout.ops),
                                         **{c: w[c].detach().tolist() for c in self.layout.cells}}}

    def state_dict(self) -> dict[str, Any]:
        return {"alpha": {c: a.detach().clone() for c, a in self.alpha.items()},
                "active": {c: m.clone() for c, m in self.active.items()},
                "arch_optimizer": self.arch_optimizer.state_dict(), "generator": self.generator.get_state(),
                "steps": self.steps, "shrinks_done": self.shrinks_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for c, a in self.alpha.items():
                a.copy_(state["alpha"][c])
        self.active = {c: m.clone().bool() for c, m in state["active"].items()}
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        self.generator.set_state(state["generator"])
        self.steps, self.shrinks_done = int(state["steps"]), int(state["shrinks_done"])


register_strategy("darts", lambda space, config, seed: Darts(space, config, seed), DartsConfig, needs=(RelaxedSpace,),
                  summary="DARTS (1st/2nd order) and its variants FairDARTS, DARTS+, P-DARTS (Liu et al. 2019)")
