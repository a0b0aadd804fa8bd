"""Compound scaling (EfficientNet, Tan & Le 2019): scale a network in depth, width and resolution together.

:mod:`~parsecnas.scaling.base` holds the maths and the :class:`ScalableNet` interface, :mod:`~parsecnas.scaling.search`
the coefficient search and the scaled network (``parsecnas scale``), :mod:`~parsecnas.scaling.genotype` the DARTS
evaluation network as a scalable family (``kind: genotype``), :mod:`~parsecnas.scaling.elastic` an elastic (OFA)
sub-network (``kind: elastic``). Importing this package registers every family.
"""

from __future__ import annotations

from .base import (
    Coefficients,
    Dims,
    NetCost,
    Rounding,
    ScalableEntry,
    ScalableNet,
    feasible_grid,
    list_scalable,
    register_scalable,
    round_to_multiple,
    scalable_entry,
)
from .elastic import ElasticNet, SubnetConfig, resolve_subnet
from .genotype import GenotypeNet, stage_cells
from .search import ScaleConfig, phis, scale

__all__ = ["Coefficients", "Dims", "ElasticNet", "GenotypeNet", "NetCost", "Rounding", "ScalableEntry", "ScalableNet",
           "ScaleConfig", "SubnetConfig", "feasible_grid", "list_scalable", "phis", "register_scalable",
           "resolve_subnet", "round_to_multiple", "scalable_entry", "scale", "stage_cells"]
