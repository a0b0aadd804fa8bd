"""Run directories: resolved config, metrics log, atomic checkpoints, progress and resource accounting; where a
process stands among the ranks of a torchrun job (:class:`Distributed`)."""

from __future__ import annotations

from parsecnas.run.atomic import atomic_write, atomic_write_bytes, atomic_write_text
from parsecnas.run.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from parsecnas.run.distributed import Distributed, RankError, from_env
from parsecnas.run.lock import RunLock, RunLockError
from parsecnas.run.metrics import MetricsError, MetricsLog
from parsecnas.run.progress import ProgressBar
from parsecnas.run.resources import Timer, device_name, peak_gpu_mb, peak_rss_mb
from parsecnas.run.rundir import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, Run, RunError

__all__ = [
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "METRICS_FILE",
    "CheckpointError",
    "Distributed",
    "MetricsError",
    "MetricsLog",
    "ProgressBar",
    "RankError",
    "Run",
    "RunError",
    "RunLock",
    "RunLockError",
    "Timer",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "device_name",
    "from_env",
    "load_checkpoint",
    "peak_gpu_mb",
    "peak_rss_mb",
    "save_checkpoint",
]
