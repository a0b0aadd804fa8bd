from __future__ import annotations

from pathlib import Path

import pytest
import torch

from parsecnas.run import Timer, device_name, peak_gpu_mb, peak_rss_mb


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_timer_accumulates_across_starts_and_resumes() -> None:
    clock = FakeClock()
    timer = Timer(offset=1800.0, clock=clock)
    with timer:
        clock.now += 900.0
        assert timer.running and timer.elapsed == 2700.0
    clock.now += 1000.0  # not counted while stopped
    timer.start()
    clock.now += 900.0
    assert timer.stop() == 3600.0
    assert timer.hours == 1.0 and not timer.running
    assert "3600.000s" in repr(timer)


def test_timer_rejects_negative_offset() -> None:
    with pytest.raises(ValueError, match="offset must be >= 0"):
        Timer(offset=-1.0)


def test_peak_rss_grows_with_allocation() -> None:
    before = peak_rss_mb()
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    assert float(block.sum()) > 0
    assert before > 1.0
    assert peak_rss_mb() >= max(before, 64.0)


def test_device_name_describes_the_cpu() -> None:
    name = device_name("cpu")
    assert isinstance(name, str) and name
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and "model name" in cpuinfo.read_text():
        assert name in cpuinfo.read_text()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_device_name_and_memory_on_gpu() -> None:
    assert device_name() == torch.cuda.get_device_name(0)
    torch.ones(1024, device="cuda")
    peak = peak_gpu_mb()
    assert peak is not None and peak > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only answer")
def test_peak_gpu_is_none_without_cuda() -> None:
    assert peak_gpu_mb() is None
