"""Seeded splits of a training set into a part that trains weights and a part that scores architectures.

DARTS and PARSEC train the supernet's weights on one half of the training set and update the architecture on
the other half; the test set is kept apart for the final evaluation.

Example:
    >>> from parsecnas.data.split import train_search_split
    >>> train, search = train_search_split(10, fraction=0.5, seed=0)
    >>> len(train), len(search), sorted(train.tolist() + search.tolist()) == list(range(10))
    (5, 5, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["split_held_out", "train_search_split"]


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _class_counts(sizes: list[int], fraction: float) -> list[int]:
    """Per-class counts of the first part: floor or ceil of each quota, summing to the rounded total.

    Largest remainders get the ceiling (ties to the lower class), so the total matches the unstratified split.
    """
    quotas = [fraction * size for size in sizes]
    counts = [math.floor(q) for q in quotas]
    extra = math.floor(fraction * sum(sizes) + 0.5) - sum(counts)
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[:extra]:
        counts[i] += 1
    return counts


def _take(indices: torch.Tensor, count: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle ``indices`` with ``gen`` and cut after ``count``."""
    shuffled = indices[torch.randperm(indices.numel(), generator=gen)]
    return shuffled[:count], shuffled[count:]


def train_search_split(
    num_examples: int,
    fraction: float = 0.5,
    seed: int = 0,
    labels: torch.Tensor | np.ndarray | Sequence[int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``range(num_examples)`` into two disjoint, covering index sets.

    Args:
        num_examples: Size of the set being split.
        fraction: Share of examples in the first (weight-training) part, in ``(0, 1)``.
        seed: Seed of the generator that draws the split; the same seed gives the same split.
        labels: When given, split each class separately (class-stratified) so both parts keep the class
            proportions: each class puts the floor or ceiling of ``fraction * class_size`` examples in the
            first part, the total being ``fraction * num_examples`` rounded half up, as without labels.

    Returns:
        ``(train_indices, search_indices)``, each a sorted int64 tensor.
    """
    if num_examples < 2:
        raise ValueError(f"num_examples={num_examples}; need at least 2 to split")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction={fraction}; valid fractions lie strictly between 0 and 1")
    gen = _generator(seed)
    if labels is None:
        count = math.floor(fraction * num_examples + 0.5)
        count = min(max(count, 1), num_examples - 1)
        first, second = _take(torch.arange(num_examples), count, gen)
        return first.sort().values, second.sort().values
    label_tensor = torch.as_tensor(labels).to(torch.int64).reshape(-1)
    if label_tensor.numel() != num_examples:
        raise ValueError(f"labels has {label_tensor.numel()} entries but num_examples={num_examples}")
    firsts: list[torch.Tensor] = []
    seconds: list[torch.Tensor] = []
    members_per_class = [
        torch.nonzero(label_tensor == c).flatten() for c in torch.unique(label_tensor).tolist()
    ]
    counts = _class_counts([m.numel() for m in members_per_class], fraction)
    for members, count in zip(members_per_class, counts, strict=True):
        first, second = _take(members, count, gen)
        firsts.append(first)
        seconds.append(second)
    return torch.cat(firsts).sort().values, torch.cat(seconds).sort().values


def split_held_out(search_indices: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sets ``min(n, len / 5)`` seeded random indices apart: ``(held_out, rest)``, both sorted.

    A search measures its derived architecture on the part held out of its search split (which neither the
    weights nor the architecture belief are fitted on); ``parsecnas train`` its validation accuracy on a part
    held out of the training set. Random, not the first ``n``: datasets stored class by class (image folders,
    the CIFAR JPEG archive) would otherwise be measured on one class.
    """
    n = max(1, min(n, len(search_indices) // 5))
    order = torch.randperm(len(search_indices), generator=torch.Generator().manual_seed(seed + 12345))
    return search_indices[order[:n]].sort().values, search_indices[order[n:]].sort().values
