"""Hardware cost of a network: parameters (as the DARTS papers count them) and multiply-adds."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def count_parameters(model: nn.Module, include_auxiliary: bool = False) -> int:
    """Trainable parameters, without the auxiliary head unless asked (the DARTS papers' convention)."""
    return sum(p.numel() for name, p in model.named_parameters()
               if include_auxiliary or not name.startswith("auxiliary"))


def count_multiply_adds(model: nn.Module, input_shape: Sequence[int], *args: object) -> int:
    """Multiply-adds of one forward pass of a single example, counting convolutions and linear layers.

    Pooling, batch norm, activations and additions are not counted, as in the DARTS/PARSEC tables.
    ``input_shape`` is (C, H, W); extra ``args`` are passed to ``forward`` after the input.

    Example:
        >>> from parsecnas.nets import build_network
        >>> 500e6 < count_multiply_adds(build_network("DARTS_V2", "imagenet"), (3, 224, 224)) < 650e6
        True
    """
    total = 0

    def conv_hook(module: nn.Conv2d, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * module.in_features

    handles = []
    for name, module in model.named_modules():
        if name.startswith("auxiliary"):
            continue
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape), *args)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return total
