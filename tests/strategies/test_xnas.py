from __future__ import annotations

import io
import math
from pathlib import Path

import torch
from _tiny import batch, tiny_net
from torch import nn

from parsecnas.nets.cells import SearchCell
from parsecnas.ops import PRIMITIVES
from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.spaces import Genotype, get_space
from parsecnas.strategies.base import create_strategy
from parsecnas.strategies.xnas import Xnas, XnasConfig, plot_survivors, wipeout, wipeout_threshold

SKIP = PRIMITIVES.index("skip_connect")


def test_threshold_is_the_max_weight_times_exp_of_minus_two_eta_l_steps_left() -> None:
    eta, bound, step, total = 0.3, 2.0, 4, 10
    log_v = torch.tensor([[0.5, 0.5 - 7.1, 0.5 - 7.3, -1.0]])
    assert math.isclose(float(wipeout_threshold(torch.tensor(0.5), eta, bound, step, total)),
                        math.log(math.exp(0.5) * math.exp(-2 * eta * bound * (total - step))), rel_tol=1e-6)
    active = torch.tensor([[True, True, True, True]])
    assert wipeout(log_v, active, eta, bound, step, total).tolist() == [[True, True, False, True]]  # 7.2 below
    assert wipeout(log_v, active, eta, bound, total, total).tolist() == [[True, False, False, False]]


def test_update_wipes_exactly_the_ops_below_the_threshold() -> None:
    xnas = Xnas(get_space("darts"), XnasConfig(eta=0.5, reward_bound=1.0, epochs=1, steps_per_epoch=5))
    rewards = {c: torch.linspace(-1, 1, 8).repeat(14, 1) for c in ("normal", "reduce")}
    for step in range(1, 6):
        before = xnas.active["normal"].clone()
        xnas.update(rewards)
        v = xnas.log_v["normal"].masked_fill(~before, -float("inf"))
        threshold = v.max(dim=1, keepdim=True).values - 2 * 0.5 * 1.0 * (5 - step)
        assert torch.equal(xnas.active["normal"], before & (v >= threshold))
    assert xnas.active["normal"].sum(dim=1).tolist() == [1] * 14  # at t = T only the best survives


def test_an_op_that_is_always_best_is_never_wiped() -> None:
    xnas = Xnas(get_space("darts"), XnasConfig(eta=2.0, epochs=2, steps_per_epoch=10))
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        rewards = {c: torch.rand(14, 8, generator=gen) * 2 - 1 for c in ("normal", "reduce")}
        for r in rewards.values():
            r[:, SKIP] = 1.0
        xnas.update(rewards)
        assert all(bool(m[:, SKIP].all()) for m in xnas.active.values())
    assert xnas.surviving() == 28  # one op left per edge: the best one
    assert xnas.derive().normal == tuple((op, j) for op, j in xnas.derive().normal if op == "skip_connect")
    assert len(xnas.survivors) == 2 and xnas.survivors[-1]["normal"] == [1] * 14  # logged once per epoch


class CallCounter:
    def __init__(self, net: nn.Module) -> None:
        self.calls: dict[tuple[int, int, str], int] = {}
        cells = [m for m in net.modules() if isinstance(m, SearchCell)]
        for i, cell in enumerate(cells):
            for e, edge in enumerate(cell.edges):
                assert isinstance(edge, nn.ModuleDict)
                for name, op in edge.items():
                    op.register_forward_hook(self._hook((i, e, name)))
        self.reductions = [cell.reduction for cell in cells]

    def _hook(self, key: tuple[int, int, str]):  # type: ignore[no-untyped-def]
        def hook(*_: object) -> None:
            self.calls[key] = self.calls.get(key, 0) + 1
        return hook


def test_a_wiped_op_never_runs_again_and_never_returns() -> None:
    net = tiny_net()
    counter = CallCounter(net)
    xnas = Xnas(get_space("darts"), XnasConfig(epochs=1, steps_per_epoch=2), seed=0)
    opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    masks = []
    for step in range(4):
        counter.calls.clear()
        xnas.step(net, opt, batch(2 * step), batch(2 * step + 1))
        masks.append({c: m.clone() for c, m in xnas.active.items()})
        if step >= 1:
            for i, e, name in counter.calls:
                cell = "reduce" if counter.reductions[i] else "normal"
                assert masks[-2][cell][e, PRIMITIVES.index(name)], f"wiped op {name} ran on edge {e}"
    for earlier, later in zip(masks, masks[1:]):
        assert all(bool((later[c] <= earlier[c]).all()) for c in earlier)
    assert xnas.surviving() == 28 and xnas.epoch_metrics()["surviving_ops"] == 28.0


def test_steps_are_deterministic_state_round_trips_and_survivors_plot(tmp_path: Path) -> None:
    runs = []
    for _ in range(2):
        net, xnas = tiny_net(), create_strategy("xnas", get_space("darts"), XnasConfig(epochs=2, steps_per_epoch=1), 3)
        opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        runs.append(([xnas.step(net, opt, batch(1), batch(2)) for _ in range(2)], xnas))
    assert runs[0][0] == runs[1][0]
    a = runs[0][1]
    assert isinstance(a, Xnas)
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    b = Xnas(get_space("darts"), XnasConfig(epochs=2, steps_per_epoch=1))
    b.load_state_dict(torch.load(buffer, weights_only=True))
    assert all(torch.equal(a.log_v[c], b.log_v[c]) and torch.equal(a.active[c], b.active[c]) for c in a.log_v)
    assert isinstance(b.derive(), Genotype) and b.derive() == a.derive() and b.survivors == a.survivors
    record = b.outputs()["xnas_survivors"]
    assert len(record["epochs"]) == 2 and len(record["epochs"][0]["normal"]) == 14
    path = plot_survivors(record, tmp_path / "survivors.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class SkipHelps(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor, arch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.linear(x) + 0.2 * arch["normal"][:, SKIP].sum() * torch.tensor([1.0, 0.0, 0.0])


def test_experts_favour_the_op_that_lowers_the_search_loss() -> None:
    xnas = Xnas(get_space("darts"), XnasConfig(eta=5.0, epochs=1, steps_per_epoch=100))
    net = SkipHelps()
    opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    data = (torch.randn(8, 4, generator=torch.Generator().manual_seed(0)), torch.zeros(8, dtype=torch.long))
    for _ in range(10):
        xnas.step(net, opt, data, data)
    assert (xnas.log_v["normal"].argmax(dim=1) == SKIP).all()
    assert xnas.epoch_metrics()["skip_connections"] == 8.0
