from __future__ import annotations

import itertools
import math

import pytest
import torch

from parsecnas.distributions import CategoricalProduct
from parsecnas.spaces import Decision, get_space


def small() -> CategoricalProduct:
    dist = CategoricalProduct([Decision("a", ("x", "y", "z")), Decision("b", ("u", "v")), Decision("c", tuple("pqrs"))])
    with torch.no_grad():
        dist.logits.copy_(torch.randn(dist.logits.shape, generator=torch.Generator().manual_seed(0)))
    return dist


def test_grad_of_log_prob_is_one_hot_minus_softmax() -> None:
    dist = small()
    choice = torch.tensor([2, 0, 1])
    dist.log_prob(choice).backward()
    expected = -dist.probs().detach()
    for d, c in enumerate(choice.tolist()):
        expected[d, c] += 1.0
    expected[~dist.valid] = 0.0
    assert torch.allclose(dist.logits.grad, expected, atol=1e-6)


def test_sample_frequencies_match_probabilities() -> None:
    dist = small()
    draws = dist.sample(40000, torch.Generator().manual_seed(1))
    freq = torch.stack([(draws[:, 0] == c).float().mean() for c in range(3)])
    assert torch.allclose(freq, dist.probs()[0, :3].detach(), atol=0.01)


def test_mode_entropy_and_top_n_match_brute_force() -> None:
    dist = small()
    table = []
    for combo in itertools.product(range(3), range(2), range(4)):
        table.append((float(dist.log_prob(torch.tensor(combo)).exp().detach()), combo))
    table.sort(reverse=True)
    assert tuple(dist.mode().tolist()) == table[0][1]
    top = dist.most_probable(5)
    assert [c for c, _ in top] == [c for _, c in table[:5]]
    assert all(math.isclose(p, q, rel_tol=1e-5) for (_, p), (q, _) in zip(top, table[:5]))
    entropy = -sum(p * math.log(p) for p, _ in table)
    assert math.isclose(float(dist.entropy().detach()), entropy, rel_tol=1e-5)


def test_uniform_darts_distribution_has_the_log_of_the_space_size_as_entropy() -> None:
    dist = CategoricalProduct(get_space("darts").decisions)
    size = math.prod(d.size for d in dist.decisions)
    assert math.isclose(float(dist.entropy().detach()), math.log(size), rel_tol=1e-6)


def test_same_seed_same_samples_and_invalid_choices_rejected() -> None:
    dist = small()
    a = dist.sample(5, torch.Generator().manual_seed(7))
    assert torch.equal(a, dist.sample(5, torch.Generator().manual_seed(7)))
    assert (a[:, 1] < 2).all()
    with pytest.raises(ValueError, match="row d in 0 .. size"):
        dist.log_prob(torch.tensor([0, 2, 0]))


def test_transfer_copies_matching_decisions_and_reports_the_rest() -> None:
    source = small()
    target = CategoricalProduct([Decision("a", ("x", "y", "z")), Decision("b", ("u", "v", "w"))])
    missed = target.transfer_from(source.export())
    assert missed == ["b"]
    assert torch.allclose(target.logits[0, :3], source.logits[0, :3])


def test_state_dict_round_trips() -> None:
    a, b = small(), CategoricalProduct(small().decisions)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.logits, b.logits)
