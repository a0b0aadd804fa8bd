"""ENAS (Pham et al. 2018): an LSTM controller emits the architecture decision by decision, each choice
conditioned on the ones before it, and is trained with REINFORCE on the shared-weight accuracy of its samples.

The controller: an ``LSTMCell`` reads a learnt start vector, then at each decision the embedding of the choice
just made; a linear head per decision turns its hidden state into logits, bounded as in the paper by a
temperature T and a tanh constant C, ``logits = C * tanh(z / T)``. Its samples come from the strategy's own
generator.

The two phases of the paper alternate within the search loop's steps: every step trains the shared weights on
the train batch along one path sampled from the controller (no gradient to the controller), and every
``controller_every`` steps the controller takes an Adam step on ``-(R - b) * log p(alpha) - lambda * H``,
where R is the accuracy of ``controller_samples`` fresh samples on the search batch with the shared weights,
b an exponential moving average of R (decay ``baseline_decay``) and H the entropy of the sampled sequence.
The paper's settings are the defaults (Adam lr 3.5e-4, T = 5, C = 2.5, entropy weight 1e-4, baseline decay
0.99). The derived architecture is the controller's greedy decoding (the most probable choice at each
decision, given the earlier ones).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..config import check_finite
from ..nets.supernet import training_loss
from ..optim import WeightOptimizer
from ..spaces.base import Space
from .base import Batch, Scheduled, WeightSharingStrategy, register_strategy


@dataclass(frozen=True)
class EnasConfig(Scheduled):
    """Attributes:
        hidden: width of the controller's LSTM, its embeddings and start vector (the paper: 100; 64 here).
        temperature: T in ``C * tanh(z / T)`` (the paper: 5); 0 turns the division off.
        tanh_constant: C (the paper: 2.5); 0 turns the tanh bound off.
        controller_lr: Adam learning rate of the controller (the paper: 3.5e-4).
        baseline_decay: weight of the old baseline in its moving average (the paper: 0.99).
        entropy_weight: bonus on the sampled sequence's entropy (the paper: 1e-4).
        controller_samples: architectures sampled per controller step; their advantages are averaged.
        controller_every: a controller step after every this many weight steps.
        warmup_fraction: share of the steps that train weights only (the controller still samples the paths).
        epochs: the search's epochs (set by the search loop).
        steps_per_epoch: steps per epoch (set by the search loop).
    """

    hidden: int = 64
    temperature: float = 5.0
    tanh_constant: float = 2.5
    controller_lr: float = 3.5e-4
    baseline_decay: float = 0.99
    entropy_weight: float = 1e-4
    controller_samples: int = 1
    controller_every: int = 1
    warmup_fraction: float = 0.0
    epochs: int = 1
    steps_per_epoch: int = 1

    def __post_init__(self) -> None:
        check_finite(self)
        checks = [(self.hidden >= 1, f"hidden must be >= 1, got {self.hidden}"),
                  (self.temperature >= 0 and self.tanh_constant >= 0,
                   f"temperature and tanh_constant must be >= 0, got {self.temperature}, {self.tanh_constant}"),
                  (self.controller_lr > 0, f"controller_lr must be > 0, got {self.controller_lr}"),
                  (0 <= self.baseline_decay < 1, f"baseline_decay must be in [0, 1), got {self.baseline_decay}"),
                  (self.entropy_weight >= 0, f"entropy_weight must be >= 0, got {self.entropy_weight}"),
                  (self.controller_samples >= 1 and self.controller_every >= 1,
                   f"controller_samples and controller_every must be >= 1, got {self.controller_samples}, "
                   f"{self.controller_every}"),
                  (0 <= self.warmup_fraction < 1, f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}"),
                  (self.epochs >= 1 and self.steps_per_epoch >= 1, "epochs and steps_per_epoch must be >= 1")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


class Controller(nn.Module):
    """An autoregressive policy over a sequence of categorical decisions of the given ``sizes``.

    Example:
        >>> controller = Controller([3, 4, 2], hidden=8)
        >>> choices, log_p, entropy = controller(generator=torch.Generator().manual_seed(0))
        >>> len(choices), bool(torch.isclose(controller(choices)[1], log_p))
        (3, True)
    """

    def __init__(self, sizes: Sequence[int], hidden: int = 64, temperature: float = 5.0,
                 tanh_constant: float = 2.5) -> None:
        super().__init__()
        self.sizes, self.temperature, self.tanh_constant = tuple(sizes), temperature, tanh_constant
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.cell = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, n) for n in self.sizes)
        self.embeddings = nn.ModuleList(nn.Embedding(n, hidden) for n in self.sizes)
        for p in self.parameters():  # the paper's initialisation
            nn.init.uniform_(p, -0.1, 0.1)

    def logits(self, h: torch.Tensor, d: int) -> torch.Tensor:
        """The bounded logits of decision ``d`` from hidden state ``h`` (1, hidden)."""
        z = self.heads[d](h)[0]
        if self.temperature:
            z = z / self.temperature
        return self.tanh_constant * torch.tanh(z) if self.tanh_constant else z

    def forward(self, choices: Sequence[int] | None = None, generator: torch.Generator | None = None,
                greedy: bool = False) -> tuple[list[int], torch.Tensor, torch.Tensor]:
        """Samples a sequence (or scores the given ``choices``, or decodes greedily); returns the choices, the
        sequence's log-probability and its entropy (the sum of the per-decision entropies along it)."""
        x = self.start
        state: tuple[torch.Tensor, torch.Tensor] | None = None
        out, log_p, entropy = [], self.start.new_zeros(()), self.start.new_zeros(())
        for d in range(len(self.sizes)):
            state = self.cell(x, state)
            logp = F.log_softmax(self.logits(state[0], d), dim=0)
            if choices is not None:
                k = int(choices[d])
            elif greedy:
                k = int(logp.argmax())
            else:
                k = int(torch.multinomial(logp.detach().exp(), 1, generator=generator))
            out.append(k)
            log_p = log_p + logp[k]
            entropy = entropy - (logp.exp() * logp).sum()
            x = self.embeddings[d](torch.tensor([k]))
        return out, log_p, entropy


class Enas(WeightSharingStrategy):
    """ENAS over any space (the controller needs only the space's decisions).

    Example:
        >>> from parsecnas.spaces import get_space
        >>> enas = Enas(get_space("nb201"), EnasConfig(hidden=8), seed=0)
        >>> len(enas.space.to_choices(enas.derive()))
        6
    """

    name = "enas"

    def __init__(self, space: Space, config: EnasConfig | None = None, seed: int = 0) -> None:
        super().__init__()
        self.space, self.config = space, config or EnasConfig()
        c = self.config
        self.generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng():  # the controller's initialisation from the seed, not the global RNG
            torch.manual_seed(seed)
            self.controller = Controller([d.size for d in space.decisions], c.hidden, c.temperature,
                                         c.tanh_constant)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=c.controller_lr)
        self.baseline: float | None = None
        self.steps_done = 0

    @property
    def warming_up(self) -> bool:
        return self.steps_done < round(self.config.warmup_fraction * self.config.epochs * self.config.steps_per_epoch)

    def sample(self) -> tuple[Hashable, torch.Tensor, torch.Tensor]:
        """One architecture from the controller, with its log-probability and entropy (with their graph)."""
        choices, log_p, entropy = self.controller(generator=self.generator)
        return self.space.from_choices(choices), log_p, entropy

    def step(self, net: nn.Module, weights: WeightOptimizer, train: Batch, search: Batch) -> dict[str, float]:
        with torch.no_grad():
            arch: Any = self.sample()[0]
        weights.zero_grad()
        loss = training_loss(net, arch, train)
        (self.share(train) * loss).backward()
        stats = {"loss": loss.item(), "grad_norm": weights.step()}
        if not self.warming_up and (self.steps_done + 1) % self.config.controller_every == 0:
            stats.update(self._controller_step(net, search))
        self.steps_done += 1
        return stats

    def _controller_step(self, net: nn.Module, search: Batch) -> dict[str, float]:
        """REINFORCE with the moving-average baseline and the entropy bonus, on fresh samples' accuracies."""
        self.optimizer.zero_grad(set_to_none=True)
        total, rewards, entropies = self.controller.start.new_zeros(()), [], []
        for _ in range(self.config.controller_samples):
            arch, log_p, entropy = self.sample()
            reward = self.batch_accuracy(net, arch, search)
            baseline = reward if self.baseline is None else self.baseline
            total = total - (reward - baseline) * log_p - self.config.entropy_weight * entropy
            decay = self.config.baseline_decay
            self.baseline = reward if self.baseline is None else decay * self.baseline + (1 - decay) * reward
            rewards.append(reward)
            entropies.append(float(entropy.detach()))
        (total / self.config.controller_samples).backward()
        self.optimizer.step()
        return {"reward": sum(rewards) / len(rewards), "baseline": float(self.baseline or 0.0),
                "sample_entropy": sum(entropies) / len(entropies)}


    def derive(self) -> Hashable:
        with torch.no_grad():
            return self.space.from_choices(self.controller(greedy=True)[0])

    def epoch_metrics(self) -> dict[str, float]:
        """The policy along its greedy decoding: the derived architecture's log-probability, and the entropy of
        the decisions on that path (each given the choices before it)."""
        with torch.no_grad():
            _, log_p, entropy = self.controller(greedy=True)
        return {"entropy": float(entropy), "greedy_log_prob": float(log_p)}

    def state_dict(self) -> dict[str, Any]:
        return {"controller": self.controller.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "baseline": self.baseline, "steps_done": self.steps_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.baseline = None if state["baseline"] is None else float(state["baseline"])
        self.steps_done = int(state["steps_done"])


register_strategy("enas", lambda space, config, seed: Enas(space, config, seed), EnasConfig,
                  summary="ENAS: an LSTM controller trained with REINFORCE on shared-weight accuracy "
                          "(Pham et al. 2018)")
