"""Deterministic network construction that leaves the caller's random state alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")


def seeded(seed: int, build: Callable[[], T]) -> T:
    """``build()`` with torch's global generator seeded by ``seed`` and restored afterwards, so the same seed
    gives the same initial weights and the caller's random stream is not disturbed.

    Example:
        >>> a = seeded(3, lambda: torch.nn.Linear(2, 2))
        >>> torch.equal(a.weight, seeded(3, lambda: torch.nn.Linear(2, 2)).weight)
        True
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
