"""Conformance suite run over every registered search space."""

from __future__ import annotations

import pytest
import torch

from parsecnas.spaces import get_space, list_spaces, mutate, sample_uniform

SPACES = list_spaces()


@pytest.mark.parametrize("name", SPACES)
def test_same_seed_gives_same_samples(name: str) -> None:
    space = get_space(name)
    a = [sample_uniform(space, torch.Generator().manual_seed(3)) for _ in range(2)]
    b = [sample_uniform(space, torch.Generator().manual_seed(3)) for _ in range(2)]
    c = sample_uniform(space, torch.Generator().manual_seed(4))
    assert a == b
    assert c != a[0]


@pytest.mark.parametrize("name", SPACES)
def test_string_and_choice_forms_invert(name: str) -> None:
    space = get_space(name)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        arch = sample_uniform(space, gen)
        assert space.parse(space.format(arch)) == arch
        assert space.from_choices(space.to_choices(arch)) == arch
        assert hash(arch) == hash(space.parse(space.format(arch)))


@pytest.mark.parametrize("name", SPACES)
def test_mutate_changes_exactly_one_decision(name: str) -> None:
    space = get_space(name)
    gen = torch.Generator().manual_seed(1)
    arch = sample_uniform(space, gen)
    child = mutate(space, arch, gen)
    diff = [a != b for a, b in zip(space.to_choices(arch), space.to_choices(child))]
    assert sum(diff) == 1


@pytest.mark.parametrize("name", SPACES)
def test_build_of_sample_runs_forward_and_backward(name: str) -> None:
    space = get_space(name)
    arch = sample_uniform(space, torch.Generator().manual_seed(2))
    net = space.build(arch, num_cells=3, channels=4, num_classes=5, auxiliary=False)
    x = torch.randn(2, 3, 32, 32)
    out = net(x)
    assert out.shape == (2, 5)
    out.sum().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", SPACES)
def test_supernet_runs_sampled_path(name: str) -> None:
    space = get_space(name)
    arch = sample_uniform(space, torch.Generator().manual_seed(5))
    net = space.supernet(num_cells=3, channels=4, num_classes=5)
    out = net(torch.randn(2, 3, 32, 32), arch)
    assert out.shape == (2, 5)
    out.sum().backward()
