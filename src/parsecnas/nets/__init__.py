"""Networks built from an architecture (evaluation) or from a space (supernet)."""

from .cells import CellSpec, EvalCell, SearchCell, cell_plan
from .heads import AuxiliaryHead
from .networks import SETTINGS, EvalNetwork, build_network
from .seeded import seeded
from .supernet import MixingWeights, SuperNet, training_loss

__all__ = [
    "SETTINGS",
    "AuxiliaryHead",
    "CellSpec",
    "EvalCell",
    "EvalNetwork",
    "MixingWeights",
    "SearchCell",
    "SuperNet",
    "build_network",
    "cell_plan",
    "seeded",
    "training_loss",
]
