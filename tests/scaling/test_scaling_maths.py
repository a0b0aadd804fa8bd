"""Compound scaling's maths: the feasible grid, the rounding rules, and multiply-adds of networks scaled along one
axis, where they follow exactly from how each layer's cost depends on depth, width and resolution."""

from __future__ import annotations

import itertools
import math

import pytest

from parsecnas.nets.cells import cell_plan
from parsecnas.scaling import Coefficients, Dims, GenotypeNet, Rounding, feasible_grid, phis, round_to_multiple
from parsecnas.scaling.genotype import stage_cells
from parsecnas.spaces import resolve_genotype
from parsecnas.train import TrainConfig

VALUES = (1.0, 1.05, 1.1, 1.2, 1.3, 1.4, 1.6, 2.0)


def net(num_cells: int = 8, channels: int = 8, image_size: int = 16, **fields: object) -> GenotypeNet:
    config = TrainConfig(dataset="fashion-mnist-small", num_cells=num_cells, channels=channels,
                         image_size=image_size, **fields)
    return GenotypeNet(resolve_genotype("DARTS_V2"), config, "DARTS_V2")


def madds(n: GenotypeNet, depth: int, width: int, side: int) -> int:
    return n.cost(Dims(depth, width, side)).madds


def test_the_grid_holds_exactly_the_feasible_points_in_grid_order() -> None:
    grid = feasible_grid(VALUES, VALUES, VALUES, target=2.0, tolerance=0.05)
    expected = [(a, b, g) for a, b, g in itertools.product(VALUES, VALUES, VALUES)
                if abs(a * b * b * g * g / 2 - 1) <= 0.05]
    assert [(c.alpha, c.beta, c.gamma) for c in grid] == expected
    assert all(1.9 - 1e-9 <= c.product <= 2.1 + 1e-9 for c in grid)
    assert (1.2, 1.1, 1.2) in expected and (2.0, 1.0, 1.0) in expected and (1.0, 1.0, 1.0) not in expected


def test_an_infeasible_grid_or_a_shrinking_value_is_refused_naming_the_nearest() -> None:
    with pytest.raises(ValueError, match=r"nearest: 1.1 \* 1.1\^2 \* 1.1\^2 = 1.611"):
        feasible_grid((1.0, 1.1), (1.0, 1.1), (1.0, 1.1), tolerance=0.05)
    with pytest.raises(ValueError, match="betas must be a non-empty list of values >= 1"):
        feasible_grid((1.0, 2.0), (0.9, 1.0), (1.0,))


def test_multipliers_are_powers_of_the_coefficients_and_the_product_compounds() -> None:
    c = Coefficients(1.2, 1.1, 1.15)
    d, w, r = c.multipliers(3.0)
    assert (d, w, r) == pytest.approx((1.2 ** 3, 1.1 ** 3, 1.15 ** 3))
    assert d * w ** 2 * r ** 2 == pytest.approx(c.product ** 3)
    assert c.multipliers(0.0) == (1.0, 1.0, 1.0)
    assert phis(2.5) == [0.0, 1.0, 2.0, 2.5] and phis(0) == [0.0]


def test_rounding_is_to_the_nearest_multiple_never_below_ninety_percent() -> None:
    assert round_to_multiple(43.56, 4) == 44 and round_to_multiple(8.8, 4) == 8
    assert round_to_multiple(1.0, 4) == 4  # at least one divisor
    assert round_to_multiple(5.0, 4) == 8  # 4 would lose 20% of 5
    assert round_to_multiple(10.4, 8) == 16  # 8 would lose 23%


def test_depth_scales_the_normal_cells_per_stage_keeping_the_reductions_at_a_third_and_two_thirds() -> None:
    n = net(num_cells=8)  # m = 2 normal cells per stage
    for multiplier in (1.2, 1.5, 2.0, 3.7):
        cells = n.scaled(multiplier, 1.0, 1.0, Rounding()).depth
        m = stage_cells(cells)
        assert m == max(1, math.floor(2 * multiplier + 0.5))
        reductions = [i for i, spec in enumerate(cell_plan(cells, 8, 24)) if spec.reduction]
        assert reductions == [m, 2 * m + 1]  # three stages of m normal cells each
    with pytest.raises(ValueError, match=r"num_cells = 3m \+ 2 .* the nearest: 5 or 8"):
        net(num_cells=6).base()


def test_a_multiplier_of_one_leaves_its_axis_and_the_others_round_to_their_divisors() -> None:
    n = net(num_cells=8, channels=10, image_size=18)  # neither divisible by 4
    assert n.scaled(1.0, 1.0, 1.0, Rounding(4, 4)) == Dims(8, 10, 18)
    assert n.scaled(1.0, 1.3, 1.3, Rounding(4, 8)) == Dims(8, 12, 24)
    assert n.settings(Dims(11, 12, 24)) == {"num_cells": 11, "channels": 12, "image_size": 24}
    cropped = net(crop_size=16, image_size=None)  # the ImageNet protocol's knob is the crop side
    assert cropped.base().resolution == 16 and cropped.settings(Dims(8, 8, 20))["crop_size"] == 20
    with pytest.raises(ValueError, match="even number of channels"):
        n.scaled(1.0, 1.3, 1.0, Rounding(3, 4))


def test_resolution_scales_every_convolution_by_the_squared_ratio_exactly() -> None:
    n = net()
    classifier = 4 * 4 * 8 * 10  # DARTS_V2 concatenates 4 nodes of the last stage's 4C channels; 10 classes
    base = madds(n, 8, 8, 16)
    for side in (20, 24, 32):  # multiples of 4: both reductions halve exactly
        assert (madds(n, 8, 8, side) - classifier) * 16 ** 2 == (base - classifier) * side ** 2
    assert madds(n, 8, 8, 32) / base == pytest.approx(4.0, rel=0.002)  # phi = 2 of gamma = sqrt 2


def test_width_costs_a_quadratic_in_channels_without_a_constant_term() -> None:
    n = net()
    f = {c: madds(n, 8, c, 16) for c in (4, 8, 16)}
    assert f[16] - 6 * f[8] + 8 * f[4] == 0  # a C^2 + b C at C, 2C, 4C
    big = net(num_cells=8, channels=36, image_size=8)
    ratio = madds(big, 8, 72, 8) / madds(big, 8, 36, 8)  # phi = 2 of beta = sqrt 2
    assert 3.6 < ratio < 4.0  # below 4 by the depthwise and the classifier, linear in C


def test_depth_adds_the_same_multiply_adds_for_each_normal_cell_per_stage() -> None:
    n = net()
    f = {m: madds(n, 3 * m + 2, 8, 16) for m in (2, 3, 4, 6)}
    assert f[4] - f[3] == f[3] - f[2]
    assert (f[6] - f[4]) == 2 * (f[3] - f[2])
    big = net(num_cells=20, channels=16, image_size=8)
    ratio = madds(big, 38, 16, 8) / madds(big, 20, 16, 8)  # alpha = 2: twelve normal cells per stage
    assert 1.85 < ratio < 2.0  # the stem and the two reduction cells do not grow
