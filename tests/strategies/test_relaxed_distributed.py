"""DARTS, XNAS, GDAS and SNAS data-parallel over 2 gloo ranks: each rank steps on its half of every batch, the
architecture gradients are summed like the weights', so both ranks hold the same belief and derive the same
architecture: the one a single process derives from the whole batches when its batch norm, like the ranks',
normalises each half by its own statistics (``Halves``)."""

from __future__ import annotations

import pytest
import torch
from _ranks import run_ranks
from _tiny import Halves, tiny_net

from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.run.distributed import Distributed
from parsecnas.spaces import get_space
from parsecnas.strategies import create_strategy
from parsecnas.strategies.darts import DartsConfig
from parsecnas.strategies.gumbel import GdasConfig, SnasConfig
from parsecnas.strategies.xnas import XnasConfig

STEPS = 2
CONFIGS = {"darts": DartsConfig(arch_lr=0.05, steps_per_epoch=STEPS),
           "darts2": DartsConfig(order=2, arch_lr=0.05, steps_per_epoch=STEPS),
           "xnas": XnasConfig(eta=50.0, epochs=1, steps_per_epoch=STEPS),
           "gdas": GdasConfig(arch_lr=0.05, epochs=1, steps_per_epoch=STEPS),
           "snas": SnasConfig(arch_lr=0.05, epochs=1, steps_per_epoch=STEPS, resource_weight=0.1)}


def _batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(8, 3, 8, 8, generator=gen), torch.randint(0, 3, (8,), generator=gen)


def _search(d: Distributed, out) -> None:
    for key, config in CONFIGS.items():
        net = tiny_net()
        strategy = create_strategy(key.rstrip("2"), get_space("darts"), config, seed=0)
        strategy.distribute(d)
        weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1, distributed=d)
        rows = d.shard(8)
        for step in range(1 if key == "darts2" else STEPS):  # the unrolled step is the slow one
            batches = [(x[rows.start: rows.stop], y[rows.start: rows.stop]) for x, y in (_batch(2 * step),
                                                                                     _batch(2 * step + 1))]
            strategy.step(net if d.active else Halves(net), weights, *batches)
        belief = {k: v for k, v in strategy.state_dict().items() if k in ("alpha", "log_v")}
        torch.save({"arch": str(strategy.derive()), "belief": belief, "net": net.state_dict()},
                   out / f"{key}-{d.world_size}-rank{d.rank}.pt")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("relaxed-ranks")
    _search(Distributed(), out)
    run_ranks(_search, 2, out, out)
    return out


def _tensors(record: dict) -> dict[str, torch.Tensor]:
    (belief,) = record["belief"].values()
    return {cell: t.float().clamp_min(-1e4) for cell, t in belief.items()}


@pytest.mark.parametrize("key", CONFIGS)
def test_two_ranks_derive_one_architecture_close_to_one_process(runs, key: str) -> None:
    load = lambda name: torch.load(runs / name, weights_only=True)  # noqa: E731
    r0, r1, one = load(f"{key}-2-rank0.pt"), load(f"{key}-2-rank1.pt"), load(f"{key}-1-rank0.pt")
    assert r0["arch"] == r1["arch"] == one["arch"]
    b0, b1, single = _tensors(r0), _tensors(r1), _tensors(one)
    assert all(torch.equal(b0[c], b1[c]) for c in b0)  # one belief on both ranks, bit for bit
    assert all(torch.equal(r0["net"][k], r1["net"][k]) for k in r0["net"])
    for c in b0:
        gap, moved = float((b0[c] - single[c]).abs().max()), float(single[c].abs().max())
        assert moved > 0.01 and gap < 1e-4 * max(1.0, moved), (c, gap, moved)
    assert max(float((r0["net"][k] - one["net"][k]).abs().max()) for k in r0["net"]) < 1e-5
