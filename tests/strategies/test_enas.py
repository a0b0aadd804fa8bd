"""ENAS: the controller is a normalised autoregressive distribution whose log-probabilities are those of its
samples, and REINFORCE on a synthetic reward concentrates it on the known best architecture."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from _known_best import KnownBest, batch

from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.spaces import get_space
from parsecnas.strategies import Controller, Enas, EnasConfig


def test_log_probabilities_are_those_of_the_sampled_sequence_and_sum_to_one() -> None:
    torch.manual_seed(0)
    controller = Controller([2, 3, 2], hidden=6, temperature=0.5, tanh_constant=0.0)
    with torch.no_grad():
        every = itertools.product(range(2), range(3), range(2))
        total = sum(math.exp(float(controller(list(seq))[1])) for seq in every)
    assert total == pytest.approx(1.0, abs=1e-5)
    gen = torch.Generator().manual_seed(1)
    counts: dict[tuple[int, ...], int] = {}
    n = 4000
    for _ in range(n):
        choices, log_p, _ = controller(generator=gen)
        assert torch.allclose(controller(choices)[1], log_p)  # teacher-forced = sampled
        counts[tuple(choices)] = counts.get(tuple(choices), 0) + 1
    with torch.no_grad():
        for seq, seen in counts.items():
            p = math.exp(float(controller(list(seq))[1]))
            assert abs(seen / n - p) < 5 * math.sqrt(p * (1 - p) / n) + 1e-3  # sampling follows log_prob


def test_logits_are_bounded_by_the_tanh_constant() -> None:
    controller = Controller([5], hidden=4, temperature=5.0, tanh_constant=2.5)
    with torch.no_grad():
        for p in controller.heads[0].parameters():
            p.fill_(100.0)
        h = torch.ones(1, 4)
        assert controller.logits(h, 0).abs().max() <= 2.5


def test_reinforce_concentrates_on_the_best_architecture() -> None:
    space = get_space("nb201")
    net = KnownBest(space)
    enas = Enas(space, EnasConfig(controller_lr=0.02, entropy_weight=0.0, baseline_decay=0.9, controller_samples=2,
                                  epochs=1, steps_per_epoch=400), seed=0)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    start = enas.epoch_metrics()
    for _ in range(400):
        enas.step(net, weights, batch(), batch())
    assert list(space.to_choices(enas.derive())) == [0] * len(space.decisions)
    end = enas.epoch_metrics()
    assert end["entropy"] < 0.5 * start["entropy"] and end["greedy_log_prob"] > math.log(0.5)


def test_warm_up_trains_weights_only_and_the_config_is_checked() -> None:
    space = get_space("nb201")
    enas = Enas(space, EnasConfig(warmup_fraction=0.5, epochs=1, steps_per_epoch=4), seed=0)
    net = KnownBest(space)
    weights = WeightOptimizer(net.parameters(), WeightOptimConfig(), epochs=1)
    keys = [set(enas.step(net, weights, batch(), batch())) for _ in range(4)]
    assert keys[0] == keys[1] == {"loss", "grad_norm"} and "reward" in keys[2] and "reward" in keys[3]
    for bad in ({"controller_lr": 0.0}, {"baseline_decay": 1.0}, {"controller_every": 0}, {"hidden": 0},
                {"warmup_fraction": 1.0}, {"temperature": float("inf")}):
        with pytest.raises(ValueError):
            EnasConfig(**bad)
