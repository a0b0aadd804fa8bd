"""Latency predictors learnt from measured whole networks, for devices where op sums are poor (op fusion,
caches, parallel branches): a learnt additive table (ridge regression on the one-hot encoding, so it stays
usable by expected-cost methods) and a small MLP on the space's encoding (not additive).

Example:
    >>> from parsecnas.spaces import get_space, sample_uniform
    >>> space = get_space("nb201")
    >>> g = torch.Generator().manual_seed(0)
    >>> archs = [sample_uniform(space, g) for _ in range(50)]
    >>> truth = [1.0 + sum(space.to_choices(a)) for a in archs]
    >>> abs(fit_additive_latency(space, archs, truth, l2=1e-6)(archs[0]) - truth[0]) < 1e-3
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..nets.seeded import seeded
from ..spaces.base import Space
from .cost import AdditiveCost, AdditiveTable, FunctionCost


def _check(archs: Sequence[Any], latencies: Sequence[float]) -> torch.Tensor:
    if len(archs) != len(latencies) or len(archs) < 2:
        raise ValueError(f"need as many latencies as architectures, at least 2; got {len(archs)}, {len(latencies)}")
    return torch.tensor([float(v) for v in latencies], dtype=torch.float64)


def fit_additive_latency(space: Space, archs: Sequence[Any], latencies: Sequence[float], l2: float = 1e-3,
                         name: str = "latency[fit]") -> AdditiveCost:
    """The additive table (per-choice terms + offset) closest to measured latencies in least squares, with an
    L2 penalty ``l2`` on the terms (the offset is not penalised)."""
    y = _check(archs, latencies)
    x = torch.stack([space.encode(a, "onehot") for a in archs]).double()
    mean_x, mean_y = x.mean(dim=0), y.mean()
    xc = x - mean_x
    terms = torch.linalg.solve(xc.T @ xc + l2 * len(y) * torch.eye(x.shape[1], dtype=x.dtype), xc.T @ (y - mean_y))
    offset = float(mean_y - mean_x @ terms)
    values, k = [], 0
    for decision in space.decisions:
        values.append(tuple(float(t) for t in terms[k: k + decision.size]))
        k += decision.size
    return AdditiveCost(space, AdditiveTable(tuple(values), offset), name, "ms")


def fit_latency_mlp(space: Space, archs: Sequence[Any], latencies: Sequence[float], hidden: int = 64,
                    steps: int = 1000, lr: float = 1e-2, weight_decay: float = 1e-4, seed: int = 0,
                    encoding: str = "onehot") -> FunctionCost:
    """A two-layer MLP from the space's ``encoding`` to log latency (full-batch Adam, seeded initialisation).

    One-hot by default: every space has it, and latency is a property of which op sits where (NB201's path
    encoding, made for accuracy, cannot tell apart ops whose paths coincide)."""
    y = _check(archs, latencies).float().log()
    x = torch.stack([space.encode(a, encoding) for a in archs]).float()
    mean, std = y.mean(), y.std().clamp_min(1e-6)
    net = seeded(seed, lambda: nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, 1)))
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (net(x).squeeze(1) - (y - mean) / std).square().mean()
        loss.backward()
        optimizer.step()
    net.eval()

    def predict(arch: Any) -> float:
        with torch.no_grad():
            z = net(space.encode(arch, encoding).float()[None]).squeeze()
        return float((z * std + mean).exp())

    return FunctionCost(predict, "latency[mlp]", "ms")
