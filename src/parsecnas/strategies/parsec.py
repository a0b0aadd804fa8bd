"""PARSEC: probabilistic architecture search by importance-weighted Monte Carlo empirical Bayes.

Casale, Gordon & Fusi (2019), section 3.3-3.4 and Algorithm 1. The belief is p(alpha | pi), a product of
independent categoricals over the space's decisions. Each step:

1. sample K architectures alpha_k ~ p(alpha | pi);
2. on a search batch, the log-likelihood of the whole batch under the shared weights v with only alpha_k's ops
   running, l_k = log p(y_s | X_s, v, alpha_k) (no graph kept);
3. normalised importance weights w = softmax(l) (stable for gaps of thousands);
4. on a train batch, accumulate sum_k w_k * grad_v [mean cross-entropy of alpha_k] one sample at a time, so only
   one sampled network's activations are alive at once; one weight step;
5. one Adam step on pi along sum_k w_k * grad_pi log p(alpha_k | pi).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..distributions import CategoricalProduct
from ..nets.supernet import training_loss
from ..optim import WeightOptimizer
from ..spaces.base import Space
from .base import Batch, WeightSharingStrategy, register_strategy


@dataclass(frozen=True)
class ParsecConfig:
    """PARSEC's settings (paper defaults).

    Attributes:
        samples: K, architectures sampled per step (the paper used 8 and 16); the fidelity knob.
        arch_lr: Adam learning rate on the logits pi (0.01 when fine-tuning, section 4.2).
        arch_betas: Adam betas.
        min_weight: samples whose importance weight is at most this skip the training pass; 0 (exact) by
            default. Their gradient would be scaled by at most this much.
        warmup_steps: steps at the start that only train the shared weights, on K samples from the current
            (uniform) distribution with equal weights, leaving pi unchanged; 0 (the paper's Algorithm 1) by
            default. Untrained weights favour whatever fits fastest (parameter-free ops); a warm-up avoids
            locking that bias into pi, as DARTS-family methods do with their warm-up epochs.
    """

    samples: int = 16
    arch_lr: float = 0.02
    arch_betas: tuple[float, float] = (0.5, 0.999)
    min_weight: float = 0.0
    warmup_steps: int = 0

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples (K) must be >= 1, got {self.samples}")
        if self.arch_lr <= 0:
            raise ValueError(f"arch_lr must be > 0, got {self.arch_lr}")
        if not all(0 <= b < 1 for b in self.arch_betas):
            raise ValueError(f"arch_betas must lie in [0, 1), got {self.arch_betas}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if not 0 <= self.min_weight < 1:
            raise ValueError(f"min_weight must lie in [0, 1), got {self.min_weight}")


def importance_weights(log_likelihoods: torch.Tensor) -> torch.Tensor:
    """Normalised importance weights, softmax of the log-likelihoods (shifted by their max: finite for any gap)."""
    return torch.softmax(log_likelihoods - log_likelihoods.max(), dim=0)


def effective_sample_size(weights: torch.Tensor) -> float:
    """Kish's effective sample size 1 / sum w_k^2 of normalised weights: K when uniform, 1 when degenerate."""
    return float(1.0 / weights.square().sum())


def batch_log_likelihood(net: nn.Module, arch: Any, batch: Batch) -> torch.Tensor:
    """log p(y | X, v, alpha): the summed log-probability of a batch's labels under one architecture."""
    x, y = batch
    return -F.cross_entropy(net(x, arch), y, reduction="sum")


class Parsec(WeightSharingStrategy):
    """PARSEC over any space with a categorical view (the DARTS cell space by default).

    Args:
        space: the search space; its decisions define p(alpha | pi).
        config: PARSEC's settings.
        seed: seeds the strategy's own sampling generator.
        distribution: an existing (e.g. warm-started) distribution; a uniform one by default.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> from parsecnas.nets import SuperNet
        >>> from parsecnas.optim import WeightOptimizer, WeightOptimConfig
        >>> space, net = get_space("darts"), SuperNet(num_cells=3, channels=4)
        >>> parsec = Parsec(space, ParsecConfig(samples=2), seed=0)
        >>> opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        >>> batch = (torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))
        >>> sorted(parsec.step(net, opt, batch, batch))
        ['ess', 'grad_norm', 'loss', 'search_nll']
    """

    name = "parsec"

    def __init__(self, space: Space, config: ParsecConfig | None = None, seed: int = 0,
                 distribution: CategoricalProduct | None = None) -> None:
        self.space = space
        self.config = config or ParsecConfig()
        self.distribution = distribution or CategoricalProduct(space.decisions)
        self.generator = torch.Generator().manual_seed(seed)
        self.steps_done = 0
        self.arch_optimizer = torch.optim.Adam(self.distribution.parameters(), lr=self.config.arch_lr,
                                               betas=self.config.arch_betas)

    def sample(self) -> tuple[torch.Tensor, list[Any]]:
        """K choice vectors and the architectures they describe."""
        choices = self.distribution.sample(self.config.samples, self.generator)
        return choices, [self.space.from_choices(row) for row in choices.tolist()]

    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> dict[str, float]:
        choices, archs = self.sample()
        warming_up = self.steps_done < self.config.warmup_steps
        self.steps_done += 1
        if warming_up:
            log_lik = torch.zeros(len(archs))
        else:
            with torch.no_grad():
                log_lik = torch.stack([batch_log_likelihood(net, arch, search) for arch in archs])
        w = importance_weights(log_lik)
        weights.zero_grad()
        loss = 0.0
        for k, arch in enumerate(archs):
            if w[k] <= self.config.min_weight:
                continue
            sample_loss = training_loss(net, arch, train)
            (w[k] * sample_loss).backward()
            loss += float(w[k]) * sample_loss.item()
        grad_norm = weights.step()
        if not warming_up:
            self.update_distribution(choices, w)
        stats = {"loss": loss, "ess": effective_sample_size(w), "grad_norm": grad_norm}
        if not warming_up:
            stats["search_nll"] = float(-(w * log_lik).sum() / search[1].numel())
        return stats

    def update_distribution(self, choices: torch.Tensor, w: torch.Tensor) -> None:
        """One Adam step on pi along sum_k w_k grad_pi log p(alpha_k | pi) (gradient ascent)."""
        self.arch_optimizer.zero_grad(set_to_none=True)
        objective = (w.detach() * self.distribution.log_prob(choices)).sum()
        (-objective).backward()
        self.arch_optimizer.step()

    def derive(self) -> Any:
        return self.space.from_choices(self.distribution.mode().tolist())

    def most_probable(self, n: int) -> list[tuple[Any, float]]:
        """The ``n`` most probable architectures and their probabilities under p(alpha | pi)."""
        return [(self.space.from_choices(c), p) for c, p in self.distribution.most_probable(n)]

    def epoch_metrics(self) -> dict[str, float]:
        with torch.no_grad():
            return {"entropy": float(self.distribution.entropy()),
                    "mode_probability": float(self.distribution.log_prob(self.distribution.mode()).exp())}

    def outputs(self) -> dict[str, Any]:
        top = [{"probability": p, "genotype": self.space.format(a)} for a, p in self.most_probable(10)]
        return {"distribution": self.distribution.export(), "top_architectures": top}

    def state_dict(self) -> dict[str, Any]:
        return {"distribution": self.distribution.state_dict(), "arch_optimizer": self.arch_optimizer.state_dict(),
                "generator": self.generator.get_state(), "steps_done": self.steps_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.distribution.load_state_dict(state["distribution"])
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        self.generator.set_state(state["generator"])
        self.steps_done = int(state.get("steps_done", 0))


register_strategy("parsec", lambda space, config, seed: Parsec(space, config, seed))
