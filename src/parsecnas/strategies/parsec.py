"""PARSEC: probabilistic architecture search by importance-weighted Monte Carlo empirical Bayes.

Casale, Gordon & Fusi (2019), section 3.3-3.4 and Algorithm 1. The belief is p(alpha | pi), a product of
independent categoricals over the space's decisions. Each step:

1. sample K architectures alpha_k ~ q (q = p(alpha | pi) in the paper; optionally a defensive mixture);
2. on a search batch, the log-likelihood under the shared weights v with only alpha_k's ops running,
   l_k = log p(y_s | X_s, v, alpha_k) (summed over the batch in the paper; optionally per example), no graph kept;
3. normalised importance weights w = softmax(beta * l + log p/q) (beta = 1 and p = q in the paper);
4. on a train batch, accumulate sum_k w_k * grad_v [mean cross-entropy of alpha_k] one sample at a time, so only
   one sampled network's activations are alive at once; one weight step;
5. one Adam step on pi along sum_k (w_k - rho_k) grad_pi log p(alpha_k | pi), rho the control variate
   (0 in the paper), then the optional entropy floor.

Presets: ``paper`` is Algorithm 1 exactly; ``robust`` (the default) adds the remedy that the NB201 yardstick in
``benchmarks/bench_parsec_nb201.py`` chose (the per-example likelihood). Every remedy is its own field; a field
left ``None`` takes the preset's value (:meth:`ParsecConfig.resolved`), so ``preset: paper`` plus one remedy is
one flag more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..distributions import CategoricalProduct
from ..estimators.cost import Cost
from ..estimators.cost_specs import make_cost
from ..nets.supernet import training_loss
from ..optim import WeightOptimizer
from ..spaces.base import Space, choice_op
from .base import Batch, WeightSharingStrategy, register_strategy
from .cost_budget import CostBudget
from .parsec_config import KNOWN_OPS as KNOWN_OPS
from .parsec_config import PRESETS as PRESETS
from .parsec_config import ParsecConfig
from .parsec_maths import (
    control_variate_weights,
    decision_entropies,
    effective_sample_size,
    entropy_adapted_samples,
    importance_weights,
    mixture_probs,
    proposal_log_ratio,
    raise_entropy,
)


def batch_log_likelihood(net: nn.Module, arch: Any, batch: Batch) -> torch.Tensor:
    """log p(y | X, v, alpha): the summed log-probability of a batch's labels under one architecture."""
    x, y = batch
    return -F.cross_entropy(net(x, arch), y, reduction="sum")


class Parsec(WeightSharingStrategy):
    """PARSEC over any space with a categorical view (the DARTS cell space by default).

    Args:
        space: the search space; its decisions define p(alpha | pi).
        config: PARSEC's settings (the ``robust`` preset by default; ``ParsecConfig(preset="paper")`` for
            Algorithm 1 exactly).
        seed: seeds the strategy's own sampling generator.
        distribution: an existing (e.g. warm-started) distribution; a uniform one by default.
        cost: the additive cost to budget (else the one ``config.cost`` names, if any).

    Attributes:
        history: per finished epoch, the marginal probability of each op over all decisions.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> from parsecnas.nets import SuperNet
        >>> from parsecnas.optim import WeightOptimizer, WeightOptimConfig
        >>> space, net = get_space("darts"), SuperNet(num_cells=3, channels=4)
        >>> parsec = Parsec(space, ParsecConfig(samples=2, preset="paper"), seed=0)
        >>> opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        >>> batch = (torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))
        >>> sorted(k for k in parsec.step(net, opt, batch, batch) if not k.startswith("win_"))
        ['ess', 'grad_norm', 'loss', 'passes', 'samples', 'search_nll']
    """

    name = "parsec"
    min_metrics = ("ess",)

    def __init__(self, space: Space, config: ParsecConfig | None = None, seed: int = 0,
                 distribution: CategoricalProduct | None = None, cost: Cost | None = None) -> None:
        self.space = space
        self.config = (config or ParsecConfig()).resolved()
        self.distribution = distribution or CategoricalProduct(space.decisions)
        self.ops = sorted({choice_op(c) for d in space.decisions for c in d.choices})
        self.op_of = torch.tensor([[self.ops.index(choice_op(c)) for c in d.choices]
                                   + [-1] * (self.distribution.valid.shape[1] - d.size) for d in space.decisions])
        self._exclude(self.config.exclude_ops or ())
        self.generator = torch.Generator().manual_seed(seed)
        self.steps_done = 0
        self.history: list[dict[str, float]] = []
        self.arch_optimizer = torch.optim.Adam(self.distribution.parameters(), lr=self.config.arch_lr,
                                               betas=self.config.arch_betas)
        self.budget = self._budget(cost)

    def _budget(self, cost: Cost | None) -> CostBudget | None:
        if cost is None and self.config.cost is None:
            return None
        cost = cost or make_cost(str(self.config.cost), self.space, self.config.cost_setting)
        if self.config.cost_target is None:
            raise ValueError("a cost budget needs cost_target (in the cost's unit)")
        table = cost.table()  # raises for a cost that is not additive
        return CostBudget(table.padded(self.distribution.valid.shape[1]), table.offset, self.config.cost_target,
                          self.config.cost_method, self.config.cost_weight)

    def _exclude(self, ops: tuple[str, ...]) -> None:
        unknown = [op for op in ops if op not in self.ops]
        if unknown:
            raise ValueError(f"exclude_ops names ops the {self.space.name!r} space does not have: {unknown}; "
                             f"its ops: {', '.join(self.ops)}")
        if ops:
            excluded = torch.zeros_like(self.distribution.valid)
            for op in ops:
                excluded |= self.op_of == self.ops.index(op)
            self.distribution.restrict(~excluded)

    @property
    def splits_samples(self) -> bool:
        """Whether each rank runs a share of the K samples on whole batches (``parallel``: ``samples``, or
        ``auto`` with K >= ranks) rather than all K samples on a share of each batch."""
        mode = self.config.parallel
        return mode == "samples" or (mode == "auto" and self.config.samples >= self.distributed.world_size)

    @property
    def shards_batches(self) -> bool:
        return not self.splits_samples

    def _mine(self, k: int) -> range:
        """The samples (of ``k``) this rank evaluates and trains on."""
        return self.distributed.shard(k) if self.splits_samples else range(k)

    @property
    def warming_up(self) -> bool:
        return self.steps_done < int(self.config.warmup_steps or 0)

    def num_samples(self) -> int:
        """K for the next step: fixed, or adapted to the entropy when ``min_samples`` is set."""
        if self.config.min_samples is None:
            return self.config.samples
        with torch.no_grad():
            h = float(self.distribution.entropy())
        h_max = float(self.distribution.valid.sum(dim=1).double().log().sum())
        return entropy_adapted_samples(h, h_max, self.config.min_samples, self.config.samples)

    def sample(self, k: int | None = None) -> tuple[torch.Tensor, list[Any]]:
        """K choice vectors drawn from p(alpha | pi) and the architectures they describe."""
        choices = self.distribution.sample(k or self.config.samples, self.generator)
        return choices, [self.space.from_choices(row) for row in choices.tolist()]

    def propose(self, k: int) -> tuple[torch.Tensor, list[Any], torch.Tensor | None]:
        """K draws from the proposal q, the architectures, and log p/q per draw (``None`` when q = p)."""
        eps = float(self.config.proposal_eps or 0.0)
        if eps == 0 or self.warming_up:
            choices, archs = self.sample(k)
            return choices, archs, None
        with torch.no_grad():
            log_p = self.distribution.log_probs()
            q = mixture_probs(log_p.exp(), self.distribution.valid, eps)
            choices = torch.multinomial(q, k, replacement=True, generator=self.generator).t().contiguous()
            ratio = proposal_log_ratio(log_p, q.log(), choices)
        return choices, [self.space.from_choices(row) for row in choices.tolist()], ratio

    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> dict[str, float]:
        warming_up = self.warming_up
        choices, archs, log_ratio = self.propose(self.num_samples())
        examples = search[1].numel() if self.splits_samples else int(self.distributed.all_sum(
            torch.tensor([search[1].numel()])))
        log_lik = torch.zeros(len(archs)) if warming_up else self.log_likelihoods(net, archs, search)
        w = self.weigh(log_lik, examples, log_ratio)
        if self.config.train_on == "uniform":
            r = max(1, int(self.config.train_samples or 0))
            _, trained = self.sample_uniform(r)
            loss, passes, grad_norm = self._train_weights(net, weights, trained, torch.full((r,), 1.0 / r), train,
                                                          resample=False)
        else:
            loss, passes, grad_norm = self._train_weights(net, weights, archs, w, train)
        self.learn(choices, w, log_ratio)
        stats = {"loss": loss, "ess": effective_sample_size(w), "passes": passes / len(archs),
                 "samples": float(len(archs)), "grad_norm": grad_norm}
        if not warming_up:
            stats["search_nll"] = float(-(w * log_lik).sum() / examples)
            stats.update(self._op_mix(choices[int(w.argmax())], "win_"))
        return stats

    @torch.no_grad()
    def log_likelihoods(self, net: nn.Module, archs: list[Any], search: Batch) -> torch.Tensor:
        """(K,) summed search-batch log-likelihood of each sample, no graph kept. Distributed, each rank
        evaluates its share of the samples and they are all-gathered (``samples``), or each rank evaluates all
        of them on its share of the batch and they are summed (``data``); every rank gets the same K values."""
        if not self.splits_samples:
            return self.distributed.all_sum(torch.stack([batch_log_likelihood(net, a, search) for a in archs]))
        mine = [batch_log_likelihood(net, archs[k], search) for k in self._mine(len(archs))]
        local = torch.stack(mine) if mine else torch.zeros(0, device=search[1].device)
        return self.distributed.gather(local, len(archs))

    def weigh(self, log_lik: torch.Tensor, batch_size: int, log_ratio: torch.Tensor | None = None) -> torch.Tensor:
        """Importance weights of K samples from their summed search-batch log-likelihoods (equal in warm-up)."""
        if self.warming_up:
            return torch.full((len(log_lik),), 1.0 / len(log_lik))
        scale = 1.0 / batch_size if self.config.likelihood == "example" else 1.0
        return importance_weights(log_lik * scale, float(self.config.beta or 1.0), log_ratio)

    def learn(self, choices: torch.Tensor, w: torch.Tensor, log_ratio: torch.Tensor | None = None) -> None:
        """The end of a step: pi's update (not during warm-up), the step count and the per-epoch diagnostics."""
        if not self.warming_up:
            self.update_distribution(choices, w, log_ratio)
        self.steps_done += 1
        if self.steps_done % self.config.steps_per_epoch == 0:
            self.history.append(self.op_marginals())

    def sample_uniform(self, n: int) -> tuple[torch.Tensor, list[Any]]:
        """``n`` architectures drawn uniformly over the choices pi may take (excluded ops stay excluded)."""
        valid = self.distribution.valid.float()
        choices = torch.multinomial(valid / valid.sum(dim=1, keepdim=True), n, replacement=True,
                                    generator=self.generator).t().contiguous()
        return choices, [self.space.from_choices(row) for row in choices.tolist()]

    def _train_weights(self, net: nn.Module, weights: WeightOptimizer, archs: list[Any], w: torch.Tensor,
                       train: Batch, resample: bool = True) -> tuple[float, int, float]:
        """One weight step on sum_k c_k * loss_k, one sample's graph at a time; returns the loss, the passes run
        and the gradient norm. c = w (``train_samples`` 0 or ``resample`` off), or resampled counts / R (unbiased
        for w)."""
        coefficients = self.training_coefficients(w) if resample else w
        scale = 1.0 if self.splits_samples else self.share(train)
        weights.zero_grad()
        loss, passes = 0.0, 0
        for k in self._mine(len(archs)):
            if coefficients[k] <= self.config.min_weight:
                continue
            sample_loss = training_loss(net, archs[k], train)
            (coefficients[k] * scale * sample_loss).backward()
            loss += float(coefficients[k]) * sample_loss.item()
            passes += 1
        if self.splits_samples and self.distributed.active:  # each rank ran its share of the passes
            loss, passes = self.distributed.all_sum(torch.tensor([loss, passes], dtype=torch.float64)).tolist()
        return loss, int(passes), weights.step()

    def training_coefficients(self, w: torch.Tensor) -> torch.Tensor:
        """How much each sample's training loss counts in the weight step: w itself, or R multinomial draws
        from w as counts / R (``train_samples`` R), whose expectation is w."""
        r = int(self.config.train_samples or 0)
        if r == 0:
            return w
        draws = torch.multinomial(w, r, replacement=True, generator=self.generator)
        return torch.bincount(draws, minlength=len(w)).to(w.dtype) / r

    def update_distribution(self, choices: torch.Tensor, w: torch.Tensor,
                            log_ratio: torch.Tensor | None = None) -> None:
        """One Adam step on pi along sum_k (w_k - rho_k) grad_pi log p(alpha_k | pi) (gradient ascent), then the
        entropy floor. rho = 0 unless ``baseline``."""
        coefficients = w.detach()
        if self.config.baseline:
            coefficients = coefficients - control_variate_weights(log_ratio, len(w))
        self.arch_optimizer.zero_grad(set_to_none=True)
        objective = (coefficients * self.distribution.log_prob(choices)).sum()
        loss = -objective if self.budget is None else self.budget.loss(self.distribution) - objective
        loss.backward()
        self.arch_optimizer.step()
        if self.budget is not None:
            self.budget.after_step(self.distribution)
        if self.config.entropy_floor:
            self.apply_entropy_floor(float(self.config.entropy_floor))

    def apply_entropy_floor(self, fraction: float) -> None:
        """Mixes each decision with its uniform until its entropy is >= ``fraction`` x log(number of choices)."""
        d = self.distribution
        with torch.no_grad():
            floor = fraction * d.valid.sum(dim=1).double().log()
            probs = raise_entropy(d.probs().double(), d.valid, floor)
            d.logits.copy_(probs.clamp_min(1e-30).log().masked_fill(~d.valid, 0.0).to(d.logits.dtype))

    def _op_mix(self, row: torch.Tensor, prefix: str) -> dict[str, float]:
        ops = self.op_of.gather(1, row[:, None]).squeeze(1)
        return {f"{prefix}{op}": float((ops == i).float().mean()) for i, op in enumerate(self.ops)}

    def op_marginals(self) -> dict[str, float]:
        """The probability of each op, averaged over decisions (a drift to ``none``/skip/pool shows here)."""
        with torch.no_grad():
            probs = self.distribution.probs()
        return {op: float(probs.masked_fill(self.op_of != i, 0.0).sum(dim=1).mean()) for i, op in enumerate(self.ops)}

    def derive(self) -> Any:
        return self.space.from_choices(self.distribution.mode().tolist())

    def most_probable(self, n: int) -> list[tuple[Any, float]]:
        """The ``n`` most probable architectures and their probabilities under p(alpha | pi)."""
        return [(self.space.from_choices(c), p) for c, p in self.distribution.most_probable(n) if p > 0]

    def progress_metrics(self) -> dict[str, float]:
        with torch.no_grad():
            metrics = {"entropy": float(self.distribution.entropy())}
            if self.budget is not None:
                metrics["cost_expected"] = float(self.budget.expected(self.distribution))
            return metrics

    def epoch_metrics(self) -> dict[str, float]:
        with torch.no_grad():
            probs = self.distribution.probs()
            metrics = {"entropy": float(self.distribution.entropy()),
                       "min_decision_entropy": float(decision_entropies(probs).min()),
                       "mode_probability": float(self.distribution.log_prob(self.distribution.mode()).exp())}
        if self.budget is not None:
            metrics.update(self.budget.metrics(self.distribution, seed=self.steps_done))
        return {**metrics, **{f"p_{op}": p for op, p in self.op_marginals().items()}}

    def outputs(self) -> dict[str, Any]:
        top = [{"probability": p, "architecture": self.space.to_plain(a)} for a, p in self.most_probable(10)]
        out: dict[str, Any] = {"distribution": self.distribution.export(), "top_architectures": top,
                               "op_marginals": {"ops": self.ops, "epochs": self.history}}
        if self.budget is not None:
            out["cost_budget"] = {"cost": self.config.cost, **self.budget.metrics(self.distribution, 4096)}
        return out

    def figures(self, directory: Path) -> list[Path]:
        """The op marginals per epoch (``op_marginals.png``)."""
        if not self.history:
            return []
        from ..report.marginals import plot_op_marginals

        return [plot_op_marginals(self.history, Path(directory) / "op_marginals.png")]

    def warm_start(self, exported: dict[str, Any]) -> list[str]:
        return self.distribution.transfer_from(exported)

    def state_dict(self) -> dict[str, Any]:
        return {"distribution": self.distribution.state_dict(), "arch_optimizer": self.arch_optimizer.state_dict(),
                "generator": self.generator.get_state(), "steps_done": self.steps_done,
                "history": [dict(h) for h in self.history],
                **({} if self.budget is None else {"budget": self.budget.state_dict()})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.distribution.load_state_dict(state["distribution"])
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        self.generator.set_state(state["generator"])
        self.steps_done = int(state.get("steps_done", 0))
        self.history = [dict(h) for h in state.get("history", [])]
        if self.budget is not None and "budget" in state:
            self.budget.load_state_dict(state["budget"])


register_strategy("parsec", lambda space, config, seed: Parsec(space, config, seed), ParsecConfig,
                  summary="PARSEC: categorical distributions learnt by importance-weighted Monte Carlo EB "
                          "(Casale et al. 2019); runs only the K sampled paths")
