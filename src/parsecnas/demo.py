"""The demo's budget: the PARSEC search and the short from-scratch training that ``parsecnas demo`` runs.

One definition serves the command and the quality benchmark (``benchmarks/bench_search_quality.py``, whose
defaults are these), so the figure the README gives for the demo's mode is measured at the demo's budget.

Example:
    >>> demo_search_config().settings.samples
    4
    >>> demo_train_config("fashion-mnist-small").steps_per_epoch
    60
"""

from __future__ import annotations

from .search_config import DataConfig, NetConfig, SearchConfig
from .strategies.parsec_config import ParsecConfig
from .train_config import TrainConfig

__all__ = ["demo_search_config", "demo_train_config"]


def demo_search_config() -> SearchConfig:
    """PARSEC (robust preset) on the built-in data: 4 epochs x 25 steps, K = 4, 5 cells, C = 8, batch 48."""
    return SearchConfig(epochs=4, steps_per_epoch=25, net=NetConfig(num_cells=5, channels=8),
                        data=DataConfig(batch_size=48), settings=ParsecConfig(samples=4, min_weight=1e-3))


def demo_train_config(dataset: str) -> TrainConfig:
    """The from-scratch training of the demo's mode: 5 cells, C = 12, 2 epochs x 60 steps of batch 64."""
    return TrainConfig(dataset=dataset, num_cells=5, channels=12, epochs=2, batch_size=64, cutout=0,
                       steps_per_epoch=60)
