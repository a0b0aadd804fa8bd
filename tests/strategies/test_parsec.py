from __future__ import annotations

import pytest
import torch

from parsecnas.nets import SuperNet
from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.spaces import get_space
from parsecnas.strategies import Parsec, ParsecConfig, effective_sample_size, importance_weights
from parsecnas.strategies.parsec import batch_log_likelihood


def test_importance_weights_are_the_softmax_and_survive_huge_gaps() -> None:
    ll = torch.tensor([-10.0, -12.0, -11.0])
    assert torch.allclose(importance_weights(ll), torch.exp(ll) / torch.exp(ll).sum())
    w = importance_weights(torch.tensor([-1000.0, -6000.0, -3500.0, -1001.0]))
    assert torch.isfinite(w).all()
    e = torch.exp(torch.tensor(-1.0))
    assert torch.allclose(w, torch.stack([1 / (1 + e), torch.tensor(0.0), torch.tensor(0.0), e / (1 + e)]))
    assert abs(effective_sample_size(torch.full((8,), 1 / 8)) - 8) < 1e-5


def test_distribution_concentrates_on_the_best_choice() -> None:
    space = get_space("darts")
    parsec = Parsec(space, ParsecConfig(samples=8, arch_lr=0.05, preset="paper"), seed=0)
    h0 = parsec.epoch_metrics()["entropy"]
    for _ in range(300):
        choices, _ = parsec.sample()
        # synthetic likelihood: the search batch fits 20 nats better when normal node 0 slot 0 takes choice 4
        ll = 20.0 * (choices[:, 0] == 4).float()
        parsec.update_distribution(choices, importance_weights(ll))
    probs = parsec.distribution.probs().detach()[0]
    assert int(probs.argmax()) == 4 and float(probs[4]) > 0.9
    assert parsec.epoch_metrics()["entropy"] < h0 - 1.0
    assert parsec.derive().normal[0] == ("sep_conv_5x5", 0)  # choice 4 = input 0, 5th non-zero op


def test_uniform_likelihood_leaves_pi_unchanged_in_expectation() -> None:
    parsec = Parsec(get_space("darts"), ParsecConfig(samples=8), seed=1)
    dist = parsec.distribution
    grads = []
    for _ in range(2000):
        choices, _ = parsec.sample()
        dist.zero_grad()
        (-(importance_weights(torch.zeros(8)) * dist.log_prob(choices)).sum()).backward()
        grads.append(dist.logits.grad.clone())
    g = torch.stack(grads)
    mean, sem = g.mean(0), g.std(0) / len(grads) ** 0.5 + 1e-12
    assert (mean.abs() < 5 * sem + 1e-7).all()  # zero within five standard errors everywhere
    assert float(g.std(0).max()) > 0.01  # single draws do move it


class RecordingOptimizer(WeightOptimizer):
    def step(self) -> float:
        self.recorded = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in self.params]
        return super().step()


def test_weight_gradient_is_the_importance_weighted_sum_of_per_sample_gradients() -> None:
    torch.manual_seed(0)
    net = SuperNet(num_cells=3, channels=4, num_classes=3).double()
    space = get_space("darts")
    train = (torch.randn(6, 3, 32, 32, dtype=torch.double), torch.randint(0, 3, (6,)))
    search = (torch.randn(6, 3, 32, 32, dtype=torch.double), torch.randint(0, 3, (6,)))
    parsec = Parsec(space, ParsecConfig(samples=4, preset="paper"), seed=3)
    opt = RecordingOptimizer(net.parameters(), WeightOptimConfig(grad_clip=1e9), epochs=1)
    params = list(opt.params)
    before = [p.detach().clone() for p in params]
    _, archs = Parsec(space, ParsecConfig(samples=4, preset="paper"), seed=3).sample()  # the same draws
    parsec.step(net, opt, train, search)
    with torch.no_grad():
        for p, b in zip(params, before):
            p.copy_(b)
        w = importance_weights(torch.stack([batch_log_likelihood(net, a, search) for a in archs]))
    expected = [torch.zeros_like(p) for p in params]
    for k, arch in enumerate(archs):
        grads = torch.autograd.grad(torch.nn.functional.cross_entropy(net(train[0], arch), train[1]), params,
                                    allow_unused=True)
        for e, g in zip(expected, grads):
            if g is not None:
                e += w[k] * g
    assert all(torch.allclose(r, e, atol=1e-10) for r, e in zip(opt.recorded, expected))
    assert any(float(r.abs().sum()) > 0 for r in opt.recorded)


def test_state_dict_round_trip_reproduces_samples() -> None:
    space = get_space("darts")
    a = Parsec(space, ParsecConfig(samples=4), seed=5)
    a.update_distribution(*[a.sample()[0], torch.tensor([1.0, 0, 0, 0])])
    b = Parsec(space, ParsecConfig(samples=4), seed=99)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.sample()[0], b.sample()[0])
    assert a.derive() == b.derive()


def test_warmup_trains_weights_but_leaves_pi_alone() -> None:
    torch.manual_seed(0)
    net = SuperNet(num_cells=3, channels=4, num_classes=3)
    parsec = Parsec(get_space("darts"), ParsecConfig(samples=2, warmup_steps=2, preset="paper"), seed=0)
    opt = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    batch = (torch.randn(4, 3, 32, 32), torch.randint(0, 3, (4,)))
    before = [p.detach().clone() for p in net.parameters()]
    for _ in range(2):
        stats = parsec.step(net, opt, batch, batch)
        assert stats["ess"] == pytest.approx(2.0) and "search_nll" not in stats
    assert torch.equal(parsec.distribution.logits, torch.zeros_like(parsec.distribution.logits))
    assert any(not torch.equal(p, b) for p, b in zip(net.parameters(), before))
    parsec.step(net, opt, batch, batch)
    assert not torch.equal(parsec.distribution.logits, torch.zeros_like(parsec.distribution.logits))
