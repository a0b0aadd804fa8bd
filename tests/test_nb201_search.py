"""Weight-sharing search on the NAS-Bench-201 supernet: path forward, strategies, run_search and table lookup."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter

import pytest
import torch

from parsecnas.estimators.tabular import DATASETS, NB201Table, find_benchmark_file
from parsecnas.nets.nb201 import MixedEdge, NB201Network, NB201SuperNet, SuperCell
from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search
from parsecnas.spaces import NB201_OPS, NB201Arch, get_space, sample_uniform
from parsecnas.strategies import ParsecConfig, create_strategy, strategies_for

ARCH = NB201Arch(("nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none"))
RELAXED = strategies_for(get_space("nb201"))  # every strategy: PARSEC and the whole relaxed family


def supernet(seed: int = 0) -> NB201SuperNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return NB201SuperNet(num_cells=2, channels=4, num_classes=3)


def count_op_calls(net: NB201SuperNet) -> Counter[tuple[int, int, int]]:
    """Calls of each (cell, edge, op) module, counted by forward hooks."""
    calls: Counter[tuple[int, int, int]] = Counter()
    cells = [m for m in net.modules() if isinstance(m, SuperCell)]
    for c, cell in enumerate(cells):
        for e, edge in enumerate(cell.edges):
            assert isinstance(edge, MixedEdge)
            for o, op in enumerate(edge.ops):
                op.register_forward_hook(lambda *_, key=(c, e, o): calls.update([key]))
    return calls


def table_available() -> bool:
    try:
        find_benchmark_file("nb201-merged", "nb201_merged.csv")
    except FileNotFoundError:
        return False
    return True


def test_discrete_arch_runs_only_its_ops_once_per_cell() -> None:
    net = supernet()
    calls = count_op_calls(net)
    net(torch.randn(2, 3, 16, 16), ARCH)
    chosen = {(e, NB201_OPS.index(op)) for e, op in enumerate(ARCH.ops) if op != "none"}
    assert set(calls) == {(c, e, o) for c in range(6) for e, o in chosen}
    assert set(calls.values()) == {1}


def test_discrete_path_equals_the_benchmark_network_and_the_one_hot_mixture() -> None:
    net, x = supernet(), torch.randn(4, 3, 16, 16)
    reference = NB201Network(ARCH, num_cells=2, channels=4, num_classes=3).train()  # BN on batch statistics
    shared = net.state_dict()
    state = reference.state_dict()
    for key in state:
        match = re.fullmatch(r"layers\.(\d+)\.edges\.(\d+)\.(.+)", key)
        source = key if match is None else (f"layers.{match[1]}.edges.{match[2]}.ops."
                                            f"{NB201_OPS.index(ARCH.ops[int(match[2])])}.{match[3]}")
        if source in shared:
            state[key] = shared[source]
    reference.load_state_dict(state)
    path = net(x, ARCH)
    assert torch.allclose(path, reference(x), atol=1e-5)
    one_hot = get_space("nb201").mixing_from(ARCH)
    assert torch.allclose(path, net(x, one_hot), atol=1e-5)
    assert torch.allclose(path, net(x, {**one_hot, "cell_active": one_hot["cell"].bool()}), atol=1e-5)


def test_derive_inverts_mixing_from_and_takes_each_edges_argmax() -> None:
    space = get_space("nb201")
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        arch = sample_uniform(space, gen)
        assert space.derive(space.mixing_from(arch)) == arch
    logits = torch.zeros(6, 5)
    logits[:, 0] = 1.0  # none strongest everywhere: NB201's rule keeps it
    assert space.derive({"cell": logits}) == NB201Arch(("none",) * 6)


def test_gdas_step_runs_one_sampled_op_per_edge() -> None:
    net, space = supernet(), get_space("nb201")
    gdas = create_strategy("gdas", space, None, seed=0)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    calls = count_op_calls(net)
    batch = (torch.randn(4, 3, 16, 16), torch.randint(0, 3, (4,)))
    gdas.step(net, weights, batch, batch)  # two forwards: the weight step and the alpha step
    per_edge = Counter({(c, e): 0 for c in range(6) for e in range(6)})
    per_edge.update((c, e) for (c, e, _), n in calls.items() for _ in range(n))
    assert max(per_edge.values()) <= 2 and sum(per_edge.values()) > 0


@pytest.mark.parametrize("name", RELAXED)
def test_same_seed_gives_the_same_nb201_search_and_state_round_trips(name: str) -> None:
    def run(seed: int):
        net, space = supernet(), get_space("nb201")
        strategy = create_strategy(name, space, ParsecConfig(samples=2) if name == "parsec" else None, seed)
        weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        gen = torch.Generator().manual_seed(7)
        for _ in range(2):
            batch = (torch.randn(4, 3, 16, 16, generator=gen), torch.randint(0, 3, (4,), generator=gen))
            strategy.step(net, weights, batch, batch)
        return strategy, net

    (a, net_a), (b, net_b) = run(1), run(1)
    assert isinstance(a.derive(), NB201Arch) and a.derive() == b.derive()
    assert all(torch.equal(p, q) for p, q in zip(net_a.parameters(), net_b.parameters()))
    fresh = create_strategy(name, get_space("nb201"), None, seed=99)
    fresh.load_state_dict(a.state_dict())
    assert fresh.derive() == a.derive()


def tiny(name: str) -> SearchConfig:
    return SearchConfig(space="nb201", strategy=name, epochs=2, steps_per_epoch=2,
                        net=NetConfig(num_cells=1, channels=4), data=DataConfig(batch_size=8, eval_examples=32),
                        settings=ParsecConfig(samples=2) if name == "parsec" else None)


@pytest.mark.parametrize("name", RELAXED)
def test_tiny_nb201_search_writes_the_cell_and_its_table_lookup(name: str, tmp_path) -> None:
    result = run_search(tiny(name), tmp_path / name, progress=False)
    arch = result.architecture
    assert isinstance(arch, NB201Arch)
    assert NB201Arch.parse((tmp_path / name / "architecture.txt").read_text()) == arch
    assert not (tmp_path / name / "genotype.json").exists() and len(result.metrics) == 2
    if not table_available():
        pytest.skip("NB201 table not installed (PARSECNAS_DATA): lookup part skipped")
    table = NB201Table()
    lookup = json.loads((tmp_path / name / "benchmark_lookup.json").read_text())
    assert lookup["index"] == table.index(arch) and lookup["arch"] == str(arch)
    for dataset in DATASETS:
        assert lookup["accuracies"][dataset]["test"] == table.query(arch, dataset, select="test").test_accuracy
        assert lookup["optimum"][dataset]["test"] == table.best(dataset)[1]
    assert lookup["accuracies"]["cifar10"]["valid"] == table.query(arch, "cifar10").valid_accuracy
    for record in result.metrics:
        expected = table.query(record["architecture"], "cifar10", select="test").test_accuracy
        assert record["table_test_accuracy"] == expected


def test_search_without_the_table_logs_a_note_and_writes_no_lookup(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("PARSECNAS_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING, logger="parsecnas.search"):
        result = run_search(tiny("darts"), tmp_path / "run", progress=False)
    assert "skipping the nb201 benchmark lookup" in caplog.text
    assert not (tmp_path / "run" / "benchmark_lookup.json").exists()
    assert all("table_test_accuracy" not in r for r in result.metrics)
