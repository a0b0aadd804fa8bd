"""Latency lookup tables: the table's sum is the network's own op-by-op sum, and a table keeps to its device."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from parsecnas.estimators.latency import LatencyTable, device_name, measure_latency, profile_latency
from parsecnas.spaces import get_space, sample_uniform
from parsecnas.spaces.base import OpSite
from parsecnas.spaces.nb201 import EDGES

SMALL = {"darts": {"num_cells": 4, "channels": 4}, "nb201": {"num_cells": 1, "channels": 4}}


def tiny_table(space_name: str) -> LatencyTable:
    space = get_space(space_name)
    return profile_latency(space, space.net_setting("cifar10", **SMALL[space_name]), warmup=0, repeats=1,
                           fixed_archs=1)


def ops_the_network_runs(space_name: str, net: nn.Module) -> list[OpSite]:
    """Every op of the cells, with the input shape it is really called with (forward hooks)."""
    found: list[OpSite] = []

    def watch(op: nn.Module, name: str, stride: int) -> None:
        op.register_forward_hook(lambda m, inputs, out: found.append(OpSite(name, inputs[0].shape[1], stride,
                                                                           *inputs[0].shape[-2:])))

    for module in net.modules():
        if space_name == "darts" and hasattr(module, "pairs"):
            for (name, source), op in zip(module.pairs, module.ops):
                watch(op, name, 2 if module.spec.reduction and source < 2 else 1)
        elif space_name == "nb201" and type(module).__name__ == "NB201Cell":
            for e, op in enumerate(module.edges):
                watch(op, net.arch.ops[e], 1)
    with torch.no_grad():
        net.eval()(torch.zeros(1, 3, 32, 32))
    return found


@pytest.mark.parametrize("space_name", ["nb201", "darts"])
def test_lut_sum_equals_the_networks_own_op_by_op_sum(space_name: str) -> None:
    space, lut = get_space(space_name), tiny_table(space_name)
    cost = lut.cost(space)
    generator = torch.Generator().manual_seed(3)
    for _ in range(3):
        arch = sample_uniform(space, generator)
        ran = ops_the_network_runs(space_name, space.build(arch, **lut.net_setting().options))
        assert len(ran) == (8 * 4 if space_name == "darts" else 3 * len(EDGES))
        assert cost(arch) - lut.fixed == pytest.approx(sum(lut.ops[site.key] for site in ran), rel=1e-9)


def test_fixed_part_is_the_median_residual_of_whole_networks() -> None:
    lut = tiny_table("nb201")
    assert lut.fixed == lut.fixed_samples[0] and lut.device == device_name()


def test_lut_round_trips_and_refuses_another_device(tmp_path: Path) -> None:
    lut = tiny_table("nb201")
    path = lut.save(tmp_path / "lut.json")
    assert LatencyTable.load(path, device=device_name()) == lut
    with pytest.raises(ValueError, match="measured on 'cpu/.*', not on 'cuda/H100'.*parsecnas profile"):
        LatencyTable.load(path, device="cuda/H100")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ValueError, match="not a latency table"):
        LatencyTable.load(tmp_path / "other.json")


def test_lut_refuses_another_space_and_unmeasured_sites() -> None:
    lut = tiny_table("nb201")
    with pytest.raises(ValueError, match="for space 'nb201', not 'darts'"):
        lut.cost(get_space("darts"))
    partial = LatencyTable(**{**lut.__dict__, "ops": dict(list(lut.ops.items())[:3])})
    with pytest.raises(ValueError, match="lacks 12 op sites"):
        partial.cost(get_space("nb201"))


def test_measure_latency_is_a_positive_median() -> None:
    assert measure_latency(nn.Identity(), torch.zeros(1), warmup=0, repeats=3) > 0
    with pytest.raises(ValueError, match="repeats >= 1"):
        measure_latency(nn.Identity(), torch.zeros(1), repeats=0)


def test_profile_command_writes_a_table_of_the_setting(tmp_path: Path, capsys) -> None:
    from parsecnas.cli import main

    out = tmp_path / "lut.json"
    args = ["profile", "--space", "nb201", "--setting", "cifar10", "--net", "num_cells=1", "--net", "channels=4",
            "--warmup", "0", "--repeats", "1", "--fixed-archs", "1", "--clock", "cpu", "--out", str(out)]
    assert main(args) == 0 and "15 op sites timed" in capsys.readouterr().out
    lut = LatencyTable.load(out, device=device_name())
    assert lut.setting["options"] == {"num_classes": 10, "num_cells": 1, "channels": 4} and lut.clock == "cpu"
    assert main(["profile", "--space", "nb201", "--setting", "mnist"]) == 2
    assert "valid: cifar10, cifar100, imagenet16" in capsys.readouterr().err
