"""Estimators: what an architecture costs and how good it is."""

from .cost import (
    AdditiveCost,
    AdditiveTable,
    Cost,
    FunctionCost,
    count_multiply_adds,
    count_parameters,
    multiply_add_cost,
    nb201_latency_cost,
    parameter_cost,
)
from .cost_specs import make_cost
from .latency import LatencyTable, device_name, measure_latency, profile_latency
from .memory import ActivationTrace, PeakMemoryCost, trace_activations
from .multifidelity import Hyperband, MultiFidelityResult, NB201Fidelity, SuccessiveHalving
from .proxies import PROXIES, build_seeded, compute_proxies
from .rewards import CostedResult, MnasReward
from .tabular import NB201Benchmark, NB201Table, TabularResult
from .training import PartialTraining, PartialTrainingConfig, TrainingResult

__all__ = [
    "ActivationTrace",
    "AdditiveCost",
    "AdditiveTable",
    "Cost",
    "CostedResult",
    "FunctionCost",
    "LatencyTable",
    "MnasReward",
    "Hyperband",
    "MultiFidelityResult",
    "NB201Benchmark",
    "NB201Fidelity",
    "NB201Table",
    "PartialTraining",
    "PartialTrainingConfig",
    "PeakMemoryCost",
    "PROXIES",
    "SuccessiveHalving",
    "TabularResult",
    "TrainingResult",
    "build_seeded",
    "compute_proxies",
    "count_multiply_adds",
    "count_parameters",
    "device_name",
    "make_cost",
    "measure_latency",
    "multiply_add_cost",
    "nb201_latency_cost",
    "parameter_cost",
    "profile_latency",
    "trace_activations",
]
