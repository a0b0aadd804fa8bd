"""Stems and the auxiliary classifier head of DARTS networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def cifar_stem(in_channels: int, out_channels: int, affine: bool = True) -> nn.Module:
    """3x3 conv + BN at full resolution (CIFAR setting)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels, affine=affine, track_running_stats=affine),
    )


def imagenet_stems(in_channels: int, channels: int) -> tuple[nn.Module, nn.Module]:
    """DARTS mobile-setting stems: stem0 divides the resolution by 4, stem1 by 2 more."""
    stem0 = nn.Sequential(
        nn.Conv2d(in_channels, channels // 2, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(channels // 2),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels // 2, channels, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(channels),
    )
    stem1 = nn.Sequential(
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(channels),
    )
    return stem0, stem1


class AuxiliaryHead(nn.Module):
    """Auxiliary classifier on the cell at 2/3 depth (DARTS): pool to 2x2, 1x1 conv 128, 2x2 conv 768, linear.

    On an 8x8 input (CIFAR at 32 px) the pooling is DARTS's 5x5 stride-3 average; on other sizes it is an
    adaptive average to 2x2, so any input size from 28 px works.
    """

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        if x.shape[-2:] == (8, 8):
            x = F.avg_pool2d(x, 5, stride=3, padding=0, count_include_pad=False)
        else:
            x = F.adaptive_avg_pool2d(x, 2)
        return self.classifier(self.features(x).flatten(1))
