"""The weight-sharing supernet of the DARTS space. It holds every candidate op once and no architecture
parameters: strategies own their beliefs and pass either a discrete architecture or mixing weights."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import PRIMITIVES
from ..spaces.base import MixingWeights
from ..spaces.genotype import NUM_NODES, Genotype
from .cells import SearchCell, cell_plan
from .heads import AuxiliaryHead, cifar_stem

__all__ = ["MixingWeights", "SuperNet", "training_loss"]
# MixingWeights here: {"normal": (14, 8), "reduce": (14, 8)} per-edge op weights, optionally "normal_active" /
# "reduce_active" bool masks of the ops to run (XNAS wipeout, GDAS hard sampling).


class SuperNet(nn.Module):
    """DARTS search network (defaults: 8 cells, C = 16, reductions at 1/3 and 2/3 of the depth).

    ``supernet(x, genotype)`` runs only the genotype's ops (one network's cost and memory);
    ``supernet(x, {"normal": w_n, "reduce": w_r})`` runs the softmax-style mixture on every edge.

    Example:
        >>> net = SuperNet(num_cells=5, channels=8)
        >>> x = torch.randn(2, 3, 32, 32)
        >>> net(x, Genotype.named("DARTS_V2")).shape
        torch.Size([2, 10])
    """

    def __init__(self, num_cells: int = 8, channels: int = 16, num_classes: int = 10, in_channels: int = 3,
                 stem_multiplier: int = 3, primitives: Sequence[str] = PRIMITIVES, auxiliary: bool = False,
                 auxiliary_weight: float = 0.4) -> None:
        super().__init__()
        unknown = [p for p in primitives if p not in PRIMITIVES]
        if unknown:
            raise ValueError(f"unknown primitives {unknown}; valid: {', '.join(PRIMITIVES)}")
        self.primitives = tuple(primitives)
        self.stem = cifar_stem(in_channels, stem_multiplier * channels, affine=False)
        plan = cell_plan(num_cells, channels, stem_multiplier * channels)
        self.cells = nn.ModuleList(SearchCell(spec, self.primitives) for spec in plan)
        self.classifier = nn.Linear(NUM_NODES * plan[-1].channels, num_classes)
        self.aux_index = 2 * num_cells // 3
        self.auxiliary = AuxiliaryHead(NUM_NODES * plan[self.aux_index].channels, num_classes) if auxiliary else None
        self.auxiliary_weight = auxiliary_weight

    def forward(self, x: torch.Tensor, arch: Genotype | MixingWeights) -> torch.Tensor:
        return self.forward_head(self.forward_features(x, arch))

    def op_parameters(self) -> dict[str, torch.Tensor]:
        """Parameters (millions) of each candidate op, ``{cell type: (14, ops)}`` in ``primitives`` order, summed
        over the cells of each type (they share one architecture): SNAS's resource cost."""
        out: dict[str, torch.Tensor] = {}
        for cell in self.cells:
            assert isinstance(cell, SearchCell)
            counts = out.setdefault("reduce" if cell.reduction else "normal",
                                    torch.zeros(len(cell.edges), len(self.primitives)))
            for e, edge in enumerate(cell.edges):
                assert isinstance(edge, nn.ModuleDict)
                for o, name in enumerate(self.primitives):
                    counts[e, o] += sum(p.numel() for p in edge[name].parameters()) / 1e6
        return out

    def forward_features(self, x: torch.Tensor, arch: Genotype | MixingWeights) -> torch.Tensor:
        """The last cell's feature map for ``arch``, before global pooling."""
        return self._features(x, arch, with_auxiliary=False)[0]

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pooling and the classifier (``pre_logits``: the pooled features only)."""
        pooled = F.adaptive_avg_pool2d(features, 1).flatten(1)
        return pooled if pre_logits else self.classifier(pooled)

    def forward_train(self, x: torch.Tensor, arch: Genotype | MixingWeights,
                      with_auxiliary: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits and, when the net has an auxiliary head (fine-tuning on the evaluation configuration), the
        auxiliary logits from the cell at 2/3 depth."""
        features, aux = self._features(x, arch, with_auxiliary)
        return self.forward_head(features), aux

    def _features(self, x: torch.Tensor, arch: Genotype | MixingWeights, with_auxiliary: bool
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            assert isinstance(cell, SearchCell)
            cell_type = "reduce" if cell.reduction else "normal"
            if isinstance(arch, Genotype):
                out = cell.forward_path(s0, s1, arch.cell(cell_type))
            else:
                out = cell.forward_mixed(s0, s1, arch[cell_type], arch.get(f"{cell_type}_active"))
            s0, s1 = s1, out
            if i == self.aux_index and with_auxiliary and self.auxiliary is not None:
                aux = self.auxiliary(s1)
        return s1, aux


def training_loss(net: nn.Module, arch: Genotype | MixingWeights, batch: tuple[torch.Tensor, torch.Tensor]
                  ) -> torch.Tensor:
    """Mean cross-entropy of ``arch`` on ``batch``, plus the weighted auxiliary loss when ``net`` has a head."""
    x, y = batch
    if not isinstance(net, SuperNet):
        return F.cross_entropy(net(x, arch), y)
    logits, aux = net.forward_train(x, arch)
    loss = F.cross_entropy(logits, y)
    return loss if aux is None else loss + net.auxiliary_weight * F.cross_entropy(aux, y)
