"""Primitive operations of the DARTS cell space, shared by every network.

Conventions follow DARTS (Liu et al. 2019): convolutions are ReLU-conv-BN, a separable convolution is applied
twice, a stride-2 skip connection is a factorized reduction, and batch norm is affine only in evaluation networks.

One departure in *form*, not in maths: every convolutional op starts with a ReLU of its input, and several ops on
the same edge (or several edges from the same node) would each compute and store that same ReLU. Ops that start
with a ReLU are marked ``takes_relu = True`` and receive the already-rectified input from the cell, which computes
it once per node. The result equals DARTS's ops exactly and saves one activation per op in memory.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

PRIMITIVES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
"""The eight DARTS primitives, in the order of the DARTS code (index 0 is the zero op)."""

NONZERO_PRIMITIVES: tuple[str, ...] = PRIMITIVES[1:]


def batch_norm(channels: int, affine: bool) -> nn.BatchNorm2d:
    """BN of an op. ``affine=False`` is the search setting: no affine and no running statistics, so a supernet
    always normalises with batch statistics (running averages over different sampled paths fit no single one)."""
    return nn.BatchNorm2d(channels, affine=affine, track_running_stats=affine)


class Zero(nn.Module):
    """The ``none`` op: zeros of the output's shape (subsampled when the stride is 2)."""

    takes_relu = False

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class Identity(nn.Module):
    """The stride-1 ``skip_connect``; drop path skips it, as in DARTS."""

    takes_relu = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class DilConv(nn.Sequential):
    """Dilated depthwise-separable conv: (ReLU) depthwise dilated conv, pointwise conv, BN."""

    takes_relu = True

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int,
                 affine: bool) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            batch_norm(c_out, affine),
        )


class SepConv(nn.Module):
    """Separable conv applied twice: (ReLU) dw-pw-BN, ReLU, dw-pw-BN; only the first has the stride."""

    takes_relu = True

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool) -> None:
        super().__init__()
        self.first = DilConv(c_in, c_in, kernel, stride, padding, 1, affine)
        self.second = DilConv(c_in, c_out, kernel, 1, padding, 1, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(F.relu(self.first(x)))


class FactorizedReduce(nn.Module):
    """Halves the resolution with two offset stride-2 1x1 convs whose outputs are concatenated.

    Odd sizes are padded on the bottom/right before the offset branch, so both branches give ceil(H/2). Each
    stride-2 1x1 conv is computed as every other pixel followed by a stride-1 1x1 conv (the same numbers and the
    same weights): torch 2.13's CPU backward of a strided 1x1 conv in channels-last layout corrupts memory for
    few channels at large sizes (e.g. 4 channels at 56x56 and up), which ImageNet-sized inputs reach.
    """

    takes_relu = True

    def __init__(self, c_in: int, c_out: int, affine: bool) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.bn = batch_norm(c_out, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:] if x.shape[-1] % 2 else x[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x[:, :, ::2, ::2]), self.conv_2(shifted[:, :, ::2, ::2])], dim=1))


class Pool(nn.Module):
    """3x3 max or average pooling (average excludes padding), followed by BN in search networks."""

    takes_relu = False

    def __init__(self, kind: str, c: int, stride: int, bn: bool) -> None:
        super().__init__()
        self.pool: nn.Module = (nn.MaxPool2d(3, stride, padding=1) if kind == "max"
                                else nn.AvgPool2d(3, stride, padding=1, count_include_pad=False))
        self.bn = batch_norm(c, affine=False) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pool(x)
        return self.bn(out) if self.bn is not None else out


OpFactory = Callable[[int, int, bool], nn.Module]

OPS: dict[str, OpFactory] = {
    "none": lambda c, stride, affine: Zero(stride),
    "max_pool_3x3": lambda c, stride, affine: Pool("max", c, stride, bn=not affine),
    "avg_pool_3x3": lambda c, stride, affine: Pool("avg", c, stride, bn=not affine),
    "skip_connect": lambda c, stride, affine: Identity() if stride == 1 else FactorizedReduce(c, c, affine),
    "sep_conv_3x3": lambda c, stride, affine: SepConv(c, c, 3, stride, 1, affine),
    "sep_conv_5x5": lambda c, stride, affine: SepConv(c, c, 5, stride, 2, affine),
    "dil_conv_3x3": lambda c, stride, affine: DilConv(c, c, 3, stride, 2, 2, affine),
    "dil_conv_5x5": lambda c, stride, affine: DilConv(c, c, 5, stride, 4, 2, affine),
}
"""Op table ``name -> factory(C, stride, affine)``. ``affine=False`` is the search setting (pools get a BN)."""


def make_op(name: str, channels: int, stride: int, affine: bool) -> nn.Module:
    """Builds one primitive by name.

    Example:
        >>> op = make_op("sep_conv_3x3", 16, 1, affine=True)
        >>> op(torch.relu(torch.randn(2, 16, 8, 8))).shape
        torch.Size([2, 16, 8, 8])
    """
    try:
        factory = OPS[name]
    except KeyError:
        raise ValueError(f"unknown op {name!r}; valid ops: {', '.join(PRIMITIVES)}") from None
    return factory(channels, stride, affine)


def apply_op(op: nn.Module, x: torch.Tensor, x_relu: torch.Tensor | None) -> torch.Tensor:
    """Runs ``op`` on ``x``, handing it ``relu(x)`` instead when the op starts with a ReLU."""
    if getattr(op, "takes_relu", False):
        return op(x_relu if x_relu is not None else F.relu(x))
    return op(x)


def drop_path(x: torch.Tensor, drop_prob: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zeroes whole examples of a branch with probability ``drop_prob`` and rescales the rest (DARTS)."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=generator) < keep
    return x * mask.to(x.dtype) / keep


class ReLUConvBN(nn.Sequential):
    """ReLU, conv, BN: the preprocessing of a cell's inputs (DARTS)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            batch_norm(c_out, affine),
        )


class ReducePreprocess(nn.Module):
    """ReLU then factorized reduction: the preprocessing of input c_{k-2} after a reduction cell."""

    def __init__(self, c_in: int, c_out: int, affine: bool) -> None:
        super().__init__()
        self.reduce = FactorizedReduce(c_in, c_out, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(F.relu(x))
