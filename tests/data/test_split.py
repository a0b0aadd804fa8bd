"""train_search_split: disjoint, covering, seeded, with the asked fractions."""

from __future__ import annotations

import pytest
import torch

from parsecnas.data import train_search_split


@pytest.mark.parametrize(("n", "fraction"), [(10, 0.5), (101, 0.5), (1000, 0.8), (7, 0.3)])
def test_parts_are_disjoint_cover_everything_and_have_the_fraction(n: int, fraction: float) -> None:
    train, search = train_search_split(n, fraction, seed=3)
    assert train.dtype == torch.int64 and search.dtype == torch.int64
    assert set(train.tolist()).isdisjoint(search.tolist())
    assert sorted(train.tolist() + search.tolist()) == list(range(n))
    assert len(train) == int(fraction * n + 0.5)


def test_same_seed_gives_the_same_split_and_other_seeds_differ() -> None:
    first = train_search_split(500, 0.5, seed=7)
    again = train_search_split(500, 0.5, seed=7)
    other = train_search_split(500, 0.5, seed=8)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])


def test_split_is_not_a_contiguous_block() -> None:
    train, _ = train_search_split(1000, 0.5, seed=0)
    assert train.tolist() != list(range(500)) and train.tolist() != list(range(500, 1000))


def test_stratified_split_keeps_each_class_proportion() -> None:
    labels = torch.tensor([0] * 100 + [1] * 40 + [2] * 10)
    train, search = train_search_split(150, 0.5, seed=1, labels=labels)
    assert torch.bincount(labels[train]).tolist() == [50, 20, 5]
    assert torch.bincount(labels[search]).tolist() == [50, 20, 5]
    assert sorted(train.tolist() + search.tolist()) == list(range(150))


def test_stratified_total_matches_the_unstratified_count() -> None:
    labels = torch.tensor([0] * 5 + [1] * 5 + [2] * 5)
    train, search = train_search_split(15, 0.5, seed=0, labels=labels)
    assert len(train) == 8 and len(search) == 7
    assert sorted(torch.bincount(labels[train]).tolist()) == [2, 3, 3]


def test_stratified_split_is_seeded() -> None:
    labels = torch.arange(200) % 4
    a = train_search_split(200, 0.25, seed=5, labels=labels)
    b = train_search_split(200, 0.25, seed=5, labels=labels)
    assert torch.equal(a[0], b[0]) and len(a[0]) == 50


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_fraction_outside_the_open_unit_interval_is_rejected(fraction: float) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        train_search_split(10, fraction)


def test_labels_of_the_wrong_length_are_rejected() -> None:
    with pytest.raises(ValueError, match="labels has 3 entries but num_examples=4"):
        train_search_split(4, 0.5, labels=[0, 1, 0])
