"""Partial training as an estimator: deterministic, better with more epochs, usable by black-box and
multi-fidelity search in any space."""

from __future__ import annotations

import pytest
import torch

from parsecnas.estimators import PartialTraining, PartialTrainingConfig, SuccessiveHalving
from parsecnas.spaces import get_space, sample_uniform
from parsecnas.strategies import create_blackbox, run_blackbox

TINY = PartialTrainingConfig(net={"num_cells": 3, "channels": 6}, steps_per_epoch=6, batch_size=32,
                             valid_examples=300)


def test_score_is_a_deterministic_validation_accuracy_that_grows_with_training() -> None:
    space = get_space("darts")
    est = PartialTraining(space, TINY)
    arch = sample_uniform(space, torch.Generator().manual_seed(0))
    short, again, longer = est(arch, 0.5), est(arch, 0.5), est(arch, 8)
    assert (short.score, short.steps) == (again.score, again.steps)
    assert (short.steps, longer.steps) == (3, 48)
    assert 0 <= short.score <= 1 and longer.score > short.score + 0.1
    assert longer.params_m > 0


def test_disjoint_train_and_validation_parts() -> None:
    est = PartialTraining(get_space("darts"), TINY)
    assert len(set(est._train_idx.tolist()) & set(est._valid_idx.tolist())) == 0
    assert len(est._valid_idx) == 300
    with pytest.raises(ValueError, match="valid_fraction"):
        PartialTrainingConfig(valid_fraction=1.0)


def test_blackbox_and_successive_halving_run_on_it_in_the_nb201_space() -> None:
    space = get_space("nb201")
    est = PartialTraining(space, PartialTrainingConfig(net={"num_cells": 1, "channels": 4}, steps_per_epoch=2,
                                                       batch_size=16, valid_examples=64))
    trajectory = run_blackbox(create_blackbox("random", space, seed=0), est, 3)
    assert len(trajectory.results) == 3 and all(0 <= r.score <= 1 for r in trajectory.results)
    candidates = [sample_uniform(space, torch.Generator().manual_seed(s)) for s in range(4)]
    result = SuccessiveHalving(fidelities=(0.5, 1.0), eta=2).run(candidates, est)
    assert result.best_arch in candidates and result.cost == pytest.approx(4 * 0.5 + 2 * 1.0)


def test_a_curve_stopping_rule_ends_a_run_that_cannot_beat_the_incumbent() -> None:
    from parsecnas.estimators.curves import CurveStopping

    space = get_space("darts")
    arch = sample_uniform(space, torch.Generator().manual_seed(0))
    full = PartialTraining(space, TINY, curve=True)(arch, 6)
    assert len(full.curve) == 6 and full.curve[-1] == full.score and full.stopped_at is None
    rule = CurveStopping(final_epoch=6, min_points=3)
    rule.observe(0.999)  # an incumbent no short run reaches
    stopped = PartialTraining(space, TINY, stopping=rule)(arch, 6)
    assert stopped.stopped_at == 3 and stopped.steps == 3 * TINY.steps_per_epoch
    assert stopped.curve == full.curve[:3]  # the same training up to the stop
    easy = CurveStopping(final_epoch=6, min_points=3)
    easy.observe(0.0)
    assert PartialTraining(space, TINY, stopping=easy)(arch, 6).stopped_at is None
