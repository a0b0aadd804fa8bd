"""Peak activation memory of inference: the most bytes of activations alive at once in one forward pass.

What is counted (and so what :class:`PeakMemoryCost` assumes):

* **activations only**: every tensor an op of the forward pass creates, and the input batch; parameters,
  buffers and views of them are not counted (they are the model's size, not its working memory), nor are a
  kernel's private workspaces (im2col columns, cuDNN / oneDNN scratch), which depend on the library;
* **inference**: ``eval()`` and ``no_grad``, so nothing is kept for a backward pass;
* **one storage per tensor family**: views and in-place results share their base's bytes and are counted once;
* **which tensors are alive together**, two schedules over the same op sequence:

  - ``ideal`` (the default): a tensor lives from the op that writes it to the last op that reads it (the
    network's output to the end, the input from the start). This is what a memory-planning runtime (TFLite's
    arena, ExecuTorch, TorchScript freeing dead values) needs for the network's op order, so it is a property
    of the architecture; while an op runs, its inputs and its output are all alive;
  - ``eager``: a tensor lives until PyTorch frees it in eager mode, which is later where the Python code holds
    a reference (a DARTS cell's list of states, the loop's previous-previous output); measured on the run;

* **batch and dtype**: activations scale with both, so the trace runs once at batch 1 in float32 and the peak
  is multiplied by ``batch`` and the dtype's size / 4 (exact: every activation has the batch dimension).

The op sequence and shapes come from one forward pass of the architecture's network on zeros, seen through a
:class:`~torch.utils._python_dispatch.TorchDispatchMode`: bytes are computed from the shapes of the tensors
each op returns, not measured from the process's memory. The peak is a maximum over the forward pass of sums
over the tensors then alive, which depend on several decisions' choices at once (a DARTS cell's four nodes are
all alive for its concatenation), so the cost is **not additive** over decisions and has no
:class:`~parsecnas.estimators.cost.AdditiveTable`: expected-cost methods (PARSEC's cost budget, FBNet's loss)
refuse it; black-box strategies, rewards and NSGA-II take it like any cost.

Example:
    >>> from parsecnas.spaces import get_space
    >>> space = get_space("nb201")
    >>> cost = PeakMemoryCost(space, space.net_setting("cifar10"))
    >>> round(cost(space.parse("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|"
    ...                       "skip_connect~1|skip_connect~2|")), 3)
    0.25
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from ..spaces.base import NetSetting, Space
from .cost import Cost

SCHEDULES = ("ideal", "eager")
"""Which tensors are alive together (see the module)."""


@dataclass
class TensorLife:
    """One activation storage in a traced forward pass (op indices; -1: before the first op).

    Attributes:
        nbytes: its size.
        born: the op that created it (-1 for the input).
        last_use: the last op that read it (``born`` if none did).
        freed: the op before which eager PyTorch had freed it (``None``: still alive after the pass).
    """

    nbytes: int
    born: int
    last_use: int
    freed: int | None = None


@dataclass(frozen=True)
class ActivationTrace:
    """The activations of one forward pass: every storage's size and life, and the number of ops run.

    Attributes:
        tensors: one :class:`TensorLife` per activation storage, in creation order (the input first).
        ops: how many ops (ATen calls) the pass ran.
        output: index in ``tensors`` of the network's output storages.
    """

    tensors: tuple[TensorLife, ...]
    ops: int
    output: tuple[int, ...]

    def live_bytes(self, schedule: Literal["ideal", "eager"] = "ideal") -> list[int]:
        """Bytes alive while each op runs (its inputs and outputs included), one entry per op."""
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
        delta = [0] * (self.ops + 2)
        outputs = set(self.output)
        for i, life in enumerate(self.tensors):
            if schedule == "ideal":
                end = self.ops if i in outputs else max(life.last_use, life.born) + 1
            else:
                end = self.ops if life.freed is None else life.freed
            start = max(life.born, 0)
            if end > start:
                delta[start] += life.nbytes
                delta[end] -= life.nbytes
        live, total = [], 0
        for step in range(self.ops):
            total += delta[step]
            live.append(total)
        return live

    def peak_bytes(self, schedule: Literal["ideal", "eager"] = "ideal") -> int:
        """The most activation bytes alive at once."""
        return max(self.live_bytes(schedule), default=sum(t.nbytes for t in self.tensors))


class _Tracer(TorchDispatchMode):
    """Records each op's activation storages: creation, reads and (through weak references) eager frees."""

    def __init__(self, excluded: set[int]) -> None:
        super().__init__()
        self.excluded, self.step = excluded, 0
        self.lives: list[TensorLife] = []
        self.by_storage: dict[int, int] = {}  # storage id -> index in lives, while alive
        self.holders: dict[int, int] = {}  # index in lives -> Python tensors viewing it still alive
        self.seen: set[int] = set()  # ids of the tensor objects already holding a count
        self.finalizers: list[weakref.finalize] = []

    def adopt(self, tensor: torch.Tensor, born: int) -> int | None:
        key = tensor.untyped_storage()._cdata
        if key in self.excluded:
            return None
        index = self.by_storage.get(key)
        if index is None:
            index = len(self.lives)
            self.lives.append(TensorLife(tensor.untyped_storage().nbytes(), born, born))
            self.by_storage[key], self.holders[index] = index, 0
        if id(tensor) not in self.seen:
            self.seen.add(id(tensor))
            self.holders[index] += 1
            self.finalizers.append(weakref.finalize(tensor, self._release, id(tensor), index, key))
        return index

    def _release(self, tensor_id: int, index: int, key: int) -> None:
        self.seen.discard(tensor_id)
        self.holders[index] -= 1
        if self.holders[index] == 0 and self.lives[index].freed is None:
            self.lives[index].freed = self.step
            if self.by_storage.get(key) == index:
                del self.by_storage[key]

    def __torch_dispatch__(self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        for x in pytree.tree_leaves((args, kwargs)):
            if isinstance(x, torch.Tensor):
                index = self.by_storage.get(x.untyped_storage()._cdata)
                if index is not None:
                    self.lives[index].last_use = self.step
        out = func(*args, **kwargs)
        for x in pytree.tree_leaves(out):
            if isinstance(x, torch.Tensor):
                self.adopt(x, self.step)
        self.step += 1
        return out


def trace_activations(model: nn.Module, inputs: torch.Tensor, *args: Any) -> ActivationTrace:
    """Runs ``model(inputs, *args)`` once in eval mode without gradients and records its activations.

    Example:
        >>> net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
        >>> trace_activations(net, torch.zeros(1, 8)).peak_bytes()  # ReLU: its 16 inputs and 16 outputs
        128
    """
    excluded = {t.untyped_storage()._cdata for t in [*model.parameters(), *model.buffers()]}
    was_training = model.training
    model.eval()
    tracer = _Tracer(excluded)
    try:
        with torch.no_grad(), tracer:
            tracer.adopt(inputs, -1)
            out = model(inputs, *args)
            output = tuple(i for i in (tracer.adopt(x, tracer.step) for x in pytree.tree_leaves(out)
                                       if isinstance(x, torch.Tensor)) if i is not None)
    finally:
        model.train(was_training)
        for finalizer in tracer.finalizers:  # what is still alive now lived to the end of the pass
            finalizer.detach()
    return ActivationTrace(tuple(tracer.lives), tracer.step, output)


def allocator_peak_bytes(model: nn.Module, inputs: torch.Tensor, *args: Any) -> int:
    """The CPU allocator's measured peak of bytes allocated during ``model(inputs, *args)`` (eval, no grad),
    from the profiler (``profile_memory=True``): each op's own allocations and the frees between ops, in time
    order. The input, allocated before, is not included; memory an op allocates and frees within itself (a
    kernel's workspace) cancels out. The check on :meth:`ActivationTrace.peak_bytes` ``("eager")``."""
    from torch.profiler import ProfilerActivity, profile

    was_training = model.training
    try:
        with torch.no_grad(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            model.eval()(inputs, *args)
    finally:
        model.train(was_training)
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    live = peak = 0
    for event in events:
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


class PeakMemoryCost(Cost):
    """Peak activation memory (MiB) of ``space``'s network of ``setting`` in inference (see the module for
    what it counts); not additive. Each architecture is traced once (a forward pass at batch 1) and cached.

    Args:
        space: a space with :meth:`~parsecnas.spaces.base.Space.net_setting`.
        setting: the network setting (``space.net_setting("cifar10")``).
        batch: images per forward pass.
        dtype: the activations' type (``torch.float16`` halves the figure).
        schedule: ``ideal`` (freed after the last read) or ``eager`` (freed when eager PyTorch frees them).
    """

    unit = "MiB"

    def __init__(self, space: Space, setting: NetSetting, batch: int = 1, dtype: torch.dtype = torch.float32,
                 schedule: Literal["ideal", "eager"] = "ideal") -> None:
        if batch < 1 or schedule not in SCHEDULES or not dtype.is_floating_point:
            raise ValueError(f"need batch >= 1, schedule in {SCHEDULES} and a floating dtype; got {batch}, "
                             f"{schedule!r}, {dtype}")
        self.space, self.setting, self.batch, self.dtype, self.schedule = space, setting, batch, dtype, schedule
        self.name = "peak_mem" if schedule == "ideal" else f"peak_mem[{schedule}]"
        self._cache: dict[Hashable, float] = {}

    def trace(self, arch: Any) -> ActivationTrace:
        """The activation trace of ``arch``'s network at batch 1, float32."""
        net = self.space.build(arch, **self.setting.options)
        return trace_activations(net, torch.zeros(self.setting.input_shape(1)))

    def __call__(self, arch: Any) -> float:
        key = self.space.format(arch)
        if key not in self._cache:
            scale = self.batch * torch.finfo(self.dtype).bits / 32
            self._cache[key] = self.trace(arch).peak_bytes(self.schedule) * scale / 2 ** 20
        return self._cache[key]

    def table(self) -> Any:
        raise TypeError(f"cost {self.name!r} (peak activation memory) is not additive over decisions: it is a "
                        "maximum over the forward pass of the tensors alive at once, which several decisions "
                        "set together; expected-cost methods need an additive cost (params, madds, lut:<file>)")
