"""What a run costs: wall time, peak memory, and the device it ran on (to report search cost in device-hours).

Example:
    >>> with Timer() as timer:
    ...     total = sum(range(1000))
    >>> timer.elapsed >= 0.0
    True
    >>> isinstance(device_name("cpu"), str)
    True
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import torch

__all__ = ["Timer", "device_name", "peak_gpu_mb", "peak_rss_mb", "resolve_device"]

_DEVICES = "auto, cpu, cuda, cuda:N or mps"


def resolve_device(name: str) -> torch.device:
    """The device ``name`` (``auto``: a GPU when present, else the CPU), checked to exist on this machine.

    Raises:
        ValueError: an unknown device name, or a device this machine does not have (CUDA without a GPU or
            without a CUDA build of PyTorch, a GPU index beyond the GPUs present, MPS off Apple silicon).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; valid: {_DEVICES}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA support"
            raise ValueError(f"device {name!r} asked for, but CUDA is not available on this machine (PyTorch "
                             f"{torch.__version__} with {build}, {torch.cuda.device_count()} GPU(s) visible); use "
                             f"--device cpu, or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} asked for, but this machine has {torch.cuda.device_count()} "
                             f"GPU(s): valid indices 0 .. {torch.cuda.device_count() - 1}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} asked for, but MPS (Apple silicon) is not available here; use --device "
                         f"cpu, or auto")
    return device


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (NaN where ``resource`` is unavailable)."""
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def peak_gpu_mb(device: str | torch.device | None = None) -> float | None:
    """Peak CUDA memory allocated by tensors on ``device`` (the current GPU by default), in MiB.

    Returns None when CUDA is unavailable.
    """
    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


def device_name(device: str | torch.device | None = None) -> str:
    """A human-readable name of the device: the GPU's name for CUDA, else the CPU model.

    Args:
        device: The device the run used; by default the first GPU if there is one, else the CPU.
    """
    device = torch.device(device) if device is not None else None
    if device is None and torch.cuda.is_available():
        device = torch.device("cuda", torch.cuda.current_device())
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device is not None and device.type == "mps":
        return f"Apple MPS ({_cpu_model()})"
    return _cpu_model()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


class Timer:
    """Wall-clock time, accumulated across start/stop and across resumes.

    Args:
        offset: Seconds already spent, e.g. stored in a checkpoint before an interruption, so that the total
            cost of a resumed search is still right.
        clock: A monotonic clock in seconds; ``time.perf_counter`` unless a test needs a fake one.

    Example:
        >>> timer = Timer(offset=3600.0)
        >>> timer.hours
        1.0
    """

    def __init__(self, offset: float = 0.0, clock: Callable[[], float] = time.perf_counter) -> None:
        if offset < 0:
            raise ValueError(f"offset must be >= 0 seconds, got {offset}")
        self._accumulated = float(offset)
        self._clock = clock
        self._started_at: float | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Timer(elapsed={self.elapsed:.3f}s, {state})"

    @property
    def running(self) -> bool:
        return self._started_at is not None

    @property
    def elapsed(self) -> float:
        """Seconds counted so far, including the time since :meth:`start` while running."""
        if self._started_at is None:
            return self._accumulated
        return self._accumulated + self._clock() - self._started_at

    @property
    def hours(self) -> float:
        """:attr:`elapsed` in hours; times the number of devices, the search cost in device-hours."""
        return self.elapsed / 3600.0

    def start(self) -> Timer:
        """Start (or continue) counting; a no-op while running. Returns self."""
        if self._started_at is None:
            self._started_at = self._clock()
        return self

    def stop(self) -> float:
        """Stop counting; returns :attr:`elapsed`."""
        if self._started_at is not None:
            self._accumulated += self._clock() - self._started_at
            self._started_at = None
        return self._accumulated

    def __enter__(self) -> Timer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
