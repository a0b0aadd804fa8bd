"""The NAS-Bench-201 table: index mapping, lookups, latency, and errors when the files are missing."""

from __future__ import annotations

import ast
import csv
import math
from pathlib import Path

import pytest

from parsecnas.estimators.tabular import NB201Benchmark, NB201Table
from parsecnas.spaces.nb201 import EDGES, NB201Arch

NASLIB_CODES = {0: "skip_connect", 1: "none", 2: "nor_conv_3x3", 3: "nor_conv_1x1", 4: "avg_pool_3x3"}
NASLIB_EDGES = [(1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2)]  # (e01, e02, e03, e12, e13, e23)


@pytest.fixture(scope="module")
def table() -> NB201Table:
    import os

    if not os.environ.get("PARSECNAS_DATA"):
        pytest.skip("PARSECNAS_DATA is not set to the offline data folder")
    return NB201Table()


def test_index_mapping_reproduces_every_row(table: NB201Table, data_dir: Path) -> None:
    with open(data_dir / "benchmarks" / "nb201-merged" / "nb201_merged.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(table) == len(rows) == 15625
    for i, row in enumerate(rows):
        arch = table.arch(i)
        assert str(arch) == row["arch_str"] and table.index(arch) == i
        naslib = ast.literal_eval(row["naslib_tuple"])  # an independent encoding of the same cell
        assert all(arch.op(*edge) == NASLIB_CODES[code] for edge, code in zip(NASLIB_EDGES, naslib))
    assert len({table.arch(i) for i in range(len(table))}) == 5 ** len(EDGES)


def test_best_cifar10_cell_is_6111_by_test_and_by_validation(table: NB201Table) -> None:
    assert table.best("cifar10", 200, "test") == (6111, pytest.approx(94.3733, abs=1e-3))
    assert table.best("cifar10", 200, "valid")[0] == 6111
    assert table.best("cifar100")[1] == pytest.approx(73.5133, abs=1e-3)
    assert table.best("ImageNet16-120")[1] == pytest.approx(47.3111, abs=1e-3)


def test_query_returns_a_record_scored_by_validation(table: NB201Table) -> None:
    result = NB201Benchmark("cifar10", table=table)(table.arch(6111))
    assert (result.index, result.epochs, result.dataset) == (6111, 200, "cifar10")
    assert result.score == result.valid_accuracy == pytest.approx(91.6067, abs=1e-3)
    low = table.query(str(table.arch(6111)), "cifar100", epochs=12)
    assert low.score == low.valid_accuracy and low.epochs == 12
    assert math.isnan(table.query(6111, "cifar100", select="test").valid_accuracy)


def test_missing_validation_column_is_explained(table: NB201Table) -> None:
    with pytest.raises(ValueError, match="no 200-epoch validation accuracy for cifar100"):
        NB201Benchmark("cifar100")
    with pytest.raises(ValueError, match="unknown NB201 dataset 'svhn'"):
        table.query(0, "svhn")


def test_params_and_latency_by_device(table: NB201Table) -> None:
    assert table.params(6111) == pytest.approx(1.073466)
    assert len(table.devices) == 27 and "raspi4" in table.devices
    none_cell = NB201Arch(("none",) * 6)
    assert table.latency(none_cell, "titan_rtx_256") < table.latency(6111, "titan_rtx_256")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        table.latency(0, "tpu")


def test_constructor_reads_nothing_and_missing_files_are_named(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARSECNAS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    table = NB201Table(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"nb201_merged\.csv.*nowhere/benchmarks/nb201-merged"):
        table.arch(0)
