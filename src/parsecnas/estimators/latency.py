"""Latency lookup tables: each op of a space timed at every shape it runs at in one network setting, on this
device; a network's predicted latency is the sum of its ops plus a measured fixed part.

The fixed part (stem, preprocessing, reductions, head, the additions and concatenations between ops) is the
median, over a few seeded random architectures, of the measured whole-network latency minus its op sum. Timings
are medians of ``repeats`` runs after ``warmup`` runs, in inference mode, batch ``batch``; on CUDA each run is
synchronised. A table is one JSON file and names the device it was measured on, so a table of one machine is not
taken for another's (:meth:`LatencyTable.load` with ``device=``).

Example:
    >>> from parsecnas.spaces import get_space
    >>> space = get_space("nb201")
    >>> lut = profile_latency(space, space.net_setting("cifar10", num_cells=1, channels=4), repeats=3,
    ...                       fixed_archs=1)  # doctest: +SKIP
    >>> lut.cost(space)(space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")) > 0  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..run import resources
from ..run.atomic import atomic_write_text
from ..spaces.base import NetSetting, Space, sample_uniform
from .cost import AdditiveCost, AdditiveTable

FORMAT = "parsecnas-latency-table/1"


def device_name(device: torch.device | str = "cpu") -> str:
    """What a latency was measured on: ``cuda/<GPU name>``, or ``cpu/<CPU model>/<threads>t`` (torch's
    intra-op threads change CPU latency as much as the model does)."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda/{resources.device_name(device)}"
    return f"{device.type}/{resources.device_name(device)}/{torch.get_num_threads()}t"


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""``wall``: elapsed time (what a user waits; the only choice on a GPU). ``cpu``: this process's CPU time, which
on a machine shared with other jobs approximates an idle machine's latency of a *single-threaded* run (with
several threads it sums their times)."""


def measure_latency(module: nn.Module, x: torch.Tensor, warmup: int = 5, repeats: int = 20,
                    clock: str = "wall") -> float:
    """Median time (ms) of ``module(x)`` in eval and inference mode, after ``warmup`` untimed runs, on ``clock``
    (:data:`CLOCKS`)."""
    if warmup < 0 or repeats < 1:
        raise ValueError(f"need warmup >= 0 and repeats >= 1; got {warmup}, {repeats}")
    if clock not in CLOCKS or (clock == "cpu" and x.device.type == "cuda"):
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)} ('wall' on a GPU), got {clock!r}")
    now = CLOCKS[clock]
    module = module.to(x.device).eval()
    cuda = x.device.type == "cuda"
    times = []
    with torch.inference_mode():
        for k in range(warmup + repeats):
            if cuda:
                torch.cuda.synchronize(x.device)
            start = now()
            module(x)
            if cuda:
                torch.cuda.synchronize(x.device)
            if k >= warmup:
                times.append(now() - start)
    return 1e3 * statistics.median(times)


@dataclass(frozen=True)
class LatencyTable:
    """A measured latency lookup table of one space's network setting on one device.

    Attributes:
        space: the space's name.
        setting: the :class:`~parsecnas.spaces.base.NetSetting` profiled, as a dict.
        device: :func:`device_name` of the machine measured.
        batch: images per forward pass.
        ops: median latency (ms) of each op site, by :attr:`~parsecnas.spaces.base.OpSite.key`.
        fixed: the fixed part (ms): whole network minus its op sum, median over ``fixed_samples``.
        fixed_samples: the measured whole-network minus op-sum residuals the fixed part is the median of.
        warmup, repeats, clock: the timing protocol (:func:`measure_latency`).
    """

    space: str
    setting: dict[str, Any]
    device: str
    batch: int
    ops: dict[str, float]
    fixed: float
    fixed_samples: tuple[float, ...] = ()
    warmup: int = 5
    repeats: int = 20
    clock: str = "wall"
    format: str = field(default=FORMAT)

    def net_setting(self) -> NetSetting:
        s = self.setting
        return NetSetting(s["name"], dict(s["options"]), int(s["image_size"]), int(s.get("in_channels", 3)))

    def table(self, space: Space) -> AdditiveTable:
        """The additive table over ``space``'s decisions; refuses another space or a site never measured."""
        if space.name != self.space:
            raise ValueError(f"this latency table was measured for space {self.space!r}, not {space.name!r}")
        sites = space.op_sites(self.net_setting())
        missing = sorted({s.key for row in sites for choice in row for s in choice} - set(self.ops))
        if missing:
            raise ValueError(f"the latency table lacks {len(missing)} op sites of this setting (e.g. {missing[0]}); "
                             "profile the setting again")
        values = tuple(tuple(sum(self.ops[s.key] for s in choice) for choice in row) for row in sites)
        return AdditiveTable(values, self.fixed)

    def cost(self, space: Space) -> AdditiveCost:
        """Predicted latency (ms) as an additive cost of ``space``'s architectures."""
        return AdditiveCost(space, self.table(space), f"latency[{self.device}]", "ms")

    def save(self, path: str | Path) -> Path:
        data = {**self.__dict__, "fixed_samples": list(self.fixed_samples)}
        return atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> LatencyTable:
        """Reads a table; with ``device`` (e.g. ``device_name()``), refuses one measured on another device."""
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path} is not a latency table (expected format {FORMAT!r})")
        table = cls(**{**data, "fixed_samples": tuple(data.get("fixed_samples", ()))})
        if device is not None and table.device != device:
            raise ValueError(f"latency table {path} was measured on {table.device!r}, not on {device!r}: a latency "
                             "table holds for the device it was measured on; run `parsecnas profile` on this one")
        return table


def profile_latency(space: Space, setting: NetSetting, device: torch.device | str = "cpu", batch: int = 1,
                    warmup: int = 5, repeats: int = 20, fixed_archs: int = 5, seed: int = 0,
                    clock: str = "wall") -> LatencyTable:
    """Times every distinct op site of ``setting`` on ``device``, then ``fixed_archs`` whole networks (seeded
    uniform architectures) for the fixed part."""
    if batch < 1 or fixed_archs < 1:
        raise ValueError(f"need batch >= 1 and fixed_archs >= 1; got {batch}, {fixed_archs}")
    device = torch.device(device)
    sites = {s for row in space.op_sites(setting) for choice in row for s in choice}
    ops = {}
    for site in sorted(sites, key=lambda s: s.key):
        x = torch.randn(batch, site.channels, site.height, site.width, device=device).relu()
        ops[site.key] = measure_latency(space.build_op(site), x, warmup, repeats, clock)
    table = LatencyTable(space.name, setting.to_dict(), device_name(device), batch, ops, 0.0, (), warmup, repeats,
                         clock)
    op_table = table.table(space)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(*setting.input_shape(batch), device=device)
    residuals = []
    for _ in range(fixed_archs):
        arch = sample_uniform(space, generator)
        whole = measure_latency(space.build(arch, **setting.options), x, warmup, repeats, clock)
        residuals.append(whole - op_table.total(space.to_choices(arch)))
    return LatencyTable(space.name, setting.to_dict(), device_name(device), batch, ops,
                        statistics.median(residuals), tuple(residuals), warmup, repeats, clock)
