"""The estimators behind PARSEC's remedies, as pure tensor functions (tested one by one).

PARSEC's update of pi is a self-normalised importance-sampling estimate of the gradient of the log marginal
likelihood, grad_pi log E_{alpha ~ p(.|pi)} p(y | X, v, alpha). Everything here keeps that estimand and changes
only how it is estimated:

* :func:`importance_weights`: w = softmax(beta * l). ``beta = 1`` on the summed batch log-likelihood is the
  paper's Algorithm 1; ``beta < 1`` is a tempered (power) likelihood, which keeps several samples alive.
* :func:`mixture_probs` / :func:`proposal_log_ratio`: a defensive mixture proposal q = (1 - eps) p + eps u per
  decision (Hesterberg 1995); weights are corrected by p / q so the estimate stays consistent for p.
* :func:`control_variate_weights`: the self-normalised weights of the prior alone, rho ∝ p / q (1 / K when q = p).
  sum_k rho_k grad log p(alpha_k) estimates E_p[grad log p] = 0, so subtracting it leaves the estimand unchanged
  and removes the random walk that equal weights would otherwise cause.
* :func:`raise_entropy`: projects each decision's categorical onto an entropy floor by mixing it with the uniform
  distribution (the smallest such mixture), so exploration never dies out.
"""

from __future__ import annotations

import math

import torch


def importance_weights(log_likelihoods: torch.Tensor, beta: float = 1.0,
                       log_ratio: torch.Tensor | None = None) -> torch.Tensor:
    """Normalised importance weights softmax(beta * l + log p/q), shifted by their max (finite for any gap).

    Args:
        log_likelihoods: (K,) log-likelihoods of the K sampled architectures.
        beta: tempering exponent on the likelihood (1: the paper's weights).
        log_ratio: (K,) log p(alpha_k) - log q(alpha_k) when the samples come from a proposal q other than p.
    """
    logits = beta * log_likelihoods
    if log_ratio is not None:
        logits = logits + log_ratio
    return torch.softmax(logits - logits.max(), dim=0)


def control_variate_weights(log_ratio: torch.Tensor | None, k: int) -> torch.Tensor:
    """Self-normalised weights of the prior alone, rho ∝ p / q: what the weights would be if every architecture
    explained the data equally well (1 / K each when the samples come from p itself)."""
    if log_ratio is None:
        return torch.full((k,), 1.0 / k)
    return torch.softmax(log_ratio - log_ratio.max(), dim=0)


def effective_sample_size(weights: torch.Tensor) -> float:
    """Kish's effective sample size 1 / sum w_k^2 of normalised weights: K when uniform, 1 when degenerate."""
    return float(1.0 / weights.square().sum())


def mixture_probs(probs: torch.Tensor, valid: torch.Tensor, eps: float) -> torch.Tensor:
    """(D, M) probabilities of the defensive proposal q_d = (1 - eps) p_d + eps * uniform over d's valid choices."""
    uniform = valid.float() / valid.sum(dim=1, keepdim=True)
    return (1.0 - eps) * probs + eps * uniform


def proposal_log_ratio(log_p: torch.Tensor, log_q: torch.Tensor, choices: torch.Tensor) -> torch.Tensor:
    """(K,) log p(alpha_k) - log q(alpha_k) for product distributions given as (D, M) log-probabilities."""
    rows = choices.t()
    return (log_p.gather(1, rows) - log_q.gather(1, rows)).sum(dim=0)


def decision_entropies(probs: torch.Tensor) -> torch.Tensor:
    """(D,) entropy of each decision's categorical, in nats (0 log 0 = 0)."""
    return -(probs * probs.clamp_min(1e-30).log()).sum(dim=1)


def raise_entropy(probs: torch.Tensor, valid: torch.Tensor, floor: torch.Tensor, iterations: int = 40
                  ) -> torch.Tensor:
    """Each decision's categorical mixed with its uniform just enough that its entropy is >= ``floor`` (D,).

    The entropy of (1 - t) p + t u is concave in t and reaches its maximum log n at t = 1, so the set of t that
    meets a floor <= log n is an interval [t*, 1]; bisection finds t*. Decisions already above the floor are
    returned unchanged.
    """
    uniform = valid.to(probs.dtype) / valid.sum(dim=1, keepdim=True)
    low = torch.zeros(probs.shape[0], dtype=probs.dtype)
    high = torch.ones_like(low)
    below = decision_entropies(probs) < floor
    if not bool(below.any()):
        return probs
    for _ in range(iterations):
        mid = (low + high) / 2
        meets = decision_entropies((1 - mid[:, None]) * probs + mid[:, None] * uniform) >= floor
        high = torch.where(meets, mid, high)
        low = torch.where(meets, low, mid)
    t = torch.where(below, high, torch.zeros_like(high))
    return (1 - t[:, None]) * probs + t[:, None] * uniform


def entropy_adapted_samples(entropy: float, max_entropy: float, k_min: int, k_max: int) -> int:
    """K proportional to the normalised entropy of pi, clamped to [k_min, k_max] (after FP-NAS, Yan et al. 2021:
    a peaked distribution needs fewer samples to estimate its gradient)."""
    fraction = entropy / max_entropy if max_entropy > 0 else 0.0
    return int(min(k_max, max(k_min, math.ceil(k_max * fraction))))
