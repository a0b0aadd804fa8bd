"""SPOS: uniform single-path training, then evolution over the shared weights that finds a known best."""

from __future__ import annotations

import pytest
import torch
from _known_best import KnownBest, batch

from parsecnas.data import Loader, LoaderConfig
from parsecnas.estimators.supernet import SupernetEstimator
from parsecnas.evaluation import evaluate
from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.spaces import get_space
from parsecnas.strategies import Spos, SposConfig


def test_the_weights_train_on_uniform_paths_then_freeze_while_evolution_searches() -> None:
    space = get_space("nb201")
    net = KnownBest(space)
    spos = Spos(space, SposConfig(epochs=4, steps_per_epoch=50, search_fraction=0.5, candidates_per_step=2), seed=0)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(lr=0.1), epochs=4)
    for _ in range(100):
        assert set(spos.step(net, weights, batch(), batch())) == {"loss", "grad_norm"}
    trained = [space.to_choices(a) for a in net.calls]
    counts = torch.bincount(torch.tensor(trained).flatten(), minlength=5).float()
    assert counts.min() > 0.6 * counts.mean()  # every op trained about equally often: uniform paths
    frozen = net.bias.detach().clone()
    for _ in range(100):
        stats = spos.step(net, weights, batch(), batch())
    assert torch.equal(net.bias, frozen) and stats["best_score"] == 1.0
    assert list(space.to_choices(spos.derive())) == [0] * len(space.decisions)  # the known best, found
    assert len(spos.evolution.history_) == 200


def test_before_the_search_phase_the_derived_architecture_is_fixed() -> None:
    space = get_space("nb201")
    spos = Spos(space, SposConfig(epochs=1, steps_per_epoch=10), seed=3)
    first = spos.derive()
    net = KnownBest(space)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    for _ in range(spos.config.training_steps):
        spos.step(net, weights, batch(), batch())
        assert spos.derive() == first
    assert spos.searching


def test_config_is_checked() -> None:
    for bad in ({"search_fraction": 0.0}, {"search_fraction": 1.0}, {"candidates_per_step": 0},
                {"population_size": 2, "sample_size": 3}, {"search_fraction": float("nan")}):
        with pytest.raises(ValueError):
            SposConfig(**bad)


def test_the_supernet_estimator_is_the_held_out_accuracy_with_shared_weights() -> None:
    space = get_space("nb201")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = space.supernet(num_cells=1, channels=4, num_classes=3)
    gen = torch.Generator().manual_seed(0)
    images, labels = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8, generator=gen), torch.arange(40) % 3
    loader = Loader(images, labels, (0.5,) * 3, (0.25,) * 3, LoaderConfig.for_evaluation(16))
    arch = space.from_choices([1, 2, 3, 4, 1, 2])
    assert SupernetEstimator(net, loader)(arch) == evaluate(net, loader, arch=arch)["top1"]
    first = SupernetEstimator(net, loader, batches=1)(arch)
    x, y = next(iter(loader))
    with torch.no_grad():
        assert first == float((net(x, arch).argmax(1) == y).float().mean())
    with pytest.raises(ValueError, match="batches must be >= 1"):
        SupernetEstimator(net, loader, batches=0)
