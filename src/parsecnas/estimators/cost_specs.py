"""Costs by name, as configs give them: ``params``, ``madds``, ``nb201:<device>``, ``lut:<file.json>``."""

from __future__ import annotations

from ..spaces.base import Space
from .cost import Cost, multiply_add_cost, nb201_latency_cost, parameter_cost
from .latency import LatencyTable

COST_SPECS = ("params", "madds", "nb201:<device>", "lut:<file.json>")
"""The forms of a cost named in a config (:func:`make_cost`)."""


def make_cost(spec: str, space: Space, setting: str | None = None, data_dir: str | None = None) -> Cost:
    """A cost from its name in a config: ``params`` or ``madds`` of the space's network ``setting`` (its first
    named setting, ``cifar10``, by default), ``nb201:<device>`` (the NB201 latency table) or ``lut:<file>`` (a
    latency lookup table measured by ``parsecnas profile``).

    Example:
        >>> from parsecnas.spaces import get_space
        >>> make_cost("madds", get_space("nb201")).additive
        True
    """
    kind, _, argument = spec.partition(":")
    if kind in ("params", "madds") and not argument:
        net = space.net_setting(setting or "cifar10")
        return parameter_cost(space, net) if kind == "params" else multiply_add_cost(space, net)
    if kind == "nb201" and argument:
        return nb201_latency_cost(argument, data_dir=data_dir)
    if kind == "lut" and argument:
        return LatencyTable.load(argument).cost(space)
    raise ValueError(f"unknown cost {spec!r}; valid forms: {', '.join(COST_SPECS)}")
