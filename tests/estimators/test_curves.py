"""Learning-curve extrapolation: synthetic curves with known limits are predicted, the right family wins, and
the stopping rule ends only runs that cannot beat the incumbent."""

from __future__ import annotations

import numpy as np
import pytest

from parsecnas.estimators.curves import CurveStopping, fit_curve, predict_final

T = np.arange(1, 41, dtype=float)


@pytest.mark.parametrize(("family", "truth"), [("pow3", 0.92 - 0.6 * T ** -0.7),
                                               ("exp3", 0.85 - 0.5 * np.exp(-0.15 * T)),
                                               ("loglinear", 0.05 * np.log(T) + 0.5)])
def test_each_family_recovers_its_own_clean_curve(family, truth) -> None:
    fit = fit_curve(truth[:10], family)
    assert fit.sse < 1e-5
    assert float(fit(40.0)) == pytest.approx(truth[-1], abs=0.01)
    if family != "loglinear":
        assert fit.params[0] > truth[:10].max()  # the limit lies above the data
        assert fit.params[0] == pytest.approx({"pow3": 0.92, "exp3": 0.85}[family], abs=0.01)


def test_the_ensemble_predicts_a_noisy_curve_within_its_uncertainty() -> None:
    rng = np.random.default_rng(0)
    truth = 0.9 - 0.55 * T ** -0.6
    inside = 0
    for _ in range(40):
        noisy = truth[:10] + rng.normal(0, 0.01, 10)
        p = predict_final(noisy, 40)
        assert abs(sum(p.weights.values()) - 1) < 1e-9
        inside += abs(p.mean - truth[-1]) <= 2 * p.std
    assert inside >= 30  # about 95% expected within 2 standard deviations; the families are misspecified


def test_the_true_family_gets_most_weight_on_clean_data() -> None:
    p = predict_final(0.8 - 0.5 * np.exp(-0.3 * T[:12]), 40)
    assert max(p.weights, key=p.weights.get) == "exp3"


def test_the_stopping_rule_ends_only_hopeless_runs() -> None:
    rule = CurveStopping(final_epoch=40, min_points=4)
    good, poor = 0.95 - 0.6 * T ** -0.5, 0.6 - 0.3 * T ** -0.5
    assert not rule.should_stop(poor[:10])  # no incumbent yet
    rule.observe(float(good[-1]))
    assert not rule.should_stop(poor[:3])  # too few points to trust
    assert rule.should_stop(poor[:6]) and not rule.should_stop(good[:6])
    with pytest.raises(ValueError, match="min_points must be >= 3"):
        CurveStopping(10, min_points=2)


def test_bad_curves_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown curve family"):
        fit_curve([0.1, 0.2, 0.3], "cubic")
    with pytest.raises(ValueError, match=">= 3 finite accuracies"):
        fit_curve([0.1, 0.2], "pow3")
    with pytest.raises(ValueError, match=">= 3 finite accuracies"):
        fit_curve([0.1, float("nan"), 0.3], "pow3")
