"""The library of learnt distributions: entries added from finished searches, the nearest dataset chosen in
meta-feature space, similarity-weighted mixtures, and `search --init-from auto` saying what it used."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from parsecnas.cli import main
from parsecnas.config import ConfigError
from parsecnas.data import ImageDataset, load_dataset
from parsecnas.data.meta_features import meta_features
from parsecnas.distributions import CategoricalProduct
from parsecnas.library import (
    LIBRARY_ENV,
    add_search,
    choose,
    load_library,
    mixture,
    warm_start_from_library,
)
from parsecnas.spaces import get_space
from parsecnas.strategies import Parsec

SEARCH = ["--epochs=1", "--steps_per_epoch=1", "--net.num_cells=3", "--net.channels=4", "--data.batch_size=4",
          "--data.eval_examples=8", "--settings.samples=2"]


def pattern(kind: str, seed: int, n: int = 120, side: int = 16) -> ImageDataset:
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randint(0, 30, (n, 1, side, side), generator=gen)
    grid = torch.arange(side)
    base = {"stripes": (grid.view(side, 1) % 4 == 0).expand(side, side),
            "checks": ((grid.view(side, 1) // 4 + grid // 4) % 2 == 0),
            "blank": torch.zeros(side, side, dtype=torch.bool)}[kind]
    images = (base.to(torch.int64) * 200 + noise).clamp(0, 255).to(torch.uint8)
    labels = torch.arange(n) % 3
    return ImageDataset(kind, images, labels, images[:3], labels[:3], ("a", "b", "c"), (0.5,), (0.25,))


def write_entry(library: Path, name: str, meta: dict, space: str = "darts", logits: list | None = None) -> None:
    folder = library / name
    folder.mkdir(parents=True)
    exported = CategoricalProduct(get_space(space).decisions).export()
    if logits is not None:
        exported["logits"] = logits
    (folder / "distribution.json").write_text(json.dumps(exported))
    (folder / "entry.json").write_text(json.dumps({"dataset": name, "space": space, "meta_features": meta}))


def test_the_nearest_dataset_of_a_toy_library_is_the_related_one(tmp_path: Path) -> None:
    for kind in ("stripes", "checks", "blank"):
        write_entry(tmp_path, kind, meta_features(pattern(kind, seed=0)))
    write_entry(tmp_path, "stripes-nb201", meta_features(pattern("stripes", seed=0)), space="nb201")
    for kind in ("stripes", "checks", "blank"):
        choice = choose(load_library(tmp_path), meta_features(pattern(kind, seed=7)), "darts", k=2)
        assert choice.entries[0].name == kind and choice.considered == 3  # the nb201 entry is another space
        assert choice.distances[0] < choice.distances[1]
        assert choice.weights == pytest.approx([1 / (1 + math.exp(-(choice.distances[1] - choice.distances[0]))),
                                                1 / (1 + math.exp(choice.distances[1] - choice.distances[0]))])
    assert "largest differences: embedding" in choose(load_library(tmp_path), meta_features(pattern("checks", 7)),
                                                      "darts", k=3).describe().splitlines()[2]


def test_a_mixture_is_the_weighted_mean_of_log_probabilities() -> None:
    a = {"names": ["x", "y"], "logits": [[0.0, 1.0], [2.0, 0.0, 0.0]]}
    b = {"names": ["x", "z"], "logits": [[3.0, 0.0], [1.0, 1.0]]}
    mixed = mixture([a, b], [0.75, 0.25])
    assert mixed["names"] == ["x", "y", "z"]
    want = 0.75 * torch.log_softmax(torch.tensor([0.0, 1.0], dtype=torch.float64), 0) + 0.25 * torch.log_softmax(
        torch.tensor([3.0, 0.0], dtype=torch.float64), 0)
    assert mixed["logits"][0] == pytest.approx(want.tolist())
    # a decision only one distribution has is that one's alone
    assert mixed["logits"][1] == pytest.approx(torch.log_softmax(torch.tensor([2.0, 0.0, 0.0]), 0).tolist())
    assert mixed["logits"][2] == pytest.approx([math.log(0.5)] * 2)


def test_auto_warm_start_copies_the_nearest_entry(tmp_path: Path) -> None:
    space = get_space("darts")
    logits = [[float(i) for i in range(d.size)] for d in space.decisions]
    ds = load_dataset("fashion-mnist-small")
    write_entry(tmp_path, "near", meta_features(ds), logits=logits)
    write_entry(tmp_path, "far", meta_features(pattern("checks", 0)))
    strategy = Parsec(space)
    choice = warm_start_from_library(strategy, space, ds, tmp_path)
    assert [e.name for e in choice.entries] == ["near"] and choice.distances[0] == 0.0
    probs = [torch.softmax(torch.tensor(row), 0) for row in strategy.distribution.export()["logits"]]
    for p, row in zip(probs, logits, strict=True):
        assert torch.allclose(p, torch.softmax(torch.tensor(row), 0), atol=1e-6)


def test_a_library_is_needed_and_must_hold_the_space(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(LIBRARY_ENV, raising=False)
    with pytest.raises(ConfigError, match=LIBRARY_ENV):
        load_library(None)
    write_entry(tmp_path, "nb", meta_features(pattern("blank", 0)), space="nb201")
    with pytest.raises(ConfigError, match="no search of the 'darts' space .*nb201"):
        choose(load_library(tmp_path), meta_features(pattern("blank", 1)), "darts")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_library(tmp_path / "missing")


def test_search_adds_to_the_library_and_a_new_search_starts_from_it(tmp_path: Path, capsys) -> None:
    first, library = tmp_path / "first", tmp_path / "library"
    assert main(["search", "--run-dir", str(first), "--quiet", *SEARCH]) == 0
    assert main(["library", "add", str(first), "--library", str(library), "--name", "fmnist"]) == 0
    entry = load_library(library)[0]
    assert (entry.name, entry.dataset, entry.space) == ("fmnist", "fashion-mnist-small", "darts")
    assert entry.record["result"]["epochs_run"] == 1 and "mode_accuracy" in entry.record["result"]
    assert entry.meta == meta_features(load_dataset("fashion-mnist-small"))
    with pytest.raises(ConfigError, match="already holds an entry 'fmnist'"):
        add_search(first, library, name="fmnist")
    capsys.readouterr()
    second = tmp_path / "second"
    assert main(["search", "--run-dir", str(second), "--init-from", "auto", f"--library={library}", *SEARCH]) == 0
    out = capsys.readouterr().out
    assert "warm start from the library: the 1 nearest of 1 entries" in out
    assert "fmnist (dataset fashion-mnist-small): distance 0.000" in out
    record = json.loads((second / "warm_start.json").read_text())
    assert record["entries"][0]["name"] == "fmnist" and record["entries"][0]["weight"] == 1.0
    assert main(["library", "list", "--library", str(library), "--dataset", "fashion-mnist-small"]) == 0
    assert "fmnist: fashion-mnist-small, darts space, parsec" in capsys.readouterr().out
