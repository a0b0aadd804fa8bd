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


class Halves(torch.nn.Module):
    """``net`` run on each of a batch's ``parts`` contiguous shares separately (batch norm per share), outputs
    concatenated: one process computing exactly what ``parts`` data-parallel ranks compute together."""

    def __init__(self, net: SuperNet, parts: int = 2) -> None:
        super().__init__()
        self.net, self.parts = net, parts

    def forward(self, x: torch.Tensor, arch) -> torch.Tensor:
        return torch.cat([self.net(chunk, arch) for chunk in x.tensor_split(self.parts)])

    def op_parameters(self) -> dict[str, torch.Tensor]:
        return self.net.op_parameters()
