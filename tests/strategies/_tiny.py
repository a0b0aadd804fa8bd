"""Tiny supernets and batches shared by the strategy tests."""

from __future__ import annotations

import torch

from parsecnas.nets import SuperNet


def tiny_net(seed: int = 0) -> SuperNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SuperNet(num_cells=3, channels=4, num_classes=3)


def batch(seed: int, size: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(size, 3, 16, 16, generator=gen), torch.randint(0, 3, (size,), generator=gen)
