"""Search spaces: decisions, architectures as frozen values, and the networks built from them."""

from .base import (
    Decision,
    MixingLayout,
    MixingWeights,
    RelaxedSpace,
    Space,
    as_relaxed,
    get_space,
    list_spaces,
    mutate,
    register_space,
    sample_uniform,
)
from .darts import (
    DartsSpace,
    derive_genotype,
    genotype_from_choices,
    mixing_from_genotype,
    parsec_decisions,
)
from .genotype import CELL_TYPES, Genotype, edge_index, edges, published_genotypes, resolve_genotype
from .nb201 import NB201_OPS, NB201Arch, NB201Space, nb201_decisions, nb201_path_encoding
from .ofa import ElasticArch, OfaSpace

__all__ = [
    "CELL_TYPES",
    "DartsSpace",
    "Decision",
    "ElasticArch",
    "Genotype",
    "MixingLayout",
    "MixingWeights",
    "NB201Arch",
    "NB201Space",
    "NB201_OPS",
    "OfaSpace",
    "RelaxedSpace",
    "Space",
    "as_relaxed",
    "derive_genotype",
    "edge_index",
    "edges",
    "genotype_from_choices",
    "get_space",
    "list_spaces",
    "mixing_from_genotype",
    "mutate",
    "nb201_decisions",
    "nb201_path_encoding",
    "parsec_decisions",
    "published_genotypes",
    "register_space",
    "resolve_genotype",
    "sample_uniform",
]
