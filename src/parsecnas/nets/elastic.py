"""The elastic (Once-for-All / BigNAS) network: one MobileNetV3-style network holding the largest sub-network's
weights, which runs any :class:`~parsecnas.spaces.elastic_arch.ElasticArch` (``net(x, arch)``), and the
standalone network of one sub-network (:class:`MobileSubnet`), built fresh or extracted with its weights.

Layout: a 3x3 stem (stride 1), stages of inverted-residual blocks (1x1 expansion, depthwise k x k, optional
squeeze-and-excitation, 1x1 projection; a residual where the shape allows), a 1x1 head convolution, global
pooling and a linear classifier. Stage ``s`` has ``round(channels * STAGE_WIDTHS[s])`` output channels at width
1.0 and stride ``STAGE_STRIDES[s]`` in its first block; the later half of the stages uses hard swish and
squeeze-and-excitation, the first half ReLU and none (as MobileNetV3 puts them where they are cheap).

Batch norm keeps running statistics (unlike the cell supernets, whose BN always uses batch statistics): in eval
mode a sub-network uses the slice of them that :func:`recalibrate_bn` computed for it on a few train batches.
The extracted network copies those statistics, so it equals the elastic network's eval-mode output.

Example:
    >>> spec = ElasticSpec(stages=2, channels=4, num_classes=3)
    >>> net = ElasticMobileNet(spec)
    >>> arch = spec.largest()
    >>> sub = net.extract(arch).eval()
    >>> x = torch.randn(2, 3, 32, 32)
    >>> bool(torch.allclose(net.eval()(x, arch), sub(x), atol=1e-5))
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..spaces.elastic_arch import ElasticArch
from .elastic_ops import (
    ElasticBatchNorm,
    ElasticConv,
    ElasticDepthwise,
    ElasticSE,
    SqueezeExcite,
    activation,
    scaled_width,
)

__all__ = ["ElasticMobileNet", "ElasticSpec", "MobileSubnet", "recalibrate_bn"]

STAGE_WIDTHS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0)
STAGE_STRIDES = (2, 2, 2, 1, 2, 1)
HEAD_RATIO = 4


@dataclass(frozen=True)
class ElasticSpec:
    """The elastic network's size: what its largest sub-network is.

    Attributes:
        stages: stages of blocks (at most 6).
        channels: the stem's width at width 1.0; stage widths follow ``STAGE_WIDTHS``.
        max_depth: block slots per stage.
        kernels: depthwise kernel sizes (odd, ascending).
        expands: expansion ratios (ascending).
        widths: width multipliers (ascending).
        num_classes: classifier outputs.
        in_channels: input image channels.
    """

    stages: int = 4
    channels: int = 16
    max_depth: int = 4
    kernels: tuple[int, ...] = (3, 5, 7)
    expands: tuple[int, ...] = (3, 4, 6)
    widths: tuple[float, ...] = (0.75, 1.0)
    num_classes: int = 10
    in_channels: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.stages <= len(STAGE_WIDTHS) or self.channels < 1 or self.max_depth < 1:
            raise ValueError(f"need 1 <= stages <= {len(STAGE_WIDTHS)}, channels >= 1 and max_depth >= 1; got "
                             f"{self.stages}, {self.channels}, {self.max_depth}")
        if self.num_classes < 1 or self.in_channels < 1 or not (self.kernels and self.expands and self.widths):
            raise ValueError(f"need num_classes, in_channels >= 1 and some kernels, expands and widths; got "
                             f"{self.num_classes}, {self.in_channels}, {self.kernels}, {self.expands}, {self.widths}")

    def stage_width(self, stage: int, multiplier: float = 1.0) -> int:
        return scaled_width(scaled_width(self.channels, STAGE_WIDTHS[stage]), multiplier)

    def head_width(self, multiplier: float = 1.0) -> int:
        return scaled_width(HEAD_RATIO * self.stage_width(self.stages - 1), multiplier)

    def in_width(self, stage: int, slot: int, multiplier: float = 1.0) -> int:
        """Input channels of block ``slot`` of ``stage``: the previous stage's (or the stem's) for its first."""
        if slot > 0:
            return self.stage_width(stage, multiplier)
        return self.stage_width(stage - 1, multiplier) if stage else scaled_width(self.channels, multiplier)

    def stride(self, stage: int, slot: int) -> int:
        return STAGE_STRIDES[stage] if slot == 0 else 1

    def residual(self, stage: int, slot: int) -> bool:
        """Whether the block adds its input (stride 1 and as many channels in as out, at width 1.0; a width
        multiplier keeps the two equal)."""
        return self.stride(stage, slot) == 1 and self.in_width(stage, slot) == self.stage_width(stage)

    def act(self, stage: int) -> str:
        """``hswish`` in the later half of the stages, ``relu`` in the first half."""
        return "hswish" if stage >= self.stages // 2 else "relu"

    def uses_se(self, stage: int) -> bool:
        return stage >= self.stages // 2

    def largest(self, resolution: int = 32) -> ElasticArch:
        """The largest sub-network at ``resolution``."""
        slots = (self.max_depth,) * self.stages
        return ElasticArch(resolution, max(self.widths), slots, ((max(self.kernels),) * self.max_depth,) * self.stages,
                           ((max(self.expands),) * self.max_depth,) * self.stages)

    def options(self) -> dict[str, Any]:
        """The network's constructor options, for records and exports."""
        return {"num_classes": self.num_classes, "in_channels": self.in_channels, "channels": self.channels,
                "stages": self.stages, "stem": "elastic"}


def _resize(x: torch.Tensor, resolution: int) -> torch.Tensor:
    if x.shape[-2:] == (resolution, resolution):
        return x
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)


class ElasticBlock(nn.Module):
    """An inverted-residual block holding its largest form: ``block(x, kernel, expand, out)``."""

    def __init__(self, spec: ElasticSpec, stage: int, slot: int) -> None:
        super().__init__()
        in_max, out_max, stride = spec.in_width(stage, slot), spec.stage_width(stage), spec.stride(stage, slot)
        hidden = in_max * max(spec.expands)
        self.act, self.residual = spec.act(stage), spec.residual(stage, slot)
        self.expand, self.bn1 = ElasticConv(in_max, hidden), ElasticBatchNorm(hidden)
        self.depthwise, self.bn2 = ElasticDepthwise(hidden, spec.kernels, stride), ElasticBatchNorm(hidden)
        self.se = ElasticSE(hidden) if spec.uses_se(stage) else None
        self.project, self.bn3 = ElasticConv(hidden, out_max), ElasticBatchNorm(out_max)

    def forward(self, x: torch.Tensor, kernel: int, expand: int, out: int) -> torch.Tensor:
        hidden = x.shape[1] * expand
        h = activation(self.act, self.bn1(self.expand(x, hidden)))
        h = activation(self.act, self.bn2(self.depthwise(h, kernel)))
        if self.se is not None:
            h = self.se(h)
        y = self.bn3(self.project(h, out))
        return y + x if self.residual else y

    def sliced_state(self, cin: int, kernel: int, expand: int, out: int) -> dict[str, torch.Tensor]:
        hidden = cin * expand
        parts: dict[str, dict[str, torch.Tensor]] = {
            "expand": self.expand.sliced_state(cin, hidden), "bn1": self.bn1.sliced_state(hidden),
            "depthwise": self.depthwise.sliced_state(hidden, kernel), "bn2": self.bn2.sliced_state(hidden),
            "project": self.project.sliced_state(hidden, out), "bn3": self.bn3.sliced_state(out)}
        if self.se is not None:
            parts["se"] = self.se.sliced_state(hidden)
        return {f"{name}.{k}": v for name, state in parts.items() for k, v in state.items()}


class MBBlock(nn.Module):
    """The static inverted-residual block of one sub-network (the maths of :class:`ElasticBlock`)."""

    def __init__(self, cin: int, kernel: int, expand: int, out: int, stride: int, act: str, se: bool,
                 residual: bool) -> None:
        super().__init__()
        hidden = cin * expand
        self.act, self.residual = act, residual
        self.expand, self.bn1 = nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden)
        self.depthwise = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.se = SqueezeExcite(hidden) if se else None
        self.project, self.bn3 = nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = activation(self.act, self.bn1(self.expand(x)))
        h = activation(self.act, self.bn2(self.depthwise(h)))
        if self.se is not None:
            h = self.se(h)
        y = self.bn3(self.project(h))
        return y + x if self.residual else y


class ElasticMobileNet(nn.Module):
    """The weight-sharing network of the elastic space: ``net(x, arch)`` runs sub-network ``arch``; its
    stages past ``spec.stages`` are ignored (see :class:`~parsecnas.spaces.ofa.OfaSpace`)."""

    def __init__(self, spec: ElasticSpec) -> None:
        super().__init__()
        self.spec = spec
        self.stem = ElasticConv(spec.in_channels, spec.channels, 3)
        self.stem_bn = ElasticBatchNorm(spec.channels)
        self.stages = nn.ModuleList(nn.ModuleList(ElasticBlock(spec, s, b) for b in range(spec.max_depth))
                                    for s in range(spec.stages))
        last = spec.stage_width(spec.stages - 1)
        self.head, self.head_bn = ElasticConv(last, spec.head_width()), ElasticBatchNorm(spec.head_width())
        self.classifier = nn.Linear(spec.head_width(), spec.num_classes)

    def check(self, arch: ElasticArch) -> None:
        """Raises a ValueError when ``arch`` is not a sub-network of this network."""
        spec = self.spec
        blocks = arch.active_blocks()
        if (len(arch.depths) < spec.stages or any(d > spec.max_depth for d in arch.depths[: spec.stages])
                or any(k not in spec.kernels or e > max(spec.expands) for s, _, k, e in blocks if s < spec.stages)
                or arch.width > max(spec.widths)):
            raise ValueError(f"{arch} is not a sub-network of this elastic network ({spec.stages} stages of at "
                             f"most {spec.max_depth} blocks, kernels {spec.kernels}, ratios up to "
                             f"{max(spec.expands)}, width up to {max(spec.widths)})")

    def forward(self, x: torch.Tensor, arch: ElasticArch) -> torch.Tensor:
        self.check(arch)
        w = arch.width
        x = activation("hswish", self.stem_bn(self.stem(_resize(x, arch.resolution),
                                                        scaled_width(self.spec.channels, w))))
        for s, b, kernel, expand in arch.active_blocks():
            if s < self.spec.stages:
                x = self._block(s, b)(x, kernel, expand, self.spec.stage_width(s, w))
        x = activation("hswish", self.head_bn(self.head(x, self.spec.head_width(w))))
        pooled = x.mean((2, 3))
        return F.linear(pooled, self.classifier.weight[:, : pooled.shape[1]], self.classifier.bias)

    def _block(self, stage: int, slot: int) -> ElasticBlock:
        block = self.stages[stage][slot]  # type: ignore[index]
        assert isinstance(block, ElasticBlock)
        return block

    def extract(self, arch: ElasticArch) -> MobileSubnet:
        """Sub-network ``arch`` as a standalone network holding copies of its (sliced, transformed) weights
        and batch-norm statistics; in eval mode its outputs equal ``self(x, arch)``'s. No retraining."""
        self.check(arch)
        sub = MobileSubnet(arch, self.spec)
        w, spec = arch.width, self.spec
        stem = scaled_width(spec.channels, w)
        state = {"stem.weight": self.stem.sliced_state(spec.in_channels, stem)["weight"],
                 **{f"stem_bn.{k}": v for k, v in self.stem_bn.sliced_state(stem).items()}}
        cin = stem
        for i, (s, b, kernel, expand) in enumerate(sub.active_blocks()):
            out = spec.stage_width(s, w)
            state |= {f"blocks.{i}.{k}": v for k, v in self._block(s, b).sliced_state(cin, kernel, expand, out).items()}
            cin = out
        head = spec.head_width(w)
        state |= {"head.weight": self.head.sliced_state(cin, head)["weight"],
                  **{f"head_bn.{k}": v for k, v in self.head_bn.sliced_state(head).items()},
                  "classifier.weight": self.classifier.weight[:, :head].detach().clone(),
                  "classifier.bias": self.classifier.bias.detach().clone()}
        sub.load_state_dict(state)
        return sub.to(self.classifier.weight.device)


class MobileSubnet(nn.Module):
    """The standalone network of one :class:`ElasticArch` (any sizes, not only the space's choices).

    Built fresh (random weights, ``parsecnas`` trains it like any network) or by
    :meth:`ElasticMobileNet.extract`. ``arch``, ``spec`` and ``options`` say what it is; ``options`` carries
    ``in_channels`` and ``num_classes`` as :func:`parsecnas.export.export_model` reads them.
    """

    def __init__(self, arch: ElasticArch, spec: ElasticSpec) -> None:
        super().__init__()
        if len(arch.depths) < spec.stages:
            raise ValueError(f"{arch} has {len(arch.depths)} stages; the network needs {spec.stages}")
        self.arch, self.spec, self.options = arch, spec, {**spec.options(), "architecture": str(arch)}
        w = arch.width
        stem = scaled_width(spec.channels, w)
        self.stem, self.stem_bn = nn.Conv2d(spec.in_channels, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem)
        blocks, cin = [], stem
        for s, b, kernel, expand in self.active_blocks():
            out = spec.stage_width(s, w)
            blocks.append(MBBlock(cin, kernel, expand, out, spec.stride(s, b), spec.act(s),
                                  spec.uses_se(s), spec.residual(s, b)))
            cin = out
        self.blocks = nn.Sequential(*blocks)
        head = spec.head_width(w)
        self.head, self.head_bn = nn.Conv2d(cin, head, 1, bias=False), nn.BatchNorm2d(head)
        self.classifier = nn.Linear(head, spec.num_classes)

    def active_blocks(self) -> list[tuple[int, int, int, int]]:
        """The blocks this network runs: those of the first ``spec.stages`` stages of its architecture."""
        return [blk for blk in self.arch.active_blocks() if blk[0] < self.spec.stages]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = activation("hswish", self.stem_bn(self.stem(_resize(x, self.arch.resolution))))
        x = self.blocks(x)
        x = activation("hswish", self.head_bn(self.head(x)))
        return self.classifier(x.mean((2, 3)))


def recalibrate_bn(net: nn.Module, forward: Callable[[torch.Tensor], object], batches: Iterable[torch.Tensor]
                   ) -> None:
    """Resets every batch norm of ``net`` and re-estimates its running statistics as the plain average over
    ``batches`` of ``forward(x)`` in train mode, no gradient (a sub-network's statistics, as OFA and SPOS
    recalibrate them); the net's mode and momenta are restored."""
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    was_training = net.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    try:
        with torch.no_grad():
            for x in batches:
                forward(x)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        net.train(was_training)
