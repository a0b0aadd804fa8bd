"""One evaluation loop for every network: logits over a loader, top-1/top-5 accuracy, devices and autocast.

Used by the training protocol (standalone networks), the search loop (a supernet running one architecture),
ensembles and the black-box training estimator, so an accuracy means the same everywhere.

Example:
    >>> topk_accuracy(torch.tensor([[0.9, 0.1], [0.8, 0.2]]), torch.tensor([0, 1]))
    {'top1': 0.5, 'top5': nan}
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch

from .data import Loader
from .run.resources import resolve_device

__all__ = ["autocast", "autocast_dtype", "evaluate", "iter_logits", "resolve_device", "to_layout", "topk_accuracy"]


def autocast_dtype(device: torch.device, amp: bool | None) -> torch.dtype | None:
    """The autocast dtype (``amp=None``: on CUDA only), or None for full precision."""
    if amp is None:
        amp = device.type == "cuda"
    if not amp:
        return None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` for ``dtype``, or a no-op for full precision."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def to_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x`` in channels-last memory layout (much faster depthwise convolutions on CPU) or as it is."""
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@torch.no_grad()
def iter_logits(net: torch.nn.Module, loader: Loader, channels_last: bool = True,
                amp_dtype: torch.dtype | None = None, arch: Any = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Float logits and labels of each batch of ``loader``, in the loader's order, with ``net`` in eval mode (BN
    running statistics, no drop path; a supernet's BN keeps using batch statistics). With ``arch``, ``net`` is a
    supernet and runs ``net(x, arch)``."""
    net.eval()
    device = next(net.parameters()).device
    for x, y in loader:
        with autocast(device, amp_dtype):
            x = to_layout(x, channels_last)
            logits = (net(x) if arch is None else net(x, arch)).float()
        yield logits, y


def _hits(scores: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    """How many rows of (N, C) ``scores`` rank their label first, and how many among the top five."""
    hits = scores.topk(min(5, scores.shape[1]), dim=1).indices == labels[:, None]
    return int(hits[:, 0].sum()), int(hits.any(1).sum())


def _accuracy(top1: int, top5: int, total: int, num_classes: int) -> dict[str, float]:
    many = num_classes > 5 and total > 0
    return {"top1": top1 / max(1, total), "top5": top5 / max(1, total) if many else math.nan}


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Top-1 and top-5 accuracy of (N, C) ``scores`` (logits or probabilities); top-5 is NaN for C <= 5."""
    return _accuracy(*_hits(scores, labels), labels.numel(), scores.shape[1])


def evaluate(net: torch.nn.Module, loader: Loader, channels_last: bool = True,
             amp_dtype: torch.dtype | None = None, arch: Any = None) -> dict[str, float]:
    """Top-1 and top-5 accuracy of ``net`` (or of supernet ``net`` running ``arch``) over one pass of ``loader``.

    With fewer than 6 classes top-5 is trivially 1 and reported as NaN.
    """
    top1 = top5 = total = num_classes = 0
    for logits, y in iter_logits(net, loader, channels_last, amp_dtype, arch):
        hit1, hit5 = _hits(logits, y)
        top1, top5, total, num_classes = top1 + hit1, top5 + hit5, total + y.numel(), logits.shape[1]
    return _accuracy(top1, top5, total, num_classes)
