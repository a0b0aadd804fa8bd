"""A library of learnt distributions, and warm starts from the datasets most like a new one.

A library is a directory with one folder per finished search: ``entry.json`` (the search's dataset, space,
strategy, network size and result, and the dataset's meta-features, :mod:`parsecnas.data.meta_features`) and
``distribution.json`` (the learnt distribution, as the run exported it). :func:`add_search` adds a run;
:func:`load_library` reads every entry.

``init_from: auto`` (``parsecnas search --init-from auto --library DIR``) computes the new dataset's
meta-features, ranks the library's entries of the same space by :func:`~parsecnas.data.meta_features.meta_distance`
and warm-starts from the ``library_neighbours`` nearest: one entry's logits, or with several a similarity-weighted
mixture of their log-probabilities, ``sum_i w_i log_softmax(logits_i)`` per decision with
``w_i ~ exp(-(d_i - d_min))``. The :class:`LibraryChoice` says which entries, at what distance, with which weights,
and which meta-features made the distance (``warm_start.json`` in the run directory keeps it).

Example:
    >>> entry = add_search("runs/search-fmnist", "library/")  # doctest: +SKIP
    >>> choice = choose(load_library("library/"), meta_features(load_dataset("mnist")), "darts")  # doctest: +SKIP
    >>> print(choice.describe())  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .config import ConfigError
from .data import ImageDataset, load_dataset
from .data.meta_features import meta_distance, meta_features
from .run import Run
from .spaces.base import Space
from .strategies.base import WeightSharingStrategy
from .warm_start import load_distribution, transfer

__all__ = ["LIBRARY_ENV", "LibraryChoice", "LibraryEntry", "add_search", "choose", "library_dir", "load_library",
           "mixture", "warm_start_from_library"]

LIBRARY_ENV = "PARSECNAS_LIBRARY"
ENTRY_FILE = "entry.json"
_SHOWN_TERMS = 3


@dataclass(frozen=True)
class LibraryEntry:
    """One finished search in a library."""

    name: str
    path: Path
    dataset: str
    space: str
    record: dict[str, Any]
    """``entry.json``: strategy, net, epochs, seed, result, source run and ``meta_features``."""

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.record["meta_features"])

    def distribution(self) -> dict[str, Any]:
        return load_distribution(self.path)


def library_dir(library: str | Path | None) -> Path:
    """The library folder: ``library``, else ``$PARSECNAS_LIBRARY``."""
    chosen = library or os.environ.get(LIBRARY_ENV)
    if not chosen:
        raise ConfigError(f"no library of learnt distributions given: pass --library DIR (or library=DIR) or set "
                          f"{LIBRARY_ENV}")
    return Path(chosen)


def add_search(run_dir: str | Path, library: str | Path | None = None, *, name: str | None = None,
               replace: bool = False) -> LibraryEntry:
    """Adds the finished search in ``run_dir`` (its ``distribution.json``) to ``library``; returns the entry.

    The dataset's meta-features are computed from the run's own dataset (``data.dataset`` and ``data.data_dir``
    of its ``config.yaml``). An entry of the same name is refused unless ``replace``.
    """
    run, folder = Run(run_dir), library_dir(library)
    exported = load_distribution(run.path)  # a run without a learnt distribution is refused by name
    config = run.config()
    data = config.get("data") or {}
    dataset = str(data.get("dataset"))
    metrics = run.metrics()
    last = metrics[-1] if metrics else {}
    arch_file = next((f for f in ("architecture.txt", "genotype.txt") if run.path_of(f).is_file()), None)
    record = {
        "dataset": dataset, "space": config.get("space", "darts"), "strategy": config.get("strategy"),
        "net": config.get("net"), "epochs": config.get("epochs"), "seed": config.get("seed"),
        "source_run": str(run.path.resolve()),
        "result": {k: last[k] for k in ("mode_accuracy", "entropy", "table_test_accuracy") if k in last}
        | {"epochs_run": len(metrics)}
        | ({"architecture": run.path_of(arch_file).read_text().strip()} if arch_file else {}),
        "meta_features": meta_features(load_dataset(dataset, data.get("data_dir"))),
    }
    entry_name = name or re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{dataset}-{record['space']}-{run.path.resolve().name}")
    target = Run(folder / entry_name)
    if (target.path / ENTRY_FILE).is_file() and not replace:
        raise ConfigError(f"the library {folder} already holds an entry {entry_name!r}; give another --name or "
                          "--replace it")
    target.write_json("distribution.json", exported)
    target.write_json(ENTRY_FILE, record)  # last: an entry without its distribution is never listed
    return LibraryEntry(entry_name, target.path, dataset, str(record["space"]), record)


def load_library(library: str | Path | None = None) -> list[LibraryEntry]:
    """Every entry of ``library``, by name."""
    folder = library_dir(library)
    if not folder.is_dir():
        raise FileNotFoundError(f"the library {folder} does not exist; add a finished search to it with "
                                f"`parsecnas library add RUN_DIR --library {folder}`")
    entries = []
    for path in sorted(p.parent for p in folder.glob(f"*/{ENTRY_FILE}")):
        record = Run(path).read_json(ENTRY_FILE)
        entries.append(LibraryEntry(path.name, path, str(record["dataset"]), str(record["space"]), record))
    return entries


@dataclass(frozen=True)
class LibraryChoice:
    """The entries a warm start uses, nearest first, with their distances, mixture weights and the largest
    terms of each distance (which meta-features differ most)."""

    entries: tuple[LibraryEntry, ...]
    distances: tuple[float, ...]
    weights: tuple[float, ...]
    terms: tuple[dict[str, float], ...]
    considered: int

    def describe(self) -> str:
        """One line per entry used: which and why."""
        lines = [f"warm start from the library: the {len(self.entries)} nearest of {self.considered} entries of "
                 "this space by dataset meta-features"]
        for entry, d, w, terms in zip(self.entries, self.distances, self.weights, self.terms, strict=True):
            top = sorted(terms.items(), key=lambda kv: -kv[1])[:_SHOWN_TERMS]
            why = ", ".join(f"{k} {v:.2f}" for k, v in top if v > 0) or "identical meta-features"
            lines.append(f"  {entry.name} (dataset {entry.dataset}): distance {d:.3f}, weight {w:.2f}; "
                         f"largest differences: {why}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"considered": self.considered, "entries": [
            {"name": e.name, "dataset": e.dataset, "distance": d, "weight": w, "terms": t, "source_run":
             e.record.get("source_run")}
            for e, d, w, t in zip(self.entries, self.distances, self.weights, self.terms, strict=True)]}


def choose(entries: list[LibraryEntry], meta: dict[str, Any], space: str, k: int = 1) -> LibraryChoice:
    """The ``k`` entries of ``space`` nearest to a dataset's meta-features ``meta`` (ties by name)."""
    if k < 1:
        raise ConfigError(f"library_neighbours must be >= 1, got {k}")
    same = [e for e in entries if e.space == space]
    if not same:
        spaces = sorted({e.space for e in entries}) or ["none"]
        raise ConfigError(f"the library holds no search of the {space!r} space (it has: {', '.join(spaces)}); "
                          "add one with `parsecnas library add RUN_DIR`")
    scored = sorted(((*meta_distance(meta, e.meta), e) for e in same), key=lambda t: (t[0], t[2].name))[:k]
    nearest = scored[0][0]
    raw = [math.exp(-(d - nearest)) for d, _, _ in scored]
    weights = tuple(r / sum(raw) for r in raw)
    return LibraryChoice(tuple(e for _, _, e in scored), tuple(d for d, _, _ in scored), weights,
                         tuple(t for _, t, _ in scored), len(same))


def mixture(distributions: list[dict[str, Any]], weights: list[float] | tuple[float, ...]) -> dict[str, Any]:
    """The weighted mixture of exported distributions' log-probabilities, decision by decision: a decision that
    some of them lack (or hold with another number of choices than the first that has it) is mixed over the
    others, their weights renormalised."""
    names: list[str] = []
    found: dict[str, list[tuple[float, torch.Tensor]]] = {}
    choices: dict[str, Any] = {}
    for exported, w in zip(distributions, weights, strict=True):
        for i, (name, logits) in enumerate(zip(exported["names"], exported["logits"], strict=True)):
            values = torch.as_tensor(logits, dtype=torch.float64)
            if name not in found:
                names.append(name)
                found[name] = []
                if "choices" in exported:
                    choices[name] = exported["choices"][i]
            if not found[name] or len(found[name][0][1]) == len(values):
                found[name].append((float(w), torch.log_softmax(values, 0)))
    mixed = []
    for name in names:
        total = sum(w for w, _ in found[name])
        mixed.append(torch.stack([(w / total) * lp for w, lp in found[name]]).sum(0).tolist())
    out: dict[str, Any] = {"names": names, "logits": mixed}
    if len(choices) == len(names):
        out["choices"] = [choices[n] for n in names]
    return out


def warm_start_from_library(strategy: WeightSharingStrategy, space: Space, dataset: ImageDataset,
                            library: str | Path | None = None, k: int = 1) -> LibraryChoice:
    """Warm-starts ``strategy`` from the ``k`` library entries of ``space`` nearest to ``dataset``."""
    choice = choose(load_library(library), meta_features(dataset), space.name, k)
    exported = mixture([e.distribution() for e in choice.entries], choice.weights)
    transfer(strategy, space, exported, f"--init-from auto ({', '.join(e.name for e in choice.entries)})")
    return choice
