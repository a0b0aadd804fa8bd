"""Search strategies: one file per method, two small interfaces (weight-sharing and black-box)."""

from .base import Batch, WeightSharingStrategy, create_strategy, list_strategies, register_strategy
from .parsec import Parsec, ParsecConfig, effective_sample_size, importance_weights

__all__ = [
    "Batch",
    "Parsec",
    "ParsecConfig",
    "WeightSharingStrategy",
    "create_strategy",
    "effective_sample_size",
    "importance_weights",
    "list_strategies",
    "register_strategy",
]
