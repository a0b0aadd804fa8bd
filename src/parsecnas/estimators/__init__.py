"""Estimators: what an architecture costs and how good it is."""

from .cost import count_multiply_adds, count_parameters
from .multifidelity import Hyperband, MultiFidelityResult, NB201Fidelity, SuccessiveHalving
from .proxies import PROXIES, build_seeded, compute_proxies
from .tabular import NB201Benchmark, NB201Table, TabularResult

__all__ = [
    "Hyperband",
    "MultiFidelityResult",
    "NB201Benchmark",
    "NB201Fidelity",
    "NB201Table",
    "PROXIES",
    "SuccessiveHalving",
    "TabularResult",
    "build_seeded",
    "compute_proxies",
    "count_multiply_adds",
    "count_parameters",
]
