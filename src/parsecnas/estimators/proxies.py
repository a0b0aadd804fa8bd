"""Zero-cost proxies: scores of an untrained network from one minibatch that rank architectures without training.

Each proxy is ``proxy(net, inputs, targets, generator) -> float`` (higher is meant to be better), works on a copy
of the network (the caller's weights and gradients are untouched), runs with BN in training mode, and is
deterministic given the network, the batch and the generator. Weight-based proxies sum over the weights of every
``Conv2d`` and ``Linear`` layer, as in Abdelfattah et al. 2021 ("Zero-cost proxies for lightweight NAS").

| name | definition |
|---|---|
| ``grad_norm`` | sum over layers of the L2 norm of dL/dW (cross-entropy L) |
| ``snip`` | sum of abs(W * dL/dW) (Lee et al. 2019) |
| ``grasp`` | -sum of W * (H dL/dW), H the Hessian of L (Wang et al. 2020) |
| ``fisher`` | sum over layer-output channels of 0.5 * mean over examples of (sum over pixels of a * dL/da)^2 |
| ``synflow`` | sum of abs(W * dR/dW), R the output sum with abs weights, BN removed, an all-ones input, float64 |
| ``jacob_cov`` | -sum(log(v + k) + 1 / (v + k)) over eigenvalues v of the correlation of input Jacobians, k = 1e-5 |
| ``naswot`` | log det of K = C C^T + (1 - C)(1 - C)^T, C the ReLU on/off codes of the batch (Mellor et al. 2021) |
| ``zen`` | log E abs(f(x) - f(x + 0.01 e)) + sum over BN of log sqrt(mean batch variance), weights N(0, 1) (Lin 2021) |

Example:
    >>> from parsecnas.spaces import get_space
    >>> space = get_space("nb201")
    >>> net = build_seeded(space, space.from_choices([3] * 6), seed=0, num_cells=1, channels=8)
    >>> x, y = torch.randn(8, 3, 32, 32), torch.arange(8) % 10
    >>> sorted(compute_proxies(net, x, y, names=["synflow", "naswot"], seed=0))
    ['naswot', 'synflow']
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nets.seeded import seeded
from ..spaces.base import Space

Proxy = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], float]


def build_seeded(space: Space, arch: Hashable, seed: int = 0, **net_options: Any) -> nn.Module:
    """``space.build(arch, ...)`` initialised from ``seed`` without disturbing the caller's global RNG."""
    return seeded(seed, lambda: space.build(arch, **net_options))


def _layers(net: nn.Module) -> Iterator[nn.Conv2d | nn.Linear]:
    return (m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def _weights(net: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in _layers(net)]


def _copy(net: nn.Module) -> nn.Module:
    net = copy.deepcopy(net).train()
    net.zero_grad(set_to_none=True)
    return net


def _grads(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> list[torch.Tensor]:
    weights = _weights(net)
    loss = F.cross_entropy(net(inputs), targets)
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads)]


def grad_norm(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator) -> float:
    net = _copy(net)
    return float(sum(g.norm() for g in _grads(net, inputs, targets)))


def snip(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator) -> float:
    net = _copy(net)
    return float(sum((w.detach() * g).abs().sum() for w, g in zip(_weights(net), _grads(net, inputs, targets))))


def grasp(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator) -> float:
    net = _copy(net)
    weights = _weights(net)
    g = [x.detach() for x in _grads(net, inputs, targets)]
    loss = F.cross_entropy(net(inputs), targets)
    first = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z = sum((a * b).sum() for a, b in zip(first, g) if a is not None)
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return 0.0
    hg = torch.autograd.grad(z, weights, allow_unused=True)
    return float(-sum((w.detach() * h).sum() for w, h in zip(weights, hg) if h is not None))


def fisher(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator) -> float:
    net = _copy(net)
    outputs: list[torch.Tensor] = []

    def keep(module: nn.Module, args: Any, out: torch.Tensor) -> None:
        if out.requires_grad:
            out.retain_grad()
            outputs.append(out)

    handles = [m.register_forward_hook(keep) for m in _layers(net)]
    try:
        F.cross_entropy(net(inputs), targets).backward()
    finally:
        for h in handles:
            h.remove()
    total = 0.0
    for a in outputs:
        if a.grad is None:
            continue
        per = (a * a.grad).flatten(2).sum(-1) if a.dim() == 4 else a * a.grad
        total += float(0.5 * per.detach().square().mean(0).sum())
    return total


def _without_bn(net: nn.Module) -> nn.Module:
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, name, nn.Identity())
    return net


def synflow(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator) -> float:
    net = _without_bn(_copy(net)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    weights = _weights(net)
    out = net(torch.ones(1, *inputs.shape[1:], dtype=torch.float64))
    grads = torch.autograd.grad(out.sum(), weights, allow_unused=True)
    return float(sum((w.detach() * g).abs().sum() for w, g in zip(weights, grads) if g is not None))


def jacob_cov(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator) -> float:
    net = _copy(net)
    x = inputs.detach().clone().requires_grad_(True)
    (jacobian,) = torch.autograd.grad(net(x).sum(), x)
    corr = torch.corrcoef(jacobian.flatten(1).double())
    if not bool(torch.isfinite(corr).all()):  # some example's Jacobian is constant: the output ignores the input
        return -math.inf
    v = torch.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-(torch.log(v + k) + 1.0 / (v + k)).sum())


def naswot(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator) -> float:
    """Codes come from ``nn.ReLU`` outputs; a network that applies ReLU functionally (the DARTS cells' shared
    ReLU) is read at the non-negative inputs of its convolutions instead."""
    net = _copy(net)
    n = inputs.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def add(codes: torch.Tensor) -> None:
        # c c^T + (1 - c)(1 - c)^T = N_A - |c_i| - |c_j| + 2 c_i . c_j: one product, exact in float32 per layer
        c = (codes.detach().flatten(1) > 0).float()
        ones = c.sum(1, dtype=torch.float64)
        kernel.add_(2.0 * (c @ c.t()).double() - ones[:, None] - ones[None, :] + c.shape[1])

    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    if relus:
        handles = [m.register_forward_hook(lambda m, a, out: add(out)) for m in relus]
    else:
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
        handles = [m.register_forward_pre_hook(lambda m, a: add(a[0]) if bool((a[0] >= 0).all()) else None)
                   for m in convs]
    try:
        with torch.no_grad():
            net(inputs)
    finally:
        for h in handles:
            h.remove()
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if float(sign) > 0 else -math.inf


def zen(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator,
        alpha: float = 0.01) -> float:
    net = _copy(net)
    with torch.no_grad():
        for m in _layers(net):
            m.weight.copy_(torch.randn(m.weight.shape, generator=generator))
    x = torch.randn(inputs.shape, generator=generator)
    e = torch.randn(inputs.shape, generator=generator)
    variances: list[torch.Tensor] = []
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    handles = [m.register_forward_pre_hook(lambda m, a: variances.append(a[0].var(dim=(0, 2, 3), unbiased=False)
                                                                         if a[0].dim() == 4 else a[0].var(0)))
               for m in bns]
    try:
        with torch.no_grad():
            fx = _features(net, x)
            count = len(variances)
            fe = _features(net, x + alpha * e)
    finally:
        for h in handles:
            h.remove()
    delta = (fx - fe).abs().flatten(1).sum(1).mean()
    bn_term = sum(0.5 * math.log(float(v.mean()) + 1e-12) for v in variances[:count])
    return math.log(float(delta) + 1e-30) + bn_term


def _features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The pre-pooling feature map where the network offers ``forward_features``, else the last linear's input."""
    forward_features = getattr(net, "forward_features", None)
    if callable(forward_features):
        return forward_features(x)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("zen needs a network with forward_features or a final nn.Linear classifier")
    seen: list[torch.Tensor] = []
    handle = linears[-1].register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    try:
        net(x)
    finally:
        handle.remove()
    return seen[-1]


PROXIES: dict[str, Proxy] = {
    "synflow": synflow,
    "naswot": naswot,
    "jacob_cov": jacob_cov,
    "snip": snip,
    "grasp": grasp,
    "grad_norm": grad_norm,
    "fisher": fisher,
    "zen": zen,
}
"""Every proxy by name."""


def compute_proxies(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                    names: Sequence[str] | None = None, seed: int = 0) -> dict[str, float]:
    """Scores of ``net`` on one minibatch for each named proxy (all by default); each gets a generator from
    ``seed``, so the same network, batch and seed give the same numbers."""
    names = list(PROXIES) if names is None else list(names)
    unknown = [n for n in names if n not in PROXIES]
    if unknown:
        raise ValueError(f"unknown proxies {unknown}; valid: {', '.join(PROXIES)}")
    return {n: PROXIES[n](net, inputs, targets, torch.Generator().manual_seed(seed)) for n in names}


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho of two score lists: the Pearson correlation of their average ranks (ties share their
    mean rank); NaN for fewer than 2 pairs.

    Example:
        >>> round(spearman([1, 2, 3, 4], [10, 20, 40, 30]), 6)
        0.8
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"spearman needs two lists of one length, got {len(x)} and {len(y)}")
    if len(x) < 2:
        return float("nan")
    return float(np.corrcoef(_ranks(x), _ranks(y))[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    _, inverse = np.unique(x, return_inverse=True)
    return (np.bincount(inverse, weights=ranks) / np.bincount(inverse))[inverse]
