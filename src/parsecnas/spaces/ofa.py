"""The elastic Once-for-All / BigNAS space (Cai et al. 2020; Yu et al. 2020): MobileNetV3-style sub-networks of
one weight-sharing network, each an :class:`~parsecnas.spaces.elastic_arch.ElasticArch`.

Decisions, every one over its sizes in ascending order (so choice 0 is the smallest, the last the largest):
``resolution`` (24 / 28 / 32 px), ``width`` (0.75 / 1.0), per stage ``stage{s}/depth`` (2 / 3 / 4) and per block
slot ``stage{s}/block{b}/kernel`` (3 / 5 / 7) and ``stage{s}/block{b}/expand`` (3 / 4 / 6). Each decision names
its *dimension* (:meth:`OfaSpace.dimension`), which progressive shrinking makes elastic one at a time.

Network options (``build`` and ``supernet``): ``channels`` (the stem's width at width 1.0; 16), ``num_cells``
(the stages the network builds, at most the space's 4; the later stages' decisions then have no effect),
``num_classes`` (10), ``in_channels`` (3); ``auxiliary`` only as ``False``.

Example:
    >>> space = OfaSpace()
    >>> space.format(space.smallest())
    'r24-w0.75|d2:k3e3,k3e3,k3e3,k3e3|d2:k3e3,k3e3,k3e3,k3e3|d2:k3e3,k3e3,k3e3,k3e3|d2:k3e3,k3e3,k3e3,k3e3'
    >>> len(space.decisions), space.parse(space.format(space.largest())) == space.largest()
    (38, True)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import torch
from torch import nn

from .base import Decision, NetSetting, Space, register_space
from .elastic_arch import ElasticArch

__all__ = ["DIMENSIONS", "ElasticArch", "OfaSpace"]

DIMENSIONS = ("resolution", "width", "depth", "kernel", "expand")
"""The elastic dimensions, as decisions name them."""


class OfaSpace(Space):
    """The elastic space; architectures are :class:`ElasticArch` values (see the module)."""

    name = "ofa"

    def __init__(self, stages: int = 4, resolutions: Sequence[int] = (24, 28, 32),
                 widths: Sequence[float] = (0.75, 1.0), depths: Sequence[int] = (2, 3, 4),
                 kernels: Sequence[int] = (3, 5, 7), expands: Sequence[int] = (3, 4, 6)) -> None:
        self.stages = stages
        self.sizes: dict[str, tuple[Any, ...]] = {
            "resolution": tuple(sorted(int(r) for r in resolutions)), "width": tuple(sorted(float(w) for w in widths)),
            "depth": tuple(sorted(int(d) for d in depths)), "kernel": tuple(sorted(int(k) for k in kernels)),
            "expand": tuple(sorted(int(e) for e in expands))}
        if stages < 1 or any(len(set(v)) != len(v) or not v for v in self.sizes.values()):
            raise ValueError(f"the elastic space needs >= 1 stages and distinct sizes per dimension; got {stages}, "
                             f"{self.sizes}")
        self.slots = max(self.sizes["depth"])
        self._decisions = self._make_decisions()

    def _make_decisions(self) -> tuple[Decision, ...]:
        labels = {dim: tuple(repr(v) if dim == "width" else str(v) for v in values)
                  for dim, values in self.sizes.items()}
        out = [Decision("resolution", labels["resolution"]), Decision("width", labels["width"])]
        for s in range(self.stages):
            out.append(Decision(f"stage{s}/depth", labels["depth"]))
            for b in range(self.slots):
                out += [Decision(f"stage{s}/block{b}/kernel", labels["kernel"]),
                        Decision(f"stage{s}/block{b}/expand", labels["expand"])]
        return tuple(out)

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self._decisions

    @staticmethod
    def dimension(decision: Decision) -> str:
        """The elastic dimension a decision chooses (one of :data:`DIMENSIONS`)."""
        return decision.name.rsplit("/", 1)[-1]

    def from_choices(self, choices: Sequence[int]) -> ElasticArch:
        if len(choices) != len(self._decisions):
            raise ValueError(f"expected {len(self._decisions)} choices (one per decision), got {len(choices)}")
        values = []
        for c, d in zip(choices, self._decisions):
            if not 0 <= int(c) < d.size:
                raise ValueError(f"choice {int(c)} of decision {d.name!r} out of range; valid: 0 .. {d.size - 1}")
            values.append(self.sizes[self.dimension(d)][int(c)])
        per_stage = 1 + 2 * self.slots
        stages = [values[2 + s * per_stage: 2 + (s + 1) * per_stage] for s in range(self.stages)]
        return ElasticArch(values[0], values[1], tuple(st[0] for st in stages),
                           tuple(tuple(st[1::2]) for st in stages), tuple(tuple(st[2::2]) for st in stages))

    def to_choices(self, arch: Any) -> tuple[int, ...]:
        arch = self._check(arch)
        values: list[Any] = [arch.resolution, arch.width]
        for s in range(self.stages):
            values.append(arch.depths[s])
            for k, e in zip(arch.kernels[s], arch.expands[s]):
                values += [k, e]
        return tuple(self.sizes[self.dimension(d)].index(v) for v, d in zip(values, self._decisions))

    def _check(self, arch: Any) -> ElasticArch:
        if not isinstance(arch, ElasticArch):
            raise TypeError(f"the ofa space's architectures are ElasticArch values, got {type(arch).__name__}")
        sizes = self.sizes
        bad = [f"{name} {v!r}" for name, v, dim in
               [("resolution", arch.resolution, "resolution"), ("width", arch.width, "width"),
                *[(f"stage {s} depth", d, "depth") for s, d in enumerate(arch.depths)],
                *[(f"stage {s} kernel", k, "kernel") for s, ks in enumerate(arch.kernels) for k in ks],
                *[(f"stage {s} ratio", e, "expand") for s, es in enumerate(arch.expands) for e in es]]
               if v not in sizes[dim]]
        if len(arch.depths) != self.stages or any(len(ks) != self.slots for ks in arch.kernels) or bad:
            raise ValueError(f"{arch} is not in the ofa space ({self.stages} stages of {self.slots} block slots; "
                             f"sizes {sizes}){': ' + ', '.join(bad[:3]) if bad else ''}")
        return arch

    def parse(self, text: str) -> ElasticArch:
        return self._check(ElasticArch.parse(text))

    def format(self, arch: Any) -> str:
        return str(self._check(arch))

    def largest(self) -> ElasticArch:
        """Every decision at its largest size."""
        return self.from_choices([d.size - 1 for d in self._decisions])

    def smallest(self, elastic: Collection[str] = DIMENSIONS) -> ElasticArch:
        """The smallest sub-network in the ``elastic`` dimensions, the others at their largest."""
        return self.from_choices([0 if self.dimension(d) in elastic else d.size - 1 for d in self._decisions])

    def sample(self, generator: torch.Generator, elastic: Collection[str] = DIMENSIONS) -> ElasticArch:
        """A uniform draw over the ``elastic`` dimensions' decisions, the others at their largest."""
        return self.from_choices([int(torch.randint(d.size, (1,), generator=generator))
                                  if self.dimension(d) in elastic else d.size - 1 for d in self._decisions])

    def spec(self, **net_options: Any) -> Any:
        """The :class:`~parsecnas.nets.elastic.ElasticSpec` of the network ``net_options`` describe."""
        from ..nets.elastic import ElasticSpec

        options = dict(net_options)
        if options.pop("auxiliary", False):
            raise ValueError("elastic networks have no auxiliary head; pass auxiliary=False (net.auxiliary)")
        options.pop("auxiliary_weight", None)
        stages = options.pop("num_cells", None) or self.stages
        if not 1 <= int(stages) <= self.stages:
            raise ValueError(f"num_cells (stages built) must be in 1 .. {self.stages} for the ofa space, got {stages}")
        unknown = sorted(set(options) - {"channels", "num_classes", "in_channels"})
        if unknown:
            raise ValueError(f"unknown ofa network options {unknown}; valid: channels, num_cells, num_classes, "
                             "in_channels")
        return ElasticSpec(stages=int(stages), max_depth=self.slots, kernels=self.sizes["kernel"],
                           expands=self.sizes["expand"], widths=self.sizes["width"], **options)

    def build(self, arch: Any, **net_options: Any) -> nn.Module:
        from ..nets.elastic import MobileSubnet

        return MobileSubnet(self._check(arch), self.spec(**net_options))

    def supernet(self, **net_options: Any) -> nn.Module:
        from ..nets.elastic import ElasticMobileNet

        return ElasticMobileNet(self.spec(**net_options))

    def net_setting(self, name: str, **options: Any) -> NetSetting:
        """``cifar10`` (32 px, 3 channels, 10 classes) or ``fashion-mnist`` (28 px, 1 channel, 10 classes);
        a sub-network runs at its own resolution whatever the input size."""
        known = {"cifar10": (32, 3), "fashion-mnist": (28, 1)}
        if name not in known:
            raise ValueError(f"unknown ofa network setting {name!r}; valid: {', '.join(known)}")
        size, channels = known[name]
        options = {"num_classes": 10, "in_channels": channels, **options}
        return NetSetting(name, options, size, int(options["in_channels"]))


register_space("ofa", OfaSpace)
