"""FactorizedReduce: the two offset stride-2 1x1 convolutions of DARTS, computed safely in channels-last."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from parsecnas.ops import FactorizedReduce


@pytest.mark.parametrize("size", [9, 10])
def test_equals_two_offset_stride_2_convolutions(size: int) -> None:
    torch.manual_seed(0)
    op = FactorizedReduce(6, 8, affine=False).eval()
    x = torch.randn(2, 6, size, size)
    shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:] if size % 2 else x[:, :, 1:, 1:]
    branches = [F.conv2d(x, op.conv_1.weight, stride=2), F.conv2d(shifted, op.conv_2.weight, stride=2)]
    expected = F.batch_norm(torch.cat(branches, 1), None, None, training=True)
    torch.testing.assert_close(op(x), expected)
    assert op(x).shape[-1] == (size + 1) // 2


def test_channels_last_backward_at_imagenet_sizes_is_finite() -> None:
    op = FactorizedReduce(4, 4, affine=True).to(memory_format=torch.channels_last)
    x = torch.randn(4, 4, 112, 112).contiguous(memory_format=torch.channels_last).requires_grad_()
    op(x).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
