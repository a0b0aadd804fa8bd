"""Costs by name, as configs give them: ``params``, ``madds``, ``peak_mem``, ``nb201:<device>``,
``lut:<file.json>``."""

from __future__ import annotations

from ..spaces.base import Space
from .cost import Cost, multiply_add_cost, nb201_latency_cost, parameter_cost
from .latency import LatencyTable
from .memory import SCHEDULES, PeakMemoryCost

COST_SPECS = ("params", "madds", "peak_mem", "peak_mem:eager", "nb201:<device>", "lut:<file.json>")
"""The forms of a cost named in a config (:func:`make_cost`)."""

ADDITIVE_SPECS = ("params", "madds", "lut:<file.json>")
"""The forms that name an additive cost (what expected-cost methods need)."""


NON_ADDITIVE_KINDS = ("peak_mem", "nb201")
"""Cost names whose costs are not additive over decisions (a maximum over the forward pass; a measured table)."""


def check_additive_spec(spec: str, user: str) -> None:
    """Refuses (``ValueError``) a cost name known to be non-additive (``peak_mem``, ``nb201:<device>``) before
    anything is built, naming ``user`` (what needs an additive cost); other names are checked when made."""
    kind = spec.partition(":")[0]
    if kind in NON_ADDITIVE_KINDS:
        why = ("peak activation memory is a maximum over the forward pass of the tensors alive at once, not a sum "
               "over decisions" if kind == "peak_mem" else "the benchmark's measured latencies have no per-decision "
               "terms")
        raise ValueError(f"{user} needs an additive cost, and {spec!r} is not ({why}); additive costs: "
                         f"{', '.join(ADDITIVE_SPECS)}")


def check_cost_spec(spec: str) -> None:
    """Refuses (``ValueError``) a string that is none of the :data:`COST_SPECS` forms, without building it."""
    kind, _, argument = spec.partition(":")
    valid = ((kind in ("params", "madds") and not argument) or (kind == "peak_mem" and argument in ("", *SCHEDULES))
             or (kind in ("nb201", "lut") and bool(argument)))
    if not valid:
        raise ValueError(f"unknown cost {spec!r}; valid forms: {', '.join(COST_SPECS)}")


def make_cost(spec: str, space: Space, setting: str | None = None, data_dir: str | None = None) -> Cost:
    """A cost from its name in a config: ``params``, ``madds`` or ``peak_mem`` (peak activation memory in
    inference, MiB at batch 1 in float32; ``peak_mem:eager`` as eager PyTorch frees tensors: see
    :mod:`~parsecnas.estimators.memory`) of the space's network ``setting`` (``cifar10`` by default),
    ``nb201:<device>`` (the NB201 latency table) or ``lut:<file>`` (a latency lookup table measured by
    ``parsecnas profile``).

    Example:
        >>> from parsecnas.spaces import get_space
        >>> make_cost("madds", get_space("nb201")).additive, make_cost("peak_mem", get_space("nb201")).additive
        (True, False)
    """
    check_cost_spec(spec)
    kind, _, argument = spec.partition(":")
    if kind in ("params", "madds"):
        net = space.net_setting(setting or "cifar10")
        return parameter_cost(space, net) if kind == "params" else multiply_add_cost(space, net)
    if kind == "peak_mem":
        net = space.net_setting(setting or "cifar10")
        return PeakMemoryCost(space, net, schedule="eager") if argument == "eager" else \
            PeakMemoryCost(space, net)
    if kind == "nb201":
        return nb201_latency_cost(argument, data_dir=data_dir)
    return LatencyTable.load(argument).cost(space)
