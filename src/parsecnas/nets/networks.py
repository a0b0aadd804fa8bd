"""Evaluation networks built from a Genotype: the CIFAR-style stack and the ImageNet (mobile) stack."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..spaces.genotype import Genotype, resolve_genotype
from .cells import EvalCell, cell_plan
from .heads import AuxiliaryHead, cifar_stem, imagenet_stems

SETTINGS = ("cifar10", "imagenet")


class EvalNetwork(nn.Module):
    """A stack of genotype cells (BN affine) with an optional auxiliary head and drop path.

    Args:
        genotype: the architecture.
        num_cells: cells in the stack (DARTS CIFAR: 20; ImageNet: 14).
        channels: initial cell width C (CIFAR: 36; ImageNet: 48).
        num_classes: output classes.
        in_channels: image channels (1 for MNIST-like data).
        auxiliary: build the auxiliary head on the cell at 2/3 depth.
        stem: ``"cifar"`` (3x3 conv at full resolution, width 3C) or ``"imagenet"`` (two stride-2 stems).

    ``drop_path_prob`` (an attribute, 0 by default) is set by the trainer each epoch; ``drop_path_generator``
    optionally makes drop path reproducible without the global RNG.

    Example:
        >>> net = EvalNetwork(Genotype.named("DARTS_V2"), num_cells=5, channels=8, num_classes=10)
        >>> net(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, genotype: Genotype, num_cells: int = 20, channels: int = 36, num_classes: int = 10,
                 in_channels: int = 3, auxiliary: bool = True, stem: str = "cifar") -> None:
        super().__init__()
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"unknown stem {stem!r}; valid: cifar, imagenet")
        self.genotype = genotype
        self.stem_kind = stem
        self.options: dict[str, Any] = {"num_cells": num_cells, "channels": channels, "num_classes": num_classes,
                        "in_channels": in_channels, "auxiliary": auxiliary, "stem": stem}
        """The constructor's arguments besides the genotype: with it, enough to rebuild the network."""
        self.drop_path_prob = 0.0
        self.drop_path_generator: torch.Generator | None = None
        if stem == "cifar":
            stem_channels = 3 * channels
            self.stem0: nn.Module = cifar_stem(in_channels, stem_channels)
            self.stem1: nn.Module | None = None
        else:
            stem_channels = channels
            self.stem0, self.stem1 = imagenet_stems(in_channels, channels)
        plan = cell_plan(num_cells, channels, stem_channels, len(genotype.normal_concat),
                         first_reduction_prev=stem == "imagenet", reduce_multiplier=len(genotype.reduce_concat))
        cells = [EvalCell(genotype, spec) for spec in plan]
        self.cells = nn.ModuleList(cells)
        self.aux_index = 2 * num_cells // 3
        c_out = [cell.multiplier * spec.channels for cell, spec in zip(cells, plan)]
        self.auxiliary = AuxiliaryHead(c_out[self.aux_index], num_classes) if auxiliary else None
        self.classifier = nn.Linear(c_out[-1], num_classes)

    def _features(self, x: torch.Tensor, with_auxiliary: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        s1 = self.stem0(x)
        s0, s1 = (s1, self.stem1(s1)) if self.stem1 is not None else (s1, s1)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob, self.drop_path_generator)
            if i == self.aux_index and self.auxiliary is not None and with_auxiliary:
                aux = self.auxiliary(s1)
        return s1, aux

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last cell's feature map, before global pooling."""
        return self._features(x, with_auxiliary=False)[0]

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pooling and the classifier (``pre_logits``: the pooled features only)."""
        pooled = F.adaptive_avg_pool2d(features, 1).flatten(1)
        return pooled if pre_logits else self.classifier(pooled)

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits and, in training mode with an auxiliary head, the auxiliary logits."""
        features, aux = self._features(x, with_auxiliary=self.training)
        return self.forward_head(features), aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def build_network(genotype: Genotype | str, setting: str = "cifar10", **options: Any) -> EvalNetwork:
    """The DARTS evaluation network for ``setting`` (``cifar10``: 20 cells, C=36; ``imagenet``: 14, C=48).

    Any keyword of :class:`EvalNetwork` overrides the setting's default.

    Example:
        >>> from parsecnas.estimators.cost import count_parameters
        >>> round(count_parameters(build_network("DARTS_V2")) / 1e6, 1)
        3.3
    """
    defaults: dict[str, dict[str, Any]] = {
        "cifar10": {"num_cells": 20, "channels": 36, "num_classes": 10, "stem": "cifar"},
        "imagenet": {"num_cells": 14, "channels": 48, "num_classes": 1000, "stem": "imagenet"},
    }
    if setting not in defaults:
        raise ValueError(f"unknown setting {setting!r}; valid: {', '.join(SETTINGS)}")
    return EvalNetwork(resolve_genotype(genotype), **{**defaults[setting], **options})
