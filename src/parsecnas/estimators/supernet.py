"""Shared weights as an estimator: any black-box strategy can search a trained supernet (SPOS's second phase,
RSPS's selection) by the accuracy each architecture gets with the supernet's weights.

Example:
    >>> from parsecnas.search import load_trained_supernet  # doctest: +SKIP
    >>> trained = load_trained_supernet(config, "runs/spos")  # doctest: +SKIP
    >>> estimator = SupernetEstimator(trained.net, trained.held_out)  # doctest: +SKIP
    >>> run_blackbox(create_blackbox("evolution", space), estimator, budget=200)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import islice

import torch
from torch import nn

from ..data import Loader
from ..evaluation import iter_logits, topk_accuracy

__all__ = ["SupernetEstimator"]


class SupernetEstimator:
    """``estimator(arch)``: the top-1 accuracy of ``arch`` on ``loader`` with ``net``'s shared weights.

    Args:
        net: a supernet, called as ``net(x, arch)``.
        loader: the examples scored on (the search run's held-out examples, or a validation split); the
            supernet's batch norm normalises by each batch's statistics, so the loader's batch size matters.
        batches: score on the first ``batches`` batches of each pass only (cheaper, noisier); all by default.
        channels_last: the memory layout the supernet was trained in.
    """

    def __init__(self, net: nn.Module, loader: Loader, batches: int | None = None, channels_last: bool = True
                 ) -> None:
        if batches is not None and batches < 1:
            raise ValueError(f"batches must be >= 1 (or None for all), got {batches}")
        self.net, self.loader, self.batches, self.channels_last = net, loader, batches, channels_last

    def __call__(self, arch: Hashable) -> float:
        pairs = iter_logits(self.net, self.loader, self.channels_last, arch=arch)
        if self.batches is not None:
            pairs = islice(pairs, self.batches)
        logits, labels = zip(*pairs, strict=True)
        return topk_accuracy(torch.cat(logits), torch.cat(labels))["top1"]
