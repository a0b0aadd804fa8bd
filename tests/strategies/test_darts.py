from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from parsecnas.nets import SuperNet, training_loss
from parsecnas.ops import PRIMITIVES
from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.spaces import Genotype, get_space
from parsecnas.strategies.base import create_strategy
from parsecnas.strategies.darts import (
    Darts,
    DartsConfig,
    finite_difference_hvp,
    shrink,
    unrolled_arch_gradient,
    zero_one_loss,
)

SKIP = PRIMITIVES.index("skip_connect")


def tiny_net(seed: int = 0, dtype: torch.dtype = torch.float32, channels: int = 4) -> SuperNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SuperNet(num_cells=3, channels=channels, num_classes=3).to(dtype)


def batch(seed: int, size: int = 4, side: int = 16, dtype: torch.dtype = torch.float32
          ) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(size, 3, side, side, generator=gen, dtype=dtype), torch.randint(0, 3, (size,), generator=gen)


def double_alphas(seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [(0.5 * torch.randn(14, 8, generator=gen, dtype=torch.double)).requires_grad_() for _ in range(2)]


def mixture(alphas: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"normal": alphas[0].softmax(-1), "reduce": alphas[1].softmax(-1)}


class SkipHelps(nn.Module):
    """A toy 'network' whose loss falls as the normal cells' skip-connection weights grow (labels are all 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor, arch: dict[str, torch.Tensor]) -> torch.Tensor:
        bonus = 0.2 * arch["normal"][:, SKIP].sum()
        return self.linear(x) + bonus * torch.tensor([1.0, 0.0, 0.0])


def toy_batch() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(8, 4, generator=torch.Generator().manual_seed(0)), torch.zeros(8, dtype=torch.long)


def test_finite_difference_matches_the_exact_hessian_vector_product() -> None:
    net, data = tiny_net(dtype=torch.double, channels=2), batch(1, side=8, dtype=torch.double)
    params, alphas = list(net.parameters()), double_alphas(2)
    gen = torch.Generator().manual_seed(3)
    vector = [torch.randn(p.shape, generator=gen, dtype=torch.double) for p in params]

    def loss() -> torch.Tensor:
        return training_loss(net, mixture(alphas), data)

    grads = torch.autograd.grad(loss(), params, create_graph=True)
    exact = torch.autograd.grad(sum((g * v).sum() for g, v in zip(grads, vector)), alphas)
    # r well below the distance to the nearest ReLU / max-pool kink of this tiny net (float64 allows it)
    approx = finite_difference_hvp(loss, params, alphas, vector, r=1e-6)
    for a, e in zip(approx, exact):
        assert torch.allclose(a, e, rtol=1e-6, atol=1e-8)


class Smooth(nn.Module):
    """A smooth (tanh) stand-in for a network, mixing weights scaling its hidden units."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden, self.out = nn.Linear(4, 8), nn.Linear(8, 3)

    def forward(self, x: torch.Tensor, arch: dict[str, torch.Tensor]) -> torch.Tensor:
        scale = arch["normal"].sum(0) + arch["reduce"][:8, 1]
        return self.out(torch.tanh(self.hidden(x) * scale))


def test_finite_difference_with_the_papers_step_is_accurate_on_a_smooth_loss() -> None:
    with torch.random.fork_rng(devices=[]):  # fixed weights: the test must not depend on earlier tests' RNG use
        torch.manual_seed(1)
        net = Smooth().double()
    params, alphas = list(net.parameters()), double_alphas(2)
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(1), dtype=torch.double)
    y = torch.arange(16) % 3

    def loss() -> torch.Tensor:
        return F.cross_entropy(net(x, mixture(alphas)), y)

    vector = list(torch.autograd.grad(loss(), params))
    grads = torch.autograd.grad(loss(), params, create_graph=True)
    exact = torch.autograd.grad(sum((g * v).sum() for g, v in zip(grads, vector)), alphas)
    approx = finite_difference_hvp(loss, params, alphas, vector)  # r = 0.01, as in the paper
    scale = max(float(e.abs().max()) for e in exact)
    error = max(float((a - e).abs().max()) for a, e in zip(approx, exact))
    assert error < 1e-3 * scale
    half = finite_difference_hvp(loss, params, alphas, vector, r=0.005)
    assert max(float((a - e).abs().max()) for a, e in zip(half, exact)) < error / 2.5  # O(r^2): about / 4


def test_second_order_gradient_matches_exact_unrolled_autograd() -> None:
    net = tiny_net(dtype=torch.double, channels=2)
    train, search = batch(1, side=8, dtype=torch.double), batch(2, side=8, dtype=torch.double)
    alphas, xi = double_alphas(4), 0.1
    names, params = zip(*net.named_parameters())
    gen = torch.Generator().manual_seed(5)
    offsets = [1e-2 * torch.randn(p.shape, generator=gen, dtype=torch.double) for p in params]
    before = [p.detach().clone() for p in params]

    def functional_loss(values: list[torch.Tensor], data: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(functional_call(net, dict(zip(names, values)), (data[0], mixture(alphas))), data[1])

    g = torch.autograd.grad(functional_loss(list(params), train), params, create_graph=True)
    unrolled = [p - xi * (gi + o) for p, gi, o in zip(params, g, offsets)]
    exact = torch.autograd.grad(functional_loss(unrolled, search), alphas)

    got, val = unrolled_arch_gradient(lambda: functional_loss(list(params), train),
                                      lambda: functional_loss(list(params), search),
                                      list(params), alphas, xi, offsets, r=1e-6)
    for a, e in zip(got, exact):
        assert torch.allclose(a, e, rtol=1e-6, atol=1e-8)
    assert abs(val - functional_loss(unrolled, search).item()) < 1e-10
    assert all(torch.equal(p, b) for p, b in zip(params, before))  # w restored exactly


def test_first_order_step_follows_the_search_loss_gradient() -> None:
    darts = Darts(get_space("darts"), DartsConfig(arch_weight_decay=0.0), seed=0)
    net = tiny_net()
    opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    search = batch(2)
    w = {c: a.softmax(-1) for c, a in darts.alpha.items()}
    expected = torch.autograd.grad(F.cross_entropy(net(search[0], w), search[1]), list(darts.alpha.values()))
    darts.arch_step(net, opt, batch(1), search)
    for a, e in zip(darts.alpha.values(), expected):
        assert torch.allclose(a.grad, e, atol=1e-7)


@pytest.mark.parametrize("config", [DartsConfig(order=1), DartsConfig(order=2),
                                    DartsConfig(relaxation="sigmoid", zero_one_weight=10.0)])
def test_steps_are_deterministic_and_state_dict_round_trips(config: DartsConfig) -> None:
    results = []
    for _ in range(2):
        net = tiny_net()
        darts = create_strategy("darts", get_space("darts"), config, seed=7)
        opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
        stats = [darts.step(net, opt, batch(1), batch(2)) for _ in range(2)]
        results.append((stats, darts))
    assert results[0][0] == results[1][0]
    a, b = results[0][1], results[1][1]
    assert isinstance(a, Darts) and isinstance(b, Darts)
    assert all(torch.equal(a.alpha[c], b.alpha[c]) for c in a.alpha)
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    fresh = Darts(get_space("darts"), config, seed=99)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert all(torch.equal(fresh.alpha[c], a.alpha[c]) for c in a.alpha)
    assert isinstance(fresh.derive(), Genotype) and fresh.derive() == a.derive()
    assert fresh.arch_optimizer.state_dict()["state"][0]["step"] == 2


def test_alpha_moves_toward_the_op_that_lowers_the_search_loss_and_darts_plus_stops() -> None:
    darts = Darts(get_space("darts"), DartsConfig(arch_lr=0.05, stop_skip_connections=2), seed=0)
    net = SkipHelps()
    opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    assert not darts.should_stop()
    for _ in range(20):
        darts.step(net, opt, toy_batch(), toy_batch())
    assert (darts.alpha["normal"].argmax(dim=1) == SKIP).all()
    assert darts.epoch_metrics()["skip_connections"] == 8.0
    assert darts.should_stop()


def test_fair_darts_sigmoid_weights_are_independent_and_zero_one_loss_pushes_to_the_ends() -> None:
    alpha = torch.tensor([-1.0, 0.1, 2.0], requires_grad=True)
    zero_one_loss([alpha]).backward()
    assert alpha.grad[0] > 0 and alpha.grad[1] < 0 and alpha.grad[2] < 0  # descent moves away from 0
    darts = Darts(get_space("darts"), DartsConfig(relaxation="sigmoid", zero_one_weight=10.0, arch_lr=0.05), seed=0)
    net = SkipHelps()
    opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    for _ in range(20):
        darts.step(net, opt, toy_batch(), toy_batch())
    w = darts.weights()["normal"].detach()
    assert (w[:, SKIP] > 0.6).all() and float(w.sum(dim=1).max()) > 1.0  # not normalised per edge


def test_progressive_shrinking_keeps_the_strongest_ops_per_edge() -> None:
    weights = torch.tensor([[0.1, 0.5, 0.2, 0.9, 0.3, 0.0, 0.4, 0.6]]).repeat(14, 1)
    active = torch.ones(14, 8, dtype=torch.bool)
    active[:, 3] = False
    kept = shrink(weights, active, 3)
    assert kept[0].nonzero().flatten().tolist() == [1, 6, 7]
    config = DartsConfig(shrink_epochs=(1, 2), shrink_keep=(5, 3), steps_per_epoch=2)
    darts = Darts(get_space("darts"), config, seed=0)
    net = SkipHelps()
    opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    counts = []
    for _ in range(5):
        darts.step(net, opt, toy_batch(), toy_batch())
        counts.append(int(darts.active["normal"].sum(dim=1).max()))
    assert counts == [8, 8, 5, 5, 3]
    assert float(darts.weights()["normal"].detach()[~darts.active["normal"]].abs().max()) == 0.0


def test_config_rejects_bad_values_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        DartsConfig(order=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one entry each"):
        DartsConfig(shrink_epochs=(1,), shrink_keep=())
    with pytest.raises(ValueError, match="2..8"):
        DartsConfig(shrink_epochs=(1,), shrink_keep=(1,))
