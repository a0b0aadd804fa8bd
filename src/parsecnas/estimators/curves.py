"""Learning-curve extrapolation (after Domhan, Springenberg & Hutter 2015): fit parametric curves to the first
epochs of a training run, predict the final accuracy with an uncertainty, and stop a run whose optimistic
prediction cannot beat the best so far.

Three families of accuracy y at epoch t, each fitted by least squares:

* ``pow3``: ``y = c - a t^(-alpha)`` (a power-law approach to the limit c);
* ``exp3``: ``y = c - a exp(-b t)`` (an exponential approach to c);
* ``loglinear``: ``y = a log(t) + b`` (no limit: the optimistic extrapolation).

The limit families are linear in log space once c is fixed (``log(c - y) = log a - alpha log t``), so each is
fitted exactly by a grid over c in (max y, 1] with a linear regression at each c, deterministic and with no
optimiser. The ensemble weighs the families by their Akaike weights, ``exp(-AIC / 2)``; its prediction at the
final epoch is the weighted mixture of the families' predictions, its variance the mixture's (each family's
residual variance plus the spread between the families). Accuracies are on the 0..1 scale and predictions are
clipped to it.

Example:
    >>> t = np.arange(1, 11)
    >>> curve = 0.9 - 0.5 * t ** -0.8
    >>> p = predict_final(curve[:5], 10)
    >>> bool(abs(p.mean - curve[-1]) < 0.02)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["FAMILIES", "CurveFit", "CurvePrediction", "CurveStopping", "fit_curve", "predict_final"]

FAMILIES = ("pow3", "exp3", "loglinear")
_GRID = 200  # candidate limits c between max(y) and 1


@dataclass(frozen=True)
class CurveFit:
    """One family fitted to a curve.

    Attributes:
        family: ``pow3``, ``exp3`` or ``loglinear``.
        params: its parameters (``c, a, alpha`` / ``c, a, b`` / ``a, b``).
        sse: sum of squared residuals over the observed epochs.
        n: number of observed epochs.
    """

    family: str
    params: tuple[float, ...]
    sse: float
    n: int

    def __call__(self, t: float | np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if self.family == "pow3":
            c, a, alpha = self.params
            return c - a * t ** (-alpha)
        if self.family == "exp3":
            c, a, b = self.params
            return c - a * np.exp(-b * t)
        a, b = self.params
        return a * np.log(t) + b

    @property
    def variance(self) -> float:
        """Residual variance (with the degrees of freedom the fit used), floored so a perfect fit still has
        an uncertainty."""
        dof = max(1, self.n - len(self.params))
        return max(self.sse / dof, 1e-6)

    @property
    def aic(self) -> float:
        """Akaike's criterion of a least-squares fit with Gaussian residuals."""
        return self.n * math.log(max(self.sse, 1e-12) / self.n) + 2 * len(self.params)


@dataclass(frozen=True)
class CurvePrediction:
    """The ensemble's prediction of the accuracy at ``epoch``.

    Attributes:
        epoch: the epoch predicted.
        mean: the mixture mean, clipped to [0, 1].
        std: the mixture standard deviation.
        weights: each family's weight in the mixture.
        fits: the fitted families.
    """

    epoch: float
    mean: float
    std: float
    weights: dict[str, float]
    fits: tuple[CurveFit, ...]

    def optimistic(self, z: float = 1.645) -> float:
        """``mean + z * std`` (z = 1.645: the 95% one-sided upper bound), clipped to 1."""
        return min(1.0, self.mean + z * self.std)


def _linear(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares slope, intercept and SSE of y on x."""
    design = np.stack([x, np.ones_like(x)], axis=1)
    (slope, intercept), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(slope), float(intercept), float(((design @ np.array([slope, intercept]) - y) ** 2).sum())


def fit_curve(curve: Sequence[float], family: str, epochs: Sequence[float] | None = None) -> CurveFit:
    """Fits ``family`` to accuracies ``curve`` observed at ``epochs`` (1, 2, ... by default).

    Raises:
        ValueError: an unknown family, fewer than 3 points, or epochs not positive.
    """
    y = np.asarray(curve, dtype=float)
    t = np.arange(1, len(y) + 1, dtype=float) if epochs is None else np.asarray(epochs, dtype=float)
    if family not in FAMILIES:
        raise ValueError(f"unknown curve family {family!r}; valid: {', '.join(FAMILIES)}")
    if len(y) < 3 or len(t) != len(y) or not np.all(np.isfinite(y)) or np.any(t <= 0):
        raise ValueError(f"a curve fit needs >= 3 finite accuracies at positive epochs, got {len(y)} points")
    if family == "loglinear":
        a, b, sse = _linear(np.log(t), y)
        return CurveFit(family, (a, b), sse, len(y))
    x = np.log(t) if family == "pow3" else t
    best: CurveFit | None = None
    top = float(y.max())
    for c in np.linspace(top + 1e-4, max(1.0, top + 2e-4), _GRID):
        slope, intercept, _ = _linear(x, np.log(c - y))
        a, rate = math.exp(intercept), -slope
        if rate <= 0:  # a curve falling away from its limit is no approach to it
            continue
        fit = CurveFit(family, (float(c), a, rate), 0.0, len(y))
        fit = CurveFit(family, fit.params, float(((fit(t) - y) ** 2).sum()), len(y))
        if best is None or fit.sse < best.sse:
            best = fit
    if best is None:  # a curve that never rises: the flat limit at its mean
        level = float(y.mean())
        return CurveFit(family, (level, 0.0, 1.0), float(((y - level) ** 2).sum()), len(y))
    return best


def predict_final(curve: Sequence[float], final_epoch: float, epochs: Sequence[float] | None = None,
                  families: Sequence[str] = FAMILIES) -> CurvePrediction:
    """The ensemble's prediction of the accuracy at ``final_epoch`` from the observed ``curve``."""
    fits = tuple(fit_curve(curve, f, epochs) for f in families)
    aic = np.array([f.aic for f in fits])
    w = np.exp(-(aic - aic.min()) / 2)
    w = w / w.sum()
    means = np.array([float(np.clip(f(final_epoch), 0.0, 1.0)) for f in fits])
    variances = np.array([f.variance for f in fits])
    mean = float((w * means).sum())
    std = math.sqrt(float((w * (variances + (means - mean) ** 2)).sum()))
    return CurvePrediction(float(final_epoch), mean, std, {f.family: float(x) for f, x in zip(fits, w)}, fits)


class CurveStopping:
    """Stops a run when its optimistic prediction of the final accuracy cannot beat the incumbent's.

    Args:
        final_epoch: the epoch the run would end at.
        min_points: observed epochs before any prediction is trusted (>= 3).
        z: the optimism, in standard deviations (1.645: stop when P(final > incumbent) < 5% under the
            normal approximation).
    """

    def __init__(self, final_epoch: float, min_points: int = 3, z: float = 1.645) -> None:
        if min_points < 3:
            raise ValueError(f"min_points must be >= 3 (a curve fit needs 3 points), got {min_points}")
        self.final_epoch, self.min_points, self.z = float(final_epoch), int(min_points), float(z)
        self.incumbent = -math.inf

    def should_stop(self, curve: Sequence[float]) -> bool:
        """Whether the run with accuracies ``curve`` so far should stop now."""
        if len(curve) < self.min_points or not math.isfinite(self.incumbent):
            return False
        return predict_final(curve, self.final_epoch).optimistic(self.z) < self.incumbent

    def observe(self, final_accuracy: float) -> None:
        """A finished run's final accuracy (the incumbent is the best of them)."""
        self.incumbent = max(self.incumbent, float(final_accuracy))
