"""NAS-Bench-201 as a lookup table: accuracies, parameters and latency of all 15,625 cells, and an estimator.

The files live under ``<root>/benchmarks/`` where ``root`` is, in order, the ``data_dir`` argument,
``$PARSECNAS_DATA`` and the per-user cache (as for datasets):

* ``nb201-merged/nb201_merged.csv``: row i is NB201 index i; accuracies in percent (see its SOURCE.txt);
* ``nb201-latency-help/nb201_latency_help.csv``: latency in ms, 27 device columns (only for :meth:`latency`).

Both load lazily with the ``csv`` module into numpy arrays (about 2 MB; well under a second).

Example:
    >>> table = NB201Table()  # doctest: +SKIP
    >>> table.query(6111, "cifar10").test_accuracy  # doctest: +SKIP
    94.373333
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.files import search_dirs
from ..spaces.nb201_arch import NB201Arch, as_nb201_arch

DATASETS = ("cifar10", "cifar100", "imagenet16")
"""Dataset names of the table (``imagenet16`` is ImageNet16-120; ``"ImageNet16-120"`` is accepted too)."""

_MERGED = ("nb201-merged", "nb201_merged.csv")
_LATENCY = ("nb201-latency-help", "nb201_latency_help.csv")

_COLUMNS: dict[tuple[str, int], tuple[str | None, str]] = {
    ("cifar10", 200): ("cifar10valid_val_200ep", "cifar10_test_200ep"),
    ("cifar100", 200): (None, "cifar100_test_200ep"),
    ("imagenet16", 200): (None, "imagenet16_test_200ep"),
    ("cifar10", 12): ("cifar10valid_val_12ep", "cifar10_test_12ep"),
    ("cifar100", 12): ("cifar100_val_12ep", "cifar100_test_12ep"),
    ("imagenet16", 12): ("imagenet16_val_12ep", "imagenet16_test_12ep"),
}
"""(dataset, epochs) -> (validation column or None, test column). CIFAR-10 at 200 epochs follows the NB201
paper: validation of the ``cifar10-valid`` run, test of the run trained on train + valid."""


def canonical_dataset(name: str) -> str:
    """``cifar10`` / ``cifar100`` / ``imagenet16`` from common spellings (``ImageNet16-120``, ``cifar-10``)."""
    key = name.strip().lower().replace("-", "").replace("_", "")
    key = {"imagenet16120": "imagenet16", "imagenet": "imagenet16"}.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown NB201 dataset {name!r}; valid: {', '.join(DATASETS)} (or ImageNet16-120)")
    return key


def find_benchmark_file(folder: str, name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<root>/benchmarks/<folder>/<name>`` for the first root of ``search_dirs(data_dir)`` that has it."""
    roots = search_dirs(data_dir)
    for root in roots:
        path = root / "benchmarks" / folder / name
        if path.is_file():
            return path
    looked = ", ".join(str(r / "benchmarks" / folder) for r in roots) or "(no folder: give data_dir)"
    raise FileNotFoundError(f"NAS-Bench-201 file {name!r} not found; looked in {looked}. Put it under "
                            f"<data_dir>/benchmarks/{folder}/ or set $PARSECNAS_DATA to the folder holding "
                            "benchmarks/")


@dataclass(frozen=True)
class TabularResult:
    """What one benchmark query returns. ``score`` is what a search maximises (validation accuracy by default).

    Attributes:
        arch: the architecture queried.
        index: its NB201 index.
        dataset: ``cifar10``, ``cifar100`` or ``imagenet16``.
        epochs: training epochs of the looked-up run (200 or 12); the query's simulated cost.
        valid_accuracy: percent, NaN where the table has none.
        test_accuracy: percent.
        score: the selection signal (``valid_accuracy``, or ``test_accuracy`` when the estimator says so).
    """

    arch: NB201Arch
    index: int
    dataset: str
    epochs: int
    valid_accuracy: float
    test_accuracy: float
    score: float


class NB201Table:
    """Lazy reader of the NAS-Bench-201 tables; query by :class:`NB201Arch`, its string, or NB201 index."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        self.data_dir = data_dir
        self._archs: list[str] | None = None
        self._index: dict[str, int] = {}
        self._columns: dict[str, np.ndarray] = {}
        self._latency: dict[str, np.ndarray] = {}

    def _load(self) -> None:
        path = find_benchmark_file(*_MERGED, data_dir=self.data_dir)
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = list(reader)
        for i, row in enumerate(rows):
            if int(row[0]) != i:
                raise ValueError(f"{path}: row {i} has index {row[0]}; rows must be in NB201 index order")
        skip = {"index", "arch_str", "naslib_tuple"}
        self._columns = {name: np.array([float(r[k]) if r[k] else math.nan for r in rows])  # blank: NaN
                         for k, name in enumerate(header) if name not in skip}
        self._archs = [r[1] for r in rows]
        self._index = {text: i for i, text in enumerate(self._archs)}

    def _ensure_loaded(self) -> list[str]:
        if self._archs is None:
            self._load()
        assert self._archs is not None
        return self._archs

    @property
    def arch_strings(self) -> list[str]:
        """The table's ``arch_str`` column, by NB201 index."""
        return self._ensure_loaded()

    def __len__(self) -> int:
        return len(self.arch_strings)

    def arch(self, index: int) -> NB201Arch:
        """The architecture of NB201 index ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"NB201 index {index} out of range 0 .. {len(self) - 1}")
        return NB201Arch.parse(self.arch_strings[index])

    def index(self, arch: NB201Arch | str | int) -> int:
        """NB201 index of an architecture (or its string; an int is checked and returned)."""
        if isinstance(arch, (int, np.integer)):
            if not 0 <= int(arch) < len(self):
                raise IndexError(f"NB201 index {arch} out of range 0 .. {len(self) - 1}")
            return int(arch)
        self._ensure_loaded()
        text = str(NB201Arch.parse(arch) if isinstance(arch, str) else arch)
        try:
            return self._index[text]
        except KeyError:
            raise ValueError(f"architecture {text!r} is not in the NB201 table") from None

    def column(self, name: str) -> np.ndarray:
        """A raw column by its CSV name (e.g. ``params_M_cifar10``, ``naswot_score_v1``), by NB201 index.

        Blank cells are NaN (``naswot_score_v1`` has 341).
        """
        self._ensure_loaded()
        if name not in self._columns:
            raise KeyError(f"unknown column {name!r}; valid: {', '.join(self._columns)}")
        return self._columns[name]

    def accuracies(self, dataset: str = "cifar10", epochs: int = 200, split: str = "test") -> np.ndarray:
        """All 15,625 accuracies of one (dataset, epochs, split in ``valid`` / ``test``), by NB201 index."""
        key = (canonical_dataset(dataset), int(epochs))
        if key not in _COLUMNS:
            raise ValueError(f"no {epochs}-epoch results; valid epochs: 12, 200")
        if split not in ("valid", "test"):
            raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
        valid, test = _COLUMNS[key]
        name = valid if split == "valid" else test
        if name is None:
            raise ValueError(f"the table has no {epochs}-epoch validation accuracy for {key[0]}; use split='test' "
                             "(in NB201 x-valid and x-test are halves of one held-out set) or epochs=12")
        return self.column(name)

    def query(self, arch: NB201Arch | str | int, dataset: str = "cifar10", epochs: int = 200,
              select: str = "valid") -> TabularResult:
        """One lookup. ``select`` names the split that becomes ``score`` (``valid`` or ``test``)."""
        i = self.index(arch)
        dataset = canonical_dataset(dataset)
        test = float(self.accuracies(dataset, epochs, "test")[i])
        has_valid = _COLUMNS[(dataset, int(epochs))][0] is not None
        valid = float(self.accuracies(dataset, epochs, "valid")[i]) if has_valid else math.nan
        if select == "valid" and not has_valid:
            self.accuracies(dataset, epochs, "valid")  # raises with the explanation
        score = valid if select == "valid" else test
        return TabularResult(self.arch(i), i, dataset, int(epochs), valid, test, score)

    def params(self, arch: NB201Arch | str | int) -> float:
        """Parameters in millions of the CIFAR-10 network (N = 5, C = 16)."""
        return float(self.column("params_M_cifar10")[self.index(arch)])

    @property
    def devices(self) -> tuple[str, ...]:
        """Device names of :meth:`latency` (loads the latency table)."""
        if not self._latency:
            self._load_latency()
        return tuple(self._latency)

    def _load_latency(self) -> None:
        path = find_benchmark_file(*_LATENCY, data_dir=self.data_dir)
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = list(reader)
        if [r[1] for r in rows] != self.arch_strings:
            raise ValueError(f"{path}: arch_str column differs from the accuracy table's order")
        self._latency = {name: np.array([float(r[k]) for r in rows]) for k, name in enumerate(header) if k >= 2}

    def latency(self, arch: NB201Arch | str | int, device: str) -> float:
        """Measured inference latency (ms) on ``device`` (one of :attr:`devices`)."""
        if device not in self.devices:
            raise ValueError(f"unknown device {device!r}; valid: {', '.join(self.devices)}")
        return float(self._latency[device][self.index(arch)])

    def best(self, dataset: str = "cifar10", epochs: int = 200, split: str = "test") -> tuple[int, float]:
        """``(index, accuracy)`` of the best cell on one split."""
        values = self.accuracies(dataset, epochs, split)
        i = int(np.argmax(values))
        return i, float(values[i])


class NB201Benchmark:
    """Estimator over the table: ``benchmark(arch) -> TabularResult``; a search maximises ``result.score``.

    Args:
        dataset: ``cifar10``, ``cifar100`` or ``imagenet16``.
        epochs: 200 (full) or 12 (the low-fidelity table).
        select: split that becomes the score. ``valid`` (default) is the honest protocol; the table has no
            200-epoch validation for CIFAR-100 / ImageNet16-120, where ``test`` is the available stand-in.
        table: a shared :class:`NB201Table` (one is made lazily otherwise).

    Example:
        >>> bench = NB201Benchmark("cifar10")  # doctest: +SKIP
        >>> bench(bench.table.arch(6111)).score  # doctest: +SKIP
        91.606667
    """

    def __init__(self, dataset: str = "cifar10", epochs: int = 200, select: str = "valid",
                 table: NB201Table | None = None, data_dir: str | os.PathLike[str] | None = None) -> None:
        self.dataset = canonical_dataset(dataset)
        if (self.dataset, int(epochs)) not in _COLUMNS:
            raise ValueError(f"epochs must be 12 or 200, got {epochs}")
        if select not in ("valid", "test"):
            raise ValueError(f"select must be 'valid' or 'test', got {select!r}")
        if select == "valid" and _COLUMNS[(self.dataset, int(epochs))][0] is None:
            raise ValueError(f"no {epochs}-epoch validation accuracy for {self.dataset} in the table; "
                             "use select='test' (x-valid and x-test are halves of one held-out set) or epochs=12")
        self.epochs = int(epochs)
        self.select = select
        self.table = table if table is not None else NB201Table(data_dir)

    def __call__(self, arch: Any) -> TabularResult:
        return self.table.query(arch, self.dataset, self.epochs, self.select)


_TABLES: dict[str, NB201Table] = {}
"""NB201 tables read so far, by file (each is read once)."""


def nb201_record(arch: Any, dataset: str = "cifar10", data_dir: str | None = None) -> dict[str, Any]:
    """The NB201 table's record of ``arch`` (200-epoch runs): its index, test (and, where the table has it,
    validation) accuracy in percent on CIFAR-10, CIFAR-100 and ImageNet16-120, each dataset's optimum, and
    ``test_accuracy`` on the table's counterpart of ``dataset`` (CIFAR-10 for datasets it lacks).

    Raises:
        FileNotFoundError: the table is not under ``data_dir``, ``$PARSECNAS_DATA`` or the user cache.
    """
    path = str(find_benchmark_file(*_MERGED, data_dir=data_dir))  # raises FileNotFoundError when absent
    table = _TABLES.setdefault(path, NB201Table(data_dir))
    index = table.index(as_nb201_arch(arch))
    accuracies: dict[str, dict[str, float]] = {}
    optimum: dict[str, dict[str, Any]] = {}
    for name in DATASETS:
        result = table.query(index, name, 200, select="test")
        accuracies[name] = {"test": result.test_accuracy}
        if result.valid_accuracy == result.valid_accuracy:  # not NaN: the table has a validation column
            accuracies[name]["valid"] = result.valid_accuracy
        best, best_accuracy = table.best(name, 200, "test")
        optimum[name] = {"index": best, "arch": table.arch_strings[best], "test": best_accuracy}
    try:
        target = canonical_dataset(dataset)
    except ValueError:
        target = "cifar10"
    return {"benchmark": "NAS-Bench-201", "epochs": 200, "arch": str(as_nb201_arch(arch)), "index": index,
            "dataset": target, "test_accuracy": accuracies[target]["test"], "accuracies": accuracies,
            "optimum": optimum}


TableRecord = Callable[[Any, str, "str | None"], dict[str, Any]]
_RECORDS: dict[str, TableRecord] = {"nb201": nb201_record}


def register_table(space: str, record: TableRecord) -> None:
    """Registers the tabular benchmark of the space named ``space``: ``record(arch, dataset, data_dir)``
    returns the table's JSON-safe record of ``arch`` with ``test_accuracy`` (raising ``FileNotFoundError`` when
    the table is not installed). The search loop looks every epoch's derived architecture up in it."""
    _RECORDS[space] = record


def table_record(space: str) -> TableRecord | None:
    """The registered table lookup of the space named ``space``, or ``None`` if it has no table."""
    return _RECORDS.get(space)
