"""PARSEC over 2 gloo ranks: the K samples split over ranks give the single-process step; the data-parallel mode
(each rank a share of each batch, all K samples) gives the step of one process whose batch norm, like the
ranks', normalises each half of a batch by its own statistics (``Halves``)."""

from __future__ import annotations

import pytest
import torch
from _ranks import run_ranks
from _tiny import Halves, batch, tiny_net

from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.run.distributed import Distributed
from parsecnas.spaces import get_space
from parsecnas.strategies import Parsec, ParsecConfig


def _steps(d: Distributed, out, parallel: str, steps: int = 2) -> None:
    """``steps`` PARSEC steps (K = 4) from the same net, seed and batches; writes weights, pi and w."""
    net = tiny_net()
    parsec = Parsec(get_space("darts"), ParsecConfig(samples=4, parallel=parallel), seed=0)
    parsec.distribute(d)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1, distributed=d)
    seen: list[torch.Tensor] = []
    weigh = parsec.weigh
    parsec.weigh = lambda *a: seen.append(weigh(*a)) or seen[-1]  # type: ignore[method-assign]
    stats = []
    for step in range(steps):
        train, search = batch(2 * step, size=8), batch(2 * step + 1, size=8)
        if parsec.shards_batches:  # what the search loop's sharded loaders hand this rank
            rows = d.shard(8)
            train, search = ((x[rows.start: rows.stop], y[rows.start: rows.stop]) for x, y in (train, search))
        model = Halves(net) if parallel == "data" and not d.active else net
        stats.append(d.mean_stats(parsec.step(model, weights, train, search)))
    torch.save({"net": net.state_dict(), "pi": parsec.distribution.logits.detach().clone(), "w": seen,
                "stats": stats}, out / f"{parallel}-{d.world_size}-rank{d.rank}.pt")


def _load(path, name: str) -> dict:
    return torch.load(path / name, weights_only=True)


def _max_gap(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("parsec-ranks")
    for parallel in ("samples", "data"):
        _steps(Distributed(), out, parallel)
    run_ranks(_both_modes, 2, out, out)
    return out


def _both_modes(d: Distributed, out) -> None:
    for parallel in ("samples", "data"):
        _steps(d, out, parallel)


@pytest.mark.parametrize("parallel", ["samples", "data"])
def test_two_ranks_take_the_single_process_step(runs, parallel: str) -> None:
    one = _load(runs, f"{parallel}-1-rank0.pt")
    for rank in (0, 1):
        two = _load(runs, f"{parallel}-2-rank{rank}.pt")
        assert _max_gap(two["net"], one["net"]) < 1e-6
        assert float((two["pi"] - one["pi"]).abs().max()) < 1e-6
        for w2, w1 in zip(two["w"], one["w"], strict=True):
            assert float((w2 - w1).abs().max()) < 1e-6
        for s2, s1 in zip(two["stats"], one["stats"], strict=True):
            assert s2.keys() == s1.keys() and all(abs(s2[k] - s1[k]) < 1e-5 for k in s1)
    assert float(one["pi"].abs().max()) > 1e-3  # pi did move: the comparison is not between two priors


def test_data_parallel_ranks_hold_one_network_and_one_belief(runs) -> None:
    r0, r1 = _load(runs, "data-2-rank0.pt"), _load(runs, "data-2-rank1.pt")
    assert _max_gap(r0["net"], r1["net"]) == 0 and torch.equal(r0["pi"], r1["pi"])
    assert all(torch.equal(a, b) for a, b in zip(r0["w"], r1["w"], strict=True))
