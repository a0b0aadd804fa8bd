"""Warm-starting a search from an earlier one (``--init-from RUN_DIR``), saying exactly what was transferred.

A strategy that holds a distribution over the space's decisions (PARSEC) copies the logits of every decision
whose name and size match the earlier run's ``distribution.json``; a strategy that holds none refuses, and so
does a transfer in which no decision matches (a run of another space), since either would otherwise be ignored
silently. A partial match is logged as a warning naming the decisions left at their prior.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .spaces.base import Space
from .strategies.base import WeightSharingStrategy

__all__ = ["load_distribution", "transfer", "warm_start"]

_log = logging.getLogger(__name__)
_SHOWN = 5


def load_distribution(run_dir: str | Path) -> dict[str, Any]:
    """The exported distribution of an earlier search run (``distribution.json``)."""
    path = Path(run_dir) / "distribution.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no distribution.json; --init-from needs a finished PARSEC run")
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("names"), list) or "logits" not in data:
        raise ValueError(f"{path} is not an exported distribution (it needs 'names' and 'logits')")
    return data


def warm_start(strategy: WeightSharingStrategy, space: Space, run_dir: str | Path) -> list[str]:
    """Warm-starts ``strategy`` from the search run in ``run_dir``; returns the decisions transferred.

    Raises:
        ValueError: the strategy cannot be warm-started, or no decision of ``space`` matches the earlier run's.
        FileNotFoundError: ``run_dir`` holds no ``distribution.json``.
    """
    return transfer(strategy, space, load_distribution(run_dir), f"--init-from {run_dir}")


def transfer(strategy: WeightSharingStrategy, space: Space, exported: dict[str, Any], source: str) -> list[str]:
    """Warm-starts ``strategy`` from an exported distribution (``source`` names it in messages); returns the
    decisions transferred, refusing a transfer of none (see :func:`warm_start`)."""
    missed = strategy.warm_start(exported)
    names = [d.name for d in space.decisions]
    transferred = [n for n in names if n not in set(missed)]
    if not transferred:
        theirs = ", ".join(map(str, exported["names"][:3]))
        raise ValueError(f"{source}: none of the {len(names)} decisions of the {space.name!r} space "
                         f"(e.g. {', '.join(names[:3])}) matches one of that run's (e.g. {theirs}) in name and "
                         f"size, so nothing would be transferred; warm-start from a search of the same space")
    if missed:
        more = ", ..." if len(missed) > _SHOWN else ""
        _log.warning("%s: transferred %d of %d decisions; %d kept their prior (no decision of that "
                     "name and size in that run): %s%s", source, len(transferred), len(names), len(missed),
                     ", ".join(missed[:_SHOWN]), more)
    else:
        _log.info("%s: transferred all %d decisions", source, len(names))
    return transferred
