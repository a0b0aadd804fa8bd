"""Zero-cost proxies: finite, deterministic, side-effect free, and consistent with their definitions."""

from __future__ import annotations

import math

import pytest
import torch

from parsecnas.estimators.proxies import PROXIES, build_seeded, compute_proxies
from parsecnas.spaces import get_space, sample_uniform
from parsecnas.spaces.nb201 import NB201Space

OPTIONS = {"num_cells": 1, "channels": 4, "num_classes": 10, "auxiliary": False}


def batch(seed: int = 0, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 16, 16, generator=gen), torch.randint(10, (n,), generator=gen)


@pytest.fixture(scope="module")
def nb201_net() -> torch.nn.Module:
    space = NB201Space()
    return build_seeded(space, space.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+"
                                           "|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|"), 0, **OPTIONS)


@pytest.mark.parametrize("space_name", ["nb201", "darts"])
def test_every_proxy_is_finite_and_deterministic(space_name: str) -> None:
    import parsecnas.spaces.nb201  # noqa: F401 - registers the space

    space = get_space(space_name)
    arch = sample_uniform(space, torch.Generator().manual_seed(1))
    options = OPTIONS if space_name == "nb201" else {**OPTIONS, "num_cells": 3}
    x, y = batch()
    first = compute_proxies(build_seeded(space, arch, 3, **options), x, y, seed=5)
    again = compute_proxies(build_seeded(space, arch, 3, **options), x, y, seed=5)
    assert set(first) == set(PROXIES)
    assert all(math.isfinite(v) for v in first.values()), first
    assert first == again


def test_proxies_leave_the_callers_network_untouched(nb201_net: torch.nn.Module) -> None:
    before = {k: v.clone() for k, v in nb201_net.state_dict().items()}
    compute_proxies(nb201_net, *batch())
    assert all(torch.equal(before[k], v) for k, v in nb201_net.state_dict().items())
    assert all(p.grad is None for p in nb201_net.parameters())


def test_synflow_ignores_the_content_of_the_batch(nb201_net: torch.nn.Module) -> None:
    a = compute_proxies(nb201_net, *batch(0), names=["synflow"])
    b = compute_proxies(nb201_net, *batch(1), names=["synflow"])
    assert a == b and a["synflow"] > 0


def test_a_cell_of_none_ops_cuts_input_from_output() -> None:
    space = NB201Space()
    net = build_seeded(space, space.from_choices([0] * 6), 0, **OPTIONS)
    scores = compute_proxies(net, *batch())
    # no path from the input to the logits: no weight upstream of a none cell receives gradient or flow ...
    assert scores["synflow"] == scores["snip"] == scores["grad_norm"] == 0.0
    # ... every example gets the same activation codes and a constant Jacobian
    assert scores["naswot"] == scores["jacob_cov"] == -math.inf


def test_naswot_kernel_is_singular_when_two_examples_coincide(nb201_net: torch.nn.Module) -> None:
    x, y = batch()
    assert math.isfinite(compute_proxies(nb201_net, x, y, names=["naswot"])["naswot"])
    x[1] = x[0]
    assert compute_proxies(nb201_net, x, y, names=["naswot"])["naswot"] == -math.inf


def test_zen_depends_on_the_seed_only_through_its_gaussian_draws(nb201_net: torch.nn.Module) -> None:
    x, y = batch()
    a, b = (compute_proxies(nb201_net, x, y, names=["zen"], seed=s)["zen"] for s in (0, 1))
    assert a != b
    assert a == compute_proxies(nb201_net, x * 0, y, names=["zen"], seed=0)["zen"]  # the batch's values are unused


def test_unknown_proxy_lists_valid_names(nb201_net: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="valid: synflow, naswot"):
        compute_proxies(nb201_net, *batch(), names=["flops"])
