"""PARSEC's remedies: each one's maths, the presets, the diagnostics, and the collapse they prevent."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pytest
import torch

from parsecnas.spaces import Decision, get_space
from parsecnas.strategies import Parsec, ParsecConfig
from parsecnas.strategies.parsec_maths import (
    decision_entropies,
    entropy_adapted_samples,
    importance_weights,
    raise_entropy,
)


class ToySpace:
    """Two decisions over three ops each; an architecture is the tuple of choice indices."""

    name = "toy"
    decisions = (Decision("a", ("free", "conv", "pool")), Decision("b", ("free", "conv", "pool")))

    def from_choices(self, choices: Sequence[int]) -> tuple[int, ...]:
        return tuple(choices)


def test_tempered_weights_are_softmax_of_beta_times_the_log_likelihood() -> None:
    ll = torch.tensor([-130.0, -128.0, -135.0, -129.5])
    for beta in (1.0, 0.1, 1 / 64):
        assert torch.allclose(importance_weights(ll, beta), torch.softmax(beta * ll, dim=0), atol=1e-7)
    parsec = Parsec(ToySpace(), ParsecConfig(samples=4, likelihood="example", beta=2.0), seed=0)
    assert torch.allclose(parsec.weigh(ll, 64), torch.softmax(2.0 * ll / 64, dim=0), atol=1e-7)


def toy_likelihood(choices: torch.Tensor) -> torch.Tensor:
    """A known likelihood L(alpha) > 0 over the 9 toy architectures."""
    table = torch.tensor([[0.2, 1.0, 0.5], [0.1, 3.0, 0.4], [0.7, 0.05, 2.0]])
    return table[choices[:, 0], choices[:, 1]]


def test_mixture_proposal_weights_are_unbiased_for_the_marginal_likelihood() -> None:
    parsec = Parsec(ToySpace(), ParsecConfig(samples=8, proposal_eps=0.3), seed=0)
    with torch.no_grad():
        parsec.distribution.logits.copy_(torch.tensor([[3.0, -1.0, 0.0], [-2.0, 0.5, 2.5]]))
    p = parsec.distribution.probs().detach()
    every = torch.tensor(list(itertools.product(range(3), range(3))))
    exact = float((p[0, every[:, 0]] * p[1, every[:, 1]] * toy_likelihood(every)).sum())
    estimates = []
    for _ in range(4000):
        choices, _, log_ratio = parsec.propose(8)
        assert log_ratio is not None
        estimates.append(float((log_ratio.exp() * toy_likelihood(choices)).mean()))  # (1/K) sum L p/q
    e = torch.tensor(estimates)
    sem = float(e.std()) / math.sqrt(len(e))
    assert abs(float(e.mean()) - exact) < 5 * sem
    assert float(log_ratio.exp().std()) > 0  # q really differs from p


def test_mixture_proposal_gradient_converges_to_the_exact_gradient_of_log_marginal_likelihood() -> None:
    parsec = Parsec(ToySpace(), ParsecConfig(samples=20000, proposal_eps=0.5, baseline=True), seed=1)
    with torch.no_grad():
        parsec.distribution.logits.copy_(torch.tensor([[1.0, -1.0, 0.0], [-0.5, 0.5, 1.5]]))
    dist = parsec.distribution
    every = torch.tensor(list(itertools.product(range(3), range(3))))
    log_z = torch.logsumexp(dist.log_prob(every) + toy_likelihood(every).log(), dim=0)
    exact = torch.autograd.grad(log_z, dist.logits)[0]
    choices, _, log_ratio = parsec.propose(20000)
    w = importance_weights(toy_likelihood(choices).log(), 1.0, log_ratio)
    from parsecnas.strategies.parsec_maths import control_variate_weights

    coefficients = w - control_variate_weights(log_ratio, len(w))
    estimate = torch.autograd.grad((coefficients * dist.log_prob(choices)).sum(), dist.logits)[0]
    assert torch.allclose(estimate, exact, atol=0.03)
    assert float(exact.abs().max()) > 0.1


def test_control_variate_leaves_pi_unchanged_when_every_sample_fits_equally() -> None:
    parsec = Parsec(get_space("darts"), ParsecConfig(samples=8, baseline=True), seed=0)
    for _ in range(5):
        choices, _, _ = parsec.propose(8)
        parsec.update_distribution(choices, torch.full((8,), 1 / 8))
    assert torch.equal(parsec.distribution.logits, torch.zeros_like(parsec.distribution.logits))


def test_entropy_floor_holds_after_every_update() -> None:
    parsec = Parsec(get_space("nb201"), ParsecConfig(samples=8, arch_lr=0.5, entropy_floor=0.6), seed=0)
    floor = 0.6 * math.log(5)
    for _ in range(60):
        choices, _, _ = parsec.propose(8)
        ll = 50.0 * (choices == 0).float().sum(dim=1)  # strongly favours op 0 everywhere
        parsec.update_distribution(choices, importance_weights(ll))
        h = decision_entropies(parsec.distribution.probs().detach())
        assert float(h.min()) >= floor - 1e-6
    probs = parsec.distribution.probs().detach()
    assert (probs.argmax(dim=1) == 0).all()  # the floor keeps exploring but the mode still follows the evidence
    assert float(h.max()) < floor + 1e-3  # it sits at the floor: the projection is the smallest mixture


def test_raise_entropy_is_the_smallest_uniform_mixture_meeting_the_floor() -> None:
    probs = torch.tensor([[0.97, 0.01, 0.01, 0.01], [0.25, 0.25, 0.25, 0.25]], dtype=torch.double)
    valid = torch.ones(2, 4, dtype=torch.bool)
    floor = torch.tensor([0.8, 0.8], dtype=torch.double)
    out = raise_entropy(probs, valid, floor)
    assert float(decision_entropies(out)[0]) == pytest.approx(0.8, abs=1e-6)
    assert torch.equal(out[1], probs[1])  # above the floor already: unchanged
    assert torch.allclose(out.sum(dim=1), torch.ones(2, dtype=torch.double))


def test_adapted_sample_count_follows_the_entropy() -> None:
    assert entropy_adapted_samples(10.0, 10.0, 2, 16) == 16
    assert entropy_adapted_samples(5.0, 10.0, 2, 16) == 8
    assert entropy_adapted_samples(0.1, 10.0, 2, 16) == 2
    parsec = Parsec(get_space("nb201"), ParsecConfig(samples=8, min_samples=2), seed=0)
    assert parsec.num_samples() == 8
    with torch.no_grad():
        parsec.distribution.logits[:, 0] = 20.0
    assert parsec.num_samples() == 2


def test_excluded_ops_are_never_sampled_nor_derived() -> None:
    parsec = Parsec(get_space("nb201"), ParsecConfig(samples=64, exclude_ops=("none",)), seed=0)
    choices, archs, _ = parsec.propose(64)
    assert all("none" not in arch.ops for arch in archs)
    with torch.no_grad():
        parsec.distribution.logits[:, 0] = 50.0  # even a huge logit on `none` cannot make it the mode
    assert "none" not in parsec.derive().ops
    assert parsec.op_marginals()["none"] == 0.0
    with pytest.raises(ValueError, match="sep_conv_9x9"):
        Parsec(get_space("nb201"), ParsecConfig(exclude_ops=("sep_conv_9x9",)))


def test_presets_fill_only_the_fields_left_unset() -> None:
    paper = ParsecConfig(preset="paper").resolved()
    assert (paper.likelihood, paper.beta, paper.baseline, paper.warmup_steps) == ("batch", 1.0, False, 0)
    robust = ParsecConfig(epochs=4, steps_per_epoch=100).resolved()
    assert robust.likelihood == "example" and not robust.baseline and robust.warmup_steps == 0
    assert ParsecConfig(warmup_fraction=0.25, epochs=4, steps_per_epoch=100).resolved().warmup_steps == 100
    mixed = ParsecConfig(preset="paper", baseline=True, warmup_steps=7).resolved()
    assert mixed.baseline and mixed.likelihood == "batch" and mixed.warmup_steps == 7
    with pytest.raises(ValueError, match="preset"):
        ParsecConfig(preset="best")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="beta"):
        ParsecConfig(beta=float("inf"))


def test_diagnostics_marginals_history_and_winner_mix() -> None:
    parsec = Parsec(get_space("nb201"), ParsecConfig(samples=4, steps_per_epoch=2, warmup_steps=0), seed=0)
    marginals = parsec.op_marginals()
    assert sum(marginals.values()) == pytest.approx(1.0) and marginals["none"] == pytest.approx(0.2)
    for _ in range(4):
        choices, _, _ = parsec.propose(4)
        parsec.learn(choices, importance_weights(torch.randn(4)))
    assert len(parsec.history) == 2
    mix = parsec._op_mix(choices[0], "win_")
    assert sum(mix.values()) == pytest.approx(1.0)
    metrics = parsec.epoch_metrics()
    assert {"entropy", "min_decision_entropy", "p_none", "p_nor_conv_3x3"} <= set(metrics)


def run_collapse_problem(config: ParsecConfig, steps: int = 600, seed: int = 0) -> tuple[int, ...]:
    """The collapse in miniature. Choice 0 of each decision is parameter-free: a fixed per-example
    log-likelihood of -1.0. Choice 1 has weights: it starts at -2.0 and improves to -0.4 as it is trained, and
    it is trained in proportion to the importance weight of the samples that use it (as the shared weights are).
    Choice 2 has weights but stays poor (-2.5). The batch has 64 examples. A search should end on choice 1."""
    parsec = Parsec(ToySpace(), config, seed=seed)
    trained = torch.zeros(2)  # how much training choice 1 has received, per decision
    for _ in range(steps):
        choices, _, log_ratio = parsec.propose(parsec.num_samples())
        quality = -2.0 + 1.6 * (1 - torch.exp(-trained / 30.0))
        per_example = torch.where(choices == 0, torch.tensor(-1.0),
                                  torch.where(choices == 1, quality[None, :].expand_as(choices), torch.tensor(-2.5)))
        log_lik = 64 * per_example.sum(dim=1) / 2
        w = parsec.weigh(log_lik, 64, log_ratio)
        trained += ((choices == 1).float() * w[:, None]).sum(dim=0)
        parsec.learn(choices, w, log_ratio)
    return tuple(parsec.distribution.mode().tolist())


def test_the_defaults_escape_the_parameter_free_collapse_and_the_paper_preset_does_not() -> None:
    steps = 600
    for seed in range(3):
        robust = ParsecConfig(samples=4, epochs=1, steps_per_epoch=steps)
        paper = ParsecConfig(samples=4, epochs=1, steps_per_epoch=steps, preset="paper")
        assert run_collapse_problem(robust, steps, seed) == (1, 1)
        assert run_collapse_problem(paper, steps, seed) == (0, 0)


def test_resampled_training_coefficients_are_unbiased_for_the_importance_weights() -> None:
    parsec = Parsec(ToySpace(), ParsecConfig(samples=4, train_samples=2), seed=0)
    w = torch.tensor([0.6, 0.25, 0.1, 0.05])
    draws = torch.stack([parsec.training_coefficients(w) for _ in range(4000)])
    assert torch.allclose(draws.sum(dim=1), torch.ones(4000))  # R passes of weight 1/R each
    assert set(draws.flatten().tolist()) <= {0.0, 0.5, 1.0}
    sem = draws.std(dim=0) / math.sqrt(len(draws))
    assert ((draws.mean(dim=0) - w).abs() < 5 * sem + 1e-9).all()
    paper = Parsec(ToySpace(), ParsecConfig(samples=4, preset="paper"), seed=0)
    assert torch.equal(paper.training_coefficients(w), w)


def test_uniform_weight_training_ignores_pi_but_keeps_excluded_ops_out() -> None:
    parsec = Parsec(get_space("nb201"), ParsecConfig(samples=4, train_on="uniform", exclude_ops=("none",)), seed=0)
    with torch.no_grad():
        parsec.distribution.logits[:, 1] = 30.0  # pi is all but certain of skip_connect everywhere
    choices, _ = parsec.sample_uniform(6000)
    counts = torch.stack([(choices == c).float().mean() for c in range(5)])
    assert float(counts[0]) == 0.0  # `none` stays excluded
    assert torch.allclose(counts[1:], torch.full((4,), 0.25), atol=0.02)
    pi_choices, _ = parsec.sample(200)
    assert float((pi_choices == 1).float().mean()) > 0.99
