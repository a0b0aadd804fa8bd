"""What an architecture costs: parameters (as the DARTS papers count them), multiply-adds, latency, and the
:class:`Cost` interface every cost-aware strategy takes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..spaces.base import NetSetting, OpSite, Space


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


class Cost(ABC):
    """What an architecture costs (lower is better): one number, a pure function of the architecture.

    Every strategy can take any cost. An *additive* cost is a fixed part plus one term per decision, which
    depends only on that decision's choice (parameters, multiply-adds and lookup-table latency in spaces with
    :meth:`~parsecnas.spaces.base.Space.op_sites`); its :meth:`table` lets a factorised distribution take the
    exact expected cost (:meth:`~parsecnas.distributions.CategoricalProduct.expectation`).

    Attributes:
        name: what it measures (``params``, ``latency[raspi4]``...).
        unit: its unit (``M``, ``ms``...).
    """

    name: str = ""
    unit: str = ""
    additive: bool = False

    @abstractmethod
    def __call__(self, arch: Any) -> float:
        """The cost of ``arch``."""

    def table(self) -> AdditiveTable:
        """The per-(decision, choice) terms and the fixed part of an additive cost."""
        raise TypeError(f"cost {self.name!r} is not additive over decisions; expected-cost methods need an additive "
                        "one (params, madds, or a latency lookup table)")


@dataclass(frozen=True)
class AdditiveTable:
    """``cost(arch) = offset + sum_d values[d][choice_d]``.

    Attributes:
        values: one tuple per decision, one term per choice.
        offset: the fixed part (what every architecture of the setting costs).
    """

    values: tuple[tuple[float, ...], ...]
    offset: float

    def total(self, choices: Sequence[int]) -> float:
        """The cost of one architecture given as one choice index per decision."""
        if len(choices) != len(self.values):
            raise ValueError(f"expected {len(self.values)} choices (one per decision), got {len(choices)}")
        return self.offset + sum(row[int(c)] for row, c in zip(self.values, choices))

    def padded(self, width: int | None = None) -> torch.Tensor:
        """The terms as a (D, width) float64 tensor, zeros past each decision's choices (as distributions pad)."""
        width = width or max(len(row) for row in self.values)
        out = torch.zeros(len(self.values), width, dtype=torch.float64)
        for d, row in enumerate(self.values):
            out[d, : len(row)] = torch.tensor(row, dtype=torch.float64)
        return out


class FunctionCost(Cost):
    """Any function of an architecture as a cost (e.g. a benchmark table's latency column)."""

    def __init__(self, function: Callable[[Any], float], name: str, unit: str = "") -> None:
        self.function, self.name, self.unit = function, name, unit

    def __call__(self, arch: Any) -> float:
        return float(self.function(arch))


class AdditiveCost(Cost):
    """A cost given by its table (see :class:`AdditiveTable`) over the decisions of ``space``.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> space = get_space("nb201")
        >>> cost = parameter_cost(space, space.net_setting("cifar10"))
        >>> round(cost(space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|"
        ...                        "nor_conv_3x3~1|nor_conv_3x3~2|")), 4)
        1.2885
    """

    additive = True

    def __init__(self, space: Space, table: AdditiveTable, name: str, unit: str = "") -> None:
        if [len(row) for row in table.values] != [d.size for d in space.decisions]:
            raise ValueError(f"an additive table for space {space.name!r} needs one row per decision with one "
                             "term per choice")
        self.space, self._table, self.name, self.unit = space, table, name, unit

    def __call__(self, arch: Any) -> float:
        return self._table.total(self.space.to_choices(arch))

    def table(self) -> AdditiveTable:
        return self._table


def site_table(space: Space, setting: NetSetting, per_site: Callable[[OpSite], float],
               whole: Callable[[Any], float]) -> AdditiveTable:
    """The additive table of a cost measured op by op: each choice's term is ``per_site`` summed over its op
    sites (each distinct site measured once); the fixed part is ``whole(arch) - sum of terms`` for one
    architecture (exact for a cost that is truly additive, such as parameters and multiply-adds)."""
    sites = space.op_sites(setting)
    measured: dict[OpSite, float] = {}
    for site in sorted({s for row in sites for choice in row for s in choice}, key=lambda s: s.key):
        measured[site] = float(per_site(site))
    values = tuple(tuple(sum(measured[s] for s in choice) for choice in row) for row in sites)
    reference = [0] * len(values)
    offset = whole(space.from_choices(reference)) - sum(row[0] for row in values)
    return AdditiveTable(values, offset)


def parameter_cost(space: Space, setting: NetSetting) -> AdditiveCost:
    """Parameters (millions, no auxiliary head) of ``space``'s network of ``setting``, additive over decisions."""
    table = site_table(space, setting, lambda site: count_parameters(space.build_op(site)) / 1e6,
                       lambda arch: count_parameters(space.build(arch, **setting.options)) / 1e6)
    return AdditiveCost(space, table, "params", "M")


def multiply_add_cost(space: Space, setting: NetSetting) -> AdditiveCost:
    """Multiply-adds (millions, one image) of ``space``'s network of ``setting``, additive over decisions."""
    def per_site(site: OpSite) -> float:
        return count_multiply_adds(space.build_op(site), (site.channels, site.height, site.width)) / 1e6

    def whole(arch: Any) -> float:
        return count_multiply_adds(space.build(arch, **setting.options), setting.input_shape()[1:]) / 1e6

    return AdditiveCost(space, site_table(space, setting, per_site, whole), "madds", "M")


def network_cost(kind: str, build: Callable[[Any], nn.Module], input_shape: Callable[[Any], Sequence[int]]
                 ) -> FunctionCost:
    """Parameters or multiply-adds (``kind``: ``params`` / ``madds``, millions) counted on the network
    ``build(arch)`` of each architecture, on an input of ``input_shape(arch)`` (C, H, W): the cost of a space
    whose costs are not additive over its decisions, such as the elastic space (depth decides which blocks'
    choices count; the resolution scales every layer's multiply-adds).

    Example:
        >>> from parsecnas.spaces import get_space
        >>> space = get_space("ofa")
        >>> cost = network_cost("params", lambda a: space.build(a, channels=8),
        ...                     lambda a: (3, a.resolution, a.resolution))
        >>> cost(space.smallest()) < cost(space.largest())
        True
    """
    if kind == "params":
        return FunctionCost(lambda arch: count_parameters(build(arch)) / 1e6, "params", "M")
    if kind == "madds":
        return FunctionCost(lambda arch: count_multiply_adds(build(arch), input_shape(arch)) / 1e6, "madds", "M")
    raise ValueError(f"unknown network cost {kind!r}; valid: params, madds")


def nb201_latency_cost(device: str, table: Any = None, data_dir: str | None = None) -> FunctionCost:
    """Measured latency (ms) of NB201 cells on one of the benchmark's device settings (``raspi4``, ``pixel3``,
    ``titan_rtx_256``...: :attr:`~parsecnas.estimators.tabular.NB201Table.devices`); not additive."""
    from .tabular import NB201Table

    source = table if table is not None else NB201Table(data_dir)
    if device not in source.devices:
        raise ValueError(f"unknown NB201 latency device {device!r}; valid: {', '.join(source.devices)}")
    return FunctionCost(lambda arch: source.latency(arch, device), f"latency[{device}]", "ms")
