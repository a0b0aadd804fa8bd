"""Costs: additive tables equal the built networks' own counts; the cost names a config can give."""

from __future__ import annotations

import pytest
import torch

from parsecnas.estimators.cost import (
    AdditiveCost,
    AdditiveTable,
    FunctionCost,
    count_multiply_adds,
    count_parameters,
    multiply_add_cost,
    parameter_cost,
)
from parsecnas.estimators.cost_specs import make_cost
from parsecnas.estimators.tabular import NB201Table, find_benchmark_file
from parsecnas.spaces import get_space, sample_uniform

SMALL = {"darts": {"num_cells": 5, "channels": 8}, "nb201": {"num_cells": 1, "channels": 8}}


@pytest.mark.parametrize("space_name", ["nb201", "darts"])
def test_additive_params_and_madds_equal_the_built_networks_counts(space_name: str) -> None:
    space = get_space(space_name)
    setting = space.net_setting("cifar10", **SMALL[space_name])
    params, madds = parameter_cost(space, setting), multiply_add_cost(space, setting)
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        arch = sample_uniform(space, generator)
        net = space.build(arch, **setting.options)
        assert params(arch) == pytest.approx(count_parameters(net) / 1e6, rel=1e-9)
        assert madds(arch) == pytest.approx(count_multiply_adds(net, (3, 32, 32)) / 1e6, rel=1e-9)
    assert params.additive and len(params.table().values) == len(space.decisions)


def test_a_non_additive_cost_has_no_table() -> None:
    cost = FunctionCost(lambda arch: 1.0, "constant")
    assert cost(None) == 1.0 and not cost.additive
    with pytest.raises(TypeError, match="not additive"):
        cost.table()


def test_additive_table_sums_its_terms_and_pads_like_a_distribution() -> None:
    table = AdditiveTable(((1.0, 2.0), (10.0, 20.0, 30.0)), offset=0.5)
    assert table.total([1, 2]) == 32.5
    assert table.padded().tolist() == [[1.0, 2.0, 0.0], [10.0, 20.0, 30.0]]
    with pytest.raises(ValueError, match="one row per decision"):
        AdditiveCost(get_space("nb201"), table, "bad")


def test_make_cost_knows_its_forms_and_names_them_when_wrong() -> None:
    space = get_space("nb201")
    assert make_cost("params", space).name == "params"
    with pytest.raises(ValueError, match="valid forms: params, madds"):
        make_cost("flops", space)


def test_nb201_latency_is_a_cost_by_device_name() -> None:
    try:
        find_benchmark_file("nb201-latency-help", "nb201_latency_help.csv")
    except FileNotFoundError:
        pytest.skip("NB201 latency table not installed")
    table = NB201Table()
    assert len(table.devices) == 27 and "raspi4" in table.devices
    cost = make_cost("nb201:raspi4", get_space("nb201"))
    assert cost(table.arch(1)) == pytest.approx(54.77740)
    with pytest.raises(ValueError, match="unknown NB201 latency device 'raspi5'"):
        make_cost("nb201:raspi5", get_space("nb201"))
