"""The settings of PARSEC (:class:`ParsecConfig`) and its two presets.

``paper`` is Algorithm 1 of Casale, Gordon & Fusi (2019) exactly; ``robust`` (the default) adds the remedy the
NB201 yardstick chose. Every remedy is its own field, and a field left ``None`` takes the preset's value
(:meth:`ParsecConfig.resolved`).

Example:
    >>> ParsecConfig(preset="paper", likelihood="example").resolved().likelihood
    'example'
    >>> ParsecConfig().resolved().likelihood
    'example'
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from ..config import check_finite
from ..estimators.cost_specs import check_additive_spec
from ..ops import PRIMITIVES
from ..spaces.nb201 import NB201_OPS
from .base import Scheduled
from .cost_budget import METHODS

KNOWN_OPS = frozenset(PRIMITIVES) | frozenset(NB201_OPS)  # what exclude_ops may name (each space checks its own)

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"likelihood": "batch", "beta": 1.0, "baseline": False, "proposal_eps": 0.0, "entropy_floor": 0.0,
              "warmup_fraction": 0.0, "exclude_ops": (), "min_samples": None, "train_samples": 0,
              "train_on": "posterior"},
    "robust": {"likelihood": "example", "beta": 1.0, "baseline": False, "proposal_eps": 0.0, "entropy_floor": 0.0,
               "warmup_fraction": 0.0, "exclude_ops": (), "min_samples": None, "train_samples": 0,
               "train_on": "posterior"},
}
"""Each preset's value for every remedy field (see :class:`ParsecConfig`). ``robust`` is Algorithm 1 with the
per-example (tempered) likelihood: on the NB201 yardstick that one change took the derived cell from 86.7 to
92-93% (CIFAR-10 table test accuracy), while the control variate, a warm-up and one resampled training pass per
step each made it worse at the same step count, and neither a hotter or colder likelihood (beta 0.25, 4, 16) nor
a smaller ``arch_lr`` (0.005) beat beta 1 (README, ``benchmarks/bench_parsec_nb201.py --temperature``)."""


@dataclass(frozen=True)
class ParsecConfig(Scheduled):
    """PARSEC's settings. Remedy fields left ``None`` take the value of ``preset``.

    Attributes:
        preset: ``robust`` (default: Algorithm 1 with the per-example likelihood, the remedy the NB201 yardstick
            chose) or ``paper`` (Algorithm 1 exactly: summed batch likelihood, beta 1, no control variate, no
            warm-up, proposal = p, every sample's weighted training pass).
        samples: K, architectures sampled per step (the paper used 8 and 16).
        arch_lr: Adam learning rate on the logits pi (0.01 when fine-tuning, section 4.2).
        arch_betas: Adam betas.
        min_weight: samples whose importance weight is at most this skip the training pass (their gradient
            would be scaled by at most this much); 0 (exact) by default.
        likelihood: ``batch``: l_k is the summed log-likelihood of the search batch (the paper); ``example``:
            its mean per example. The summed form makes w nearly one-hot (gaps of tens of nats), so one path
            takes all the training and all of pi's update; the per-example form is a tempered likelihood with
            beta = 1 / batch size (power posteriors, Friel & Pettitt 2008), comparable across batch sizes.
        beta: a further tempering exponent on l_k (w = softmax(beta * l_k)).
        baseline: subtract the control variate rho (the prior's self-normalised weights, 1 / K) from w in pi's
            update; unbiased since E_p[grad log p] = 0, and without it equal weights random-walk pi.
        proposal_eps: sample from (1 - eps) p + eps uniform per decision, weights corrected by p / q (a defensive
            mixture, Hesterberg 1995): choices that pi has nearly ruled out are still tried.
        entropy_floor: after each update, each decision's entropy is kept >= this fraction of its maximum
            (log of its number of choices) by mixing it with the uniform; 0: off.
        warmup_steps: steps that only train the shared weights on K samples from pi (uniform) with equal weights,
            pi frozen (SPOS-style, Guo et al. 2020). ``None``: ``warmup_fraction`` of the search's steps.
        warmup_fraction: warm-up as a share of epochs x steps_per_epoch, when ``warmup_steps`` is None.
        exclude_ops: ops PARSEC never samples (e.g. ``("none",)`` on NB201; PARSEC's DARTS view already has
            no ``none``): probability 0 for every choice using them.
        train_samples: ``0``: the weight step runs every sample's training pass, weighted by w (the paper);
            ``R >= 1``: it runs R passes on architectures resampled from the K with probabilities w (multinomial
            resampling, as in sampling-importance-resampling; Rubin 1988), each weighted 1 / R. The expected
            gradient is the same sum_k w_k grad loss_k; the cost is R passes instead of up to K. Resampled
            paths are drawn with the strategy's generator.
        train_on: which architectures the shared weights are trained on. ``posterior`` (the paper): the K
            samples, weighted by w (or resampled from them). ``uniform``: ``max(1, train_samples)`` paths drawn
            uniformly from the space, each weighted equally, whatever pi is (as SPOS and FairNAS train their
            supernets): the likelihood that pi learns from is then a fixed function of the architecture instead of
            one that improves wherever pi already is (the rich-get-richer loop behind the collapse).
        min_samples: with a value, K adapts to the entropy, ceil(K * H / H_max) clamped to [min_samples, K]
            (after FP-NAS, Yan et al. 2021); ``None``: K fixed.
        cost: an additive cost to budget (``params``, ``madds``, ``lut:<file.json>``: see
            :func:`~parsecnas.estimators.cost.make_cost`); its exact expected value under p(alpha | pi) is held
            toward ``cost_target`` (:mod:`~parsecnas.strategies.cost_budget`). ``None``: no budget.
        cost_target: the target, in the cost's unit (M parameters, M multiply-adds, ms).
        cost_method: ``penalty`` (weight x relative excess over the target) or ``lagrangian`` (a multiplier
            raised by dual ascent while the target is exceeded).
        cost_weight: the penalty's weight, or the multiplier's step size.
        cost_setting: the space's network setting that ``params`` / ``madds`` are counted on (its default
            evaluation network, ``cifar10``, when ``None``).
        parallel: how a distributed run (``torchrun``) spreads a step over its N ranks. ``samples``: every rank
            draws the same K architectures, takes the whole batches, and runs the likelihoods and training
            passes of its share of the K (the same step as one process, N times faster at best). ``data``: every
            rank runs all K samples on its share of each batch (the search likelihoods and gradients summed over
            ranks). ``auto``: ``samples`` when K >= N, else ``data``. One process ignores it.
        epochs, steps_per_epoch: the search's schedule (set by the search loop): the warm-up fraction and the
            per-epoch diagnostics use it.
    """

    preset: Literal["robust", "paper"] = "robust"
    samples: int = 16
    arch_lr: float = 0.02
    arch_betas: tuple[float, float] = (0.5, 0.999)
    min_weight: float = 0.0
    likelihood: Literal["batch", "example"] | None = None
    beta: float | None = None
    baseline: bool | None = None
    proposal_eps: float | None = None
    entropy_floor: float | None = None
    warmup_steps: int | None = None
    warmup_fraction: float | None = None
    exclude_ops: tuple[str, ...] | None = None
    min_samples: int | None = None
    train_samples: int | None = None
    train_on: Literal["posterior", "uniform"] | None = None
    cost: str | None = None
    cost_target: float | None = None
    cost_method: Literal["penalty", "lagrangian"] = "penalty"
    cost_weight: float = 1.0
    cost_setting: str | None = None
    parallel: Literal["auto", "samples", "data"] = "auto"
    epochs: int = 1
    steps_per_epoch: int = 1

    def __post_init__(self) -> None:
        check_finite(self)
        if self.preset not in PRESETS:
            raise ValueError(f"unknown PARSEC preset {self.preset!r}; valid presets: {', '.join(PRESETS)}")
        checks = [
            (self.samples >= 1, f"samples (K) must be >= 1, got {self.samples}"),
            (self.arch_lr > 0 and self.arch_lr < float("inf"), f"arch_lr must be finite and > 0, got {self.arch_lr}"),
            (all(0 <= b < 1 for b in self.arch_betas), f"arch_betas must lie in [0, 1), got {self.arch_betas}"),
            (0 <= self.min_weight < 1, f"min_weight must lie in [0, 1), got {self.min_weight}"),
            (self.beta is None or 0 < self.beta < float("inf"), f"beta must be finite and > 0, got {self.beta}"),
            (self.proposal_eps is None or 0 <= self.proposal_eps <= 1,
             f"proposal_eps must lie in [0, 1], got {self.proposal_eps}"),
            (self.entropy_floor is None or 0 <= self.entropy_floor < 1,
             f"entropy_floor must lie in [0, 1), got {self.entropy_floor}"),
            (not set(self.exclude_ops or ()) - KNOWN_OPS, f"exclude_ops {self.exclude_ops} names an op no space has; "
             f"valid: {', '.join(sorted(KNOWN_OPS))}"),
            (self.warmup_steps is None or self.warmup_steps >= 0,
             f"warmup_steps must be >= 0, got {self.warmup_steps}"),
            (self.warmup_fraction is None or 0 <= self.warmup_fraction < 1,
             f"warmup_fraction must lie in [0, 1), got {self.warmup_fraction}"),
            (self.min_samples is None or 1 <= self.min_samples <= self.samples,
             f"min_samples must lie in 1 .. samples ({self.samples}), got {self.min_samples}"),
            (self.train_samples is None or self.train_samples >= 0,
             f"train_samples must be >= 0 (0: all K weighted passes), got {self.train_samples}"),
            (self.train_on in (None, "posterior", "uniform"),
             f"train_on must be 'posterior' or 'uniform', got {self.train_on!r}"),
            (self.likelihood in (None, "batch", "example"),
             f"likelihood must be 'batch' or 'example', got {self.likelihood!r}"),
            (self.cost is None or (self.cost_target is not None and self.cost_target > 0),
             f"a cost budget needs cost_target > 0 (in the cost's unit), got {self.cost_target}"),
            (self.cost is not None or self.cost_target is None,
             f"cost_target={self.cost_target} is set but cost is not; name the cost to budget (e.g. cost=params)"),
            (self.cost_method in METHODS, f"cost_method must be one of {METHODS}, got {self.cost_method!r}"),
            (self.cost_weight >= 0, f"cost_weight must be >= 0, got {self.cost_weight}"),
            (self.parallel in ("auto", "samples", "data"),
             f"parallel must be 'auto', 'samples' or 'data', got {self.parallel!r}"),
            (self.epochs >= 1 and self.steps_per_epoch >= 1,
             f"epochs and steps_per_epoch must be >= 1, got {self.epochs}, {self.steps_per_epoch}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.cost is not None:
            check_additive_spec(str(self.cost), "PARSEC's cost budget (an exact expected cost under p(alpha | pi))")

    def resolved(self) -> ParsecConfig:
        """This config with every remedy field that is ``None`` filled in from the preset."""
        preset = PRESETS[self.preset]
        filled = {f.name: preset[f.name] for f in fields(self) if f.name in preset and getattr(self, f.name) is None}
        config = replace(self, **filled)
        if config.warmup_steps is None:
            total = config.epochs * config.steps_per_epoch
            config = replace(config, warmup_steps=int(round(float(config.warmup_fraction or 0.0) * total)))
        return config
