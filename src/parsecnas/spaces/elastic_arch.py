"""The architecture value of the elastic (Once-for-All) space: one MobileNetV3-style sub-network.

An :class:`ElasticArch` is the input resolution, a width multiplier, each stage's depth and each block slot's
depthwise kernel and expansion ratio. Every stage keeps a kernel and a ratio for each of its block *slots*, the
slots past its depth included (they run nothing), so that every combination of the space's decisions is one
value and a mutation of an unused slot is still a different value, as the conformance suite wants.

The value itself accepts any positive sizes (odd kernels), not only the space's choices: a sub-network scaled
past the space (compound scaling: deeper, wider, larger input) is an :class:`ElasticArch` too, built as a
standalone network by :class:`~parsecnas.nets.elastic.MobileSubnet`; :meth:`scaled` makes one.

Example:
    >>> arch = ElasticArch.parse("r28-w1.0|d2:k3e6,k5e4,k7e3|d3:k3e3,k3e3,k3e3")
    >>> arch.resolution, arch.width, arch.depths, arch.total_depth
    (28, 1.0, (2, 3), 5)
    >>> str(arch.scaled(resolution=32, depths=(3, 4)))
    'r32-w1.0|d3:k3e6,k5e4,k7e3|d4:k3e3,k3e3,k3e3,k3e3'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ElasticArch"]

_STAGE = re.compile(r"d(\d+):((?:k\d+e\d+,)*k\d+e\d+)")
_BLOCK = re.compile(r"k(\d+)e(\d+)")


@dataclass(frozen=True)
class ElasticArch:
    """One sub-network of the elastic space.

    Attributes:
        resolution: input side in pixels (inputs of another size are resized to it, bilinearly).
        width: multiplier of every layer's channels (the stem, each stage's output, the head).
        depths: blocks run per stage (its first ``depths[s]`` slots).
        kernels: per stage, the depthwise kernel of each block slot.
        expands: per stage, the expansion ratio of each block slot.
    """

    resolution: int
    width: float
    depths: tuple[int, ...]
    kernels: tuple[tuple[int, ...], ...]
    expands: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", float(self.width))
        stages = len(self.depths)
        if stages < 1 or len(self.kernels) != stages or len(self.expands) != stages:
            raise ValueError(f"an elastic architecture needs depths, kernels and expands for the same >= 1 stages; "
                             f"got {len(self.depths)}, {len(self.kernels)}, {len(self.expands)}")
        if self.resolution < 1 or not self.width > 0:
            raise ValueError(f"need resolution >= 1 and width > 0; got {self.resolution}, {self.width}")
        for s, (d, ks, es) in enumerate(zip(self.depths, self.kernels, self.expands)):
            if len(ks) != len(es) or not 1 <= d <= len(ks):
                raise ValueError(f"stage {s}: depth {d} needs 1 <= depth <= slots, and as many kernels as ratios; "
                                 f"got {len(ks)} kernels and {len(es)} ratios")
            if any(k < 1 or k % 2 == 0 for k in ks) or any(e < 1 for e in es):
                raise ValueError(f"stage {s}: kernels must be odd and >= 1, ratios >= 1; got {ks}, {es}")

    @property
    def total_depth(self) -> int:
        """Blocks the sub-network runs, over all stages."""
        return sum(self.depths)

    def active_blocks(self) -> list[tuple[int, int, int, int]]:
        """``(stage, slot, kernel, expand)`` of each block that runs, in order."""
        return [(s, b, self.kernels[s][b], self.expands[s][b])
                for s, d in enumerate(self.depths) for b in range(d)]

    def scaled(self, resolution: int | None = None, width: float | None = None,
               depths: Sequence[int] | None = None) -> ElasticArch:
        """A copy with another resolution, width or depths (compound scaling's three knobs). A stage made
        deeper than its slots gets more slots, copies of its last active block."""
        depths = tuple(self.depths if depths is None else (int(d) for d in depths))
        if len(depths) != len(self.depths):
            raise ValueError(f"expected {len(self.depths)} depths (one per stage), got {len(depths)}")
        kernels, expands = [], []
        for s, d in enumerate(depths):
            last = max(0, min(d, self.depths[s]) - 1)
            pad = max(0, d - len(self.kernels[s]))
            kernels.append(self.kernels[s] + (self.kernels[s][last],) * pad)
            expands.append(self.expands[s] + (self.expands[s][last],) * pad)
        return ElasticArch(self.resolution if resolution is None else int(resolution),
                           self.width if width is None else float(width), depths, tuple(kernels), tuple(expands))

    def __str__(self) -> str:
        stages = "|".join(f"d{d}:" + ",".join(f"k{k}e{e}" for k, e in zip(ks, es))
                          for d, ks, es in zip(self.depths, self.kernels, self.expands))
        return f"r{self.resolution}-w{self.width!r}|{stages}"

    @classmethod
    def parse(cls, text: str) -> ElasticArch:
        """The architecture whose string form is ``text`` (``r32-w1.0|d4:k3e6,...|d2:...``)."""
        head, _, rest = text.strip().partition("|")
        match = re.fullmatch(r"r(\d+)-w(\d+(?:\.\d+)?)", head)
        stages = [_STAGE.fullmatch(part) for part in rest.split("|")] if rest else []
        if match is None or not stages or any(m is None for m in stages):
            raise ValueError(f"cannot parse elastic architecture {text!r}; expected the form "
                             "'r32-w1.0|d4:k3e6,k5e4,k7e3,k3e3|d2:...' (resolution, width, then per stage its "
                             "depth and each block slot's kernel and expansion ratio)")
        depths, kernels, expands = [], [], []
        for m in stages:
            assert m is not None
            blocks = [(int(k), int(e)) for k, e in _BLOCK.findall(m.group(2))]
            depths.append(int(m.group(1)))
            kernels.append(tuple(k for k, _ in blocks))
            expands.append(tuple(e for _, e in blocks))
        return cls(int(match.group(1)), float(match.group(2)), tuple(depths), tuple(kernels), tuple(expands))
