"""Search strategies: one file per method, two small interfaces (weight-sharing and black-box)."""

from .bananas import Bananas, BananasConfig
from .base import (
    Batch,
    WeightSharingStrategy,
    create_strategy,
    list_strategies,
    register_strategy,
    strategies_for,
)
from .blackbox import (
    BlackBoxStrategy,
    Trajectory,
    Trial,
    TrialState,
    blackbox_config_type,
    create_blackbox,
    list_blackbox,
    register_blackbox,
    run_blackbox,
)
from .darts import Darts, DartsConfig
from .enas import Controller, Enas, EnasConfig
from .evolution import EvolutionConfig, RegularizedEvolution
from .gumbel import Gdas, GdasConfig, Snas, SnasConfig
from .local_search import LocalSearch, LocalSearchConfig
from .nsga2 import NsgaII, NsgaIIConfig
from .ofa import Ofa, OfaConfig
from .parsec import PRESETS as PARSEC_PRESETS
from .parsec import Parsec, ParsecConfig
from .parsec_maths import effective_sample_size, importance_weights
from .random_search import RandomSearch, RandomSearchConfig
from .reinforce import Reinforce, ReinforceConfig
from .spos import Spos, SposConfig
from .xnas import Xnas, XnasConfig, plot_survivors

__all__ = [
    "Bananas",
    "BananasConfig",
    "Batch",
    "BlackBoxStrategy",
    "Darts",
    "DartsConfig",
    "Controller",
    "Enas",
    "EnasConfig",
    "EvolutionConfig",
    "Gdas",
    "GdasConfig",
    "LocalSearch",
    "LocalSearchConfig",
    "NsgaII",
    "NsgaIIConfig",
    "Ofa",
    "OfaConfig",
    "PARSEC_PRESETS",
    "Parsec",
    "ParsecConfig",
    "RandomSearch",
    "RandomSearchConfig",
    "RegularizedEvolution",
    "Reinforce",
    "ReinforceConfig",
    "Snas",
    "SnasConfig",
    "Spos",
    "SposConfig",
    "Trajectory",
    "Trial",
    "TrialState",
    "WeightSharingStrategy",
    "Xnas",
    "XnasConfig",
    "blackbox_config_type",
    "create_blackbox",
    "create_strategy",
    "effective_sample_size",
    "importance_weights",
    "list_blackbox",
    "list_strategies",
    "plot_survivors",
    "register_blackbox",
    "register_strategy",
    "run_blackbox",
    "strategies_for",
]
