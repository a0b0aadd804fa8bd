"""The layers of the elastic (Once-for-All) network: each holds the largest layer's weights once and runs any
smaller one by slicing (channels) or transforming (kernels) them; ``sliced_state`` gives a static layer's weights.

Channels are sliced from the front: a layer of ``c`` channels uses the first ``c`` filters of the largest one.
They are not re-sorted by importance (OFA's optional L1-norm sort before each shrinking phase): the sandwich
rule trains the front channels in every sub-network, which is what makes them the important ones.

Smaller depthwise kernels are OFA's kernel transformation (Cai et al. 2020, section 3.3): the 5x5 kernel is the
centre of the 7x7 one times a learnt 25 x 25 matrix, the 3x3 kernel the centre of that 5x5 kernel times a
learnt 9 x 9 matrix; one matrix per layer and size, shared by its channels, initialised to the identity. The
largest kernel is the stored weight itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ElasticBatchNorm", "ElasticConv", "ElasticDepthwise", "ElasticSE", "activation", "se_width",
           "scaled_width"]


def scaled_width(channels: int, multiplier: float) -> int:
    """``channels`` times a width multiplier, rounded, at least 1 (the one rule every layer uses)."""
    return max(1, int(round(channels * multiplier)))


def se_width(channels: int) -> int:
    """Channels of the squeeze-and-excitation bottleneck of a ``channels``-wide block (a quarter, as
    MobileNetV3)."""
    return max(1, channels // 4)


def activation(name: str, x: torch.Tensor) -> torch.Tensor:
    """``relu`` or ``hswish`` (MobileNetV3's hard swish) of ``x``."""
    return F.hardswish(x) if name == "hswish" else F.relu(x)


class ElasticConv(nn.Module):
    """A dense ``kernel x kernel`` convolution (no bias) whose input and output channels are sliced: it runs on
    the first ``x.shape[1]`` input channels of the largest filters and gives their first ``out`` outputs."""

    def __init__(self, in_max: int, out_max: int, kernel: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.stride, self.padding = stride, kernel // 2
        self.weight = nn.Parameter(torch.empty(out_max, in_max, kernel, kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")

    def forward(self, x: torch.Tensor, out: int) -> torch.Tensor:
        return F.conv2d(x, self.weight[:out, : x.shape[1]], None, self.stride, self.padding)

    def sliced_state(self, cin: int, out: int) -> dict[str, torch.Tensor]:
        return {"weight": self.weight[:out, :cin].detach().clone()}


class ElasticBatchNorm(nn.BatchNorm2d):
    """Batch norm over the first ``x.shape[1]`` channels of the largest layer: the affine weights and the
    running statistics are sliced (training updates the slice of the running statistics in place)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        factor = 0.0
        assert self.running_mean is not None and self.running_var is not None and self.num_batches_tracked is not None
        if self.training:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], self.weight[:c], self.bias[:c],
                            self.training, factor, self.eps)

    def sliced_state(self, c: int) -> dict[str, torch.Tensor]:
        assert self.running_mean is not None and self.running_var is not None and self.num_batches_tracked is not None
        state = {"weight": self.weight[:c], "bias": self.bias[:c], "running_mean": self.running_mean[:c],
                 "running_var": self.running_var[:c], "num_batches_tracked": self.num_batches_tracked}
        return {k: v.detach().clone() for k, v in state.items()}


class ElasticDepthwise(nn.Module):
    """A depthwise convolution of any of ``kernels`` (odd, ascending) over the first ``x.shape[1]`` channels.

    ``transforms[f"{k}to{j}"]`` is the (j*j, j*j) matrix that maps the centre of the k x k kernel to the j x j
    one, for each pair of consecutive sizes (see the module).
    """

    def __init__(self, channels_max: int, kernels: Sequence[int], stride: int = 1) -> None:
        super().__init__()
        self.kernels = tuple(sorted(int(k) for k in kernels))
        if any(k % 2 == 0 or k < 1 for k in self.kernels):
            raise ValueError(f"depthwise kernels must be odd and >= 1; got {self.kernels}")
        self.stride = stride
        largest = self.kernels[-1]
        self.weight = nn.Parameter(torch.empty(channels_max, 1, largest, largest))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")
        self.transforms = nn.ParameterDict({f"{big}to{small}": nn.Parameter(torch.eye(small * small))
                                            for big, small in zip(self.kernels[:0:-1], self.kernels[-2::-1])})

    def kernel(self, size: int, channels: int) -> torch.Tensor:
        """The (channels, 1, size, size) kernel of the ``size`` x ``size`` layer."""
        if size not in self.kernels:
            raise ValueError(f"kernel {size} is not one of this layer's sizes {self.kernels}")
        w = self.weight[:channels]
        current = self.kernels[-1]
        for smaller in reversed(self.kernels[: self.kernels.index(current)]):
            if current == size:
                break
            start = (current - smaller) // 2
            centre = w[:, :, start: start + smaller, start: start + smaller].reshape(channels, smaller * smaller)
            w = (centre @ self.transforms[f"{current}to{smaller}"]).reshape(channels, 1, smaller, smaller)
            current = smaller
        return w

    def forward(self, x: torch.Tensor, size: int) -> torch.Tensor:
        c = x.shape[1]
        return F.conv2d(x, self.kernel(size, c), None, self.stride, size // 2, 1, c)

    def sliced_state(self, channels: int, size: int) -> dict[str, torch.Tensor]:
        return {"weight": self.kernel(size, channels).detach().clone()}


class ElasticSE(nn.Module):
    """Squeeze-and-excitation over the first ``x.shape[1]`` channels: a bottleneck of ``se_width`` of them,
    ReLU, then a hard-sigmoid gate (MobileNetV3)."""

    def __init__(self, channels_max: int) -> None:
        super().__init__()
        mid = se_width(channels_max)
        self.reduce, self.expand = nn.Linear(channels_max, mid), nn.Linear(mid, channels_max)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        m = se_width(c)
        s = F.relu(F.linear(x.mean((2, 3)), self.reduce.weight[:m, :c], self.reduce.bias[:m]))
        gate = F.hardsigmoid(F.linear(s, self.expand.weight[:c, :m], self.expand.bias[:c]))
        return x * gate[:, :, None, None]

    def sliced_state(self, c: int) -> dict[str, torch.Tensor]:
        m = se_width(c)
        state = {"reduce.weight": self.reduce.weight[:m, :c], "reduce.bias": self.reduce.bias[:m],
                 "expand.weight": self.expand.weight[:c, :m], "expand.bias": self.expand.bias[:c]}
        return {k: v.detach().clone() for k, v in state.items()}


class SqueezeExcite(nn.Module):
    """The static squeeze-and-excitation of a ``channels``-wide block (the same maths as :class:`ElasticSE`)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.reduce, self.expand = nn.Linear(channels, se_width(channels)), nn.Linear(se_width(channels), channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = F.hardsigmoid(self.expand(F.relu(self.reduce(x.mean((2, 3))))))
        return x * gate[:, :, None, None]
