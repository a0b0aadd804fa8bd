"""The NAS-Bench-201 space: its string form, decisions, networks and supernet."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from parsecnas.nets.nb201 import NB201Network, NB201SuperNet, one_hot_weights
from parsecnas.spaces.nb201 import EDGES, NB201_OPS, NB201Arch, NB201Space

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_string_form_round_trips_and_reads_edges_by_node_and_source() -> None:
    arch = NB201Arch.parse(BEST)
    assert str(arch) == BEST
    assert arch.op(3, 0) == "skip_connect" and arch.op(3, 2) == "nor_conv_1x1"
    assert hash(arch) == hash(NB201Arch.parse(BEST))


def test_bad_strings_and_ops_name_what_is_valid() -> None:
    with pytest.raises(ValueError, match="valid ops: none, skip_connect"):
        NB201Arch(("sep_conv_3x3",) * 6)
    with pytest.raises(ValueError, match="expected input 1"):
        NB201Arch.parse("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|")


def test_decisions_are_six_edges_of_five_ops_and_enumerate_the_space() -> None:
    space = NB201Space()
    assert [d.size for d in space.decisions] == [5] * 6 and len(EDGES) == 6
    ordinals = {space.from_choices([a, b, c, d, e, f]).ordinal
                for a in range(5) for b in range(5) for c in range(5) for d in range(5) for e in range(5)
                for f in range(5)}
    assert ordinals == set(range(5 ** 6))


def test_network_is_three_stages_with_residual_reductions() -> None:
    net = NB201Network(NB201Arch(("nor_conv_3x3",) * 6), num_cells=2, channels=4, num_classes=7)
    assert net.forward_features(torch.randn(2, 3, 32, 32)).shape == (2, 16, 8, 8)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    with pytest.raises(ValueError, match="auxiliary"):
        NB201Network(NB201Arch(("none",) * 6), auxiliary=True)


def test_network_parameters_equal_the_benchmark_table(data_dir: Path) -> None:
    path = data_dir / "benchmarks" / "nb201-merged" / "nb201_merged.csv"
    with open(path, newline="") as fh:
        rows = [row for i, row in enumerate(csv.DictReader(fh)) if i in (0, 3, 6111, 9000)]
    for row in rows:
        net = NB201Network(NB201Arch.parse(row["arch_str"]))
        assert sum(p.numel() for p in net.parameters()) / 1e6 == pytest.approx(float(row["params_M_cifar10"]),
                                                                               abs=1e-6)


def test_supernet_path_equals_its_one_hot_mixture() -> None:
    net = NB201SuperNet(num_cells=1, channels=4)
    arch = NB201Arch.parse(BEST)
    x = torch.randn(4, 3, 16, 16)
    assert torch.allclose(net(x, arch), net(x, one_hot_weights(arch)), atol=1e-6)
    uniform = torch.full((len(EDGES), len(NB201_OPS)), 1 / len(NB201_OPS), requires_grad=True)
    net(x, uniform).sum().backward()
    assert uniform.grad is not None and uniform.grad.abs().sum() > 0
