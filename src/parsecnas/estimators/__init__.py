"""Estimators: what an architecture costs and how good it is."""

from .cost import count_multiply_adds, count_parameters
from .multifidelity import Hyperband, MultiFidelityResult, NB201Fidelity, SuccessiveHalving
from .proxies import PROXIES, build_seeded, compute_proxies
from .tabular import NB201Benchmark, NB201Table, TabularResult
from .training import PartialTraining, PartialTrainingConfig, TrainingResult

__all__ = [
    "Hyperband",
    "MultiFidelityResult",
    "NB201Benchmark",
    "NB201Fidelity",
    "NB201Table",
    "PartialTraining",
    "PartialTrainingConfig",
    "PROXIES",
    "SuccessiveHalving",
    "TabularResult",
    "TrainingResult",
    "build_seeded",
    "compute_proxies",
    "count_multiply_adds",
    "count_parameters",
]
