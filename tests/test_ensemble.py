"""Ensembles from a learnt distribution: sampling, averaging, training from scratch, and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import parsecnas.ensemble as ensemble_module
from parsecnas.cli import main
from parsecnas.config import to_dict
from parsecnas.data import Loader, LoaderConfig
from parsecnas.distributions import CategoricalProduct
from parsecnas.ensemble import (
    ensemble_probabilities,
    learnt_distribution,
    random_ensemble,
    sample_ensemble,
    train_ensemble,
)
from parsecnas.nets import build_network
from parsecnas.run import Run
from parsecnas.search import SearchConfig
from parsecnas.spaces import Genotype, get_space
from parsecnas.strategies import Parsec, ParsecConfig
from parsecnas.train import TrainConfig, evaluate

TINY = TrainConfig(dataset="fashion-mnist-small", num_cells=2, channels=4, epochs=1, steps_per_epoch=2,
                   batch_size=16, cutout=0, eval_batch_size=500, device="cpu")


def fake_search_run(path: Path, space: str, logits: torch.Tensor, **config: object) -> Path:
    """A search run directory holding only what an ensemble reads: config.yaml and distribution.json."""
    Run(path).create({"space": space, "strategy": "parsec", **config})
    distribution = CategoricalProduct(get_space(space).decisions)
    with torch.no_grad():
        distribution.logits.copy_(logits)
    Run(path).write_json("distribution.json", distribution.export())
    return path


def random_logits(space: str, seed: int) -> torch.Tensor:
    shape = CategoricalProduct(get_space(space).decisions).logits.shape
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def test_samples_repeat_with_the_same_seed_and_differ_across_seeds(tmp_path) -> None:
    run = fake_search_run(tmp_path / "search", "darts", random_logits("darts", 0))
    first = sample_ensemble(run, 5, seed=3)
    assert len(first) == 5 and all(isinstance(g, Genotype) for g in first)
    assert sample_ensemble(run, 5, seed=3) == first
    assert sample_ensemble(run, 5, seed=4) != first
    assert random_ensemble(get_space("darts"), 5, seed=3) == random_ensemble(get_space("darts"), 5, seed=3)
    assert random_ensemble(get_space("darts"), 5, seed=3) != random_ensemble(get_space("darts"), 5, seed=4)


def test_peaked_logits_make_every_member_take_the_peak(tmp_path) -> None:
    space = get_space("darts")
    peak = [d % decision.size for d, decision in enumerate(space.decisions)]
    logits = torch.zeros_like(random_logits("darts", 0))
    logits[torch.arange(len(peak)), torch.tensor(peak)] = 30.0  # p(other choice) ~ e^-30 per decision
    run = fake_search_run(tmp_path / "search", "darts", logits)
    expected = space.from_choices(peak)
    assert sample_ensemble(run, 8, seed=0) == [expected] * 8
    with_mode = sample_ensemble(run, 3, seed=0, include_mode=True)
    assert with_mode == [expected] * 3


def test_sample_frequencies_match_the_learnt_probabilities(tmp_path) -> None:
    space = get_space("nb201")
    logits = random_logits("nb201", 1)
    run = fake_search_run(tmp_path / "search", "nb201", logits)
    n = 4000
    members = sample_ensemble(run, n, seed=0)
    counts = torch.zeros_like(logits)
    for arch in members:
        counts[torch.arange(len(space.decisions)), torch.tensor(space.to_choices(arch))] += 1
    probs = logits.softmax(dim=1)
    sigma = (probs * (1 - probs) / n).sqrt()
    assert bool(((counts / n - probs).abs() <= 5 * sigma + 1e-9).all())


def test_the_runs_excluded_ops_are_never_sampled(tmp_path) -> None:
    space = get_space("nb201")
    none = space.decisions[0].choices.index("none")
    logits = torch.zeros_like(random_logits("nb201", 0))
    logits[:, none] = 5.0  # would dominate, but the search excluded the op: its logits were never trained
    run = fake_search_run(tmp_path / "search", "nb201", logits, settings={"exclude_ops": ["none"]})
    _, distribution = learnt_distribution(run)
    assert float(distribution.probs().detach()[:, none].max()) == 0.0
    members = sample_ensemble(run, 200, seed=0, include_mode=True)
    assert all("none" not in arch.ops for arch in members)


def test_mode_first_is_the_genotype_a_parsec_search_writes(tmp_path) -> None:
    space = get_space("darts")
    config = SearchConfig(settings=ParsecConfig(samples=2))
    strategy = Parsec(space, config.settings, seed=0)
    with torch.no_grad():
        strategy.distribution.logits.copy_(random_logits("darts", 2))
    run = Run(tmp_path / "search")  # the files run_search writes: its config, the distribution, the mode
    run.create(to_dict(config))
    run.write_json("distribution.json", strategy.outputs()["distribution"])
    run.write_text("genotype.json", space.format(strategy.derive()) + "\n")
    members = sample_ensemble(run.path, 3, seed=0, include_mode=True)
    assert members[0] == Genotype.parse((run.path / "genotype.json").read_text())
    assert members[1:] == sample_ensemble(run.path, 2, seed=0)
    assert len(set(members)) == 3


def test_averaged_probabilities_equal_the_mean_of_the_members_softmax(tmp_path) -> None:
    gen = torch.Generator().manual_seed(0)
    images, labels = torch.randint(0, 256, (10, 1, 28, 28), dtype=torch.uint8, generator=gen), torch.arange(10)
    loader = Loader(images, labels, (0.5,), (0.25,), LoaderConfig(batch_size=4, shuffle=False))
    nets = []
    for seed, name in enumerate(("DARTS_V2", "PDARTS", "DARTS_V1")):
        torch.manual_seed(seed)
        nets.append(build_network(name, num_cells=2, channels=4, in_channels=1, auxiliary=False).eval())
    prediction = ensemble_probabilities(iter(nets), loader, channels_last=False)
    x = torch.cat([batch for batch, _ in loader])
    with torch.no_grad():
        members = [net(x).softmax(dim=1) for net in nets]
    torch.testing.assert_close(prediction.probs, torch.stack(members).mean(dim=0))
    assert torch.equal(prediction.labels, labels)
    assert prediction.member_accuracy == [evaluate(net, loader, channels_last=False) for net in nets]
    expected_top1 = float((torch.stack(members).mean(dim=0).argmax(1) == labels).float().mean())
    assert prediction.accuracy["top1"] == pytest.approx(expected_top1)


def test_train_ensemble_writes_finite_errors_and_resumes_without_retraining(tmp_path, monkeypatch) -> None:
    members = [Genotype.named("DARTS_V2"), Genotype.named("PDARTS")]
    summary = train_ensemble(members, TINY, tmp_path / "e", mode_first=True, progress=False)
    written = json.loads((tmp_path / "e" / "ensemble.json").read_text())
    assert written == summary and written["size"] == 2 and written["test_examples"] == 1000
    for key in ("test_error_pct", "test_top5_error_pct", "mean_member_error_pct", "mode_error_pct"):
        assert math.isfinite(written[key]) and 0 <= written[key] <= 100
    results = [json.loads((tmp_path / "e" / f"member-{i}" / "result.json").read_text()) for i in range(2)]
    assert [m["seed"] for m in written["members"]] == [0, 1] == [r["seed"] for r in results]
    for member, result in zip(written["members"], results):
        assert member["test_error_pct"] == pytest.approx(result["test_error_pct"], abs=0.11)  # <= 1 example
    assert written["mode_error_pct"] == written["members"][0]["test_error_pct"]
    assert written["mean_member_error_pct"] == pytest.approx(
        sum(m["test_error_pct"] for m in written["members"]) / 2)
    assert Genotype.parse(written["members"][1]["architecture"]) == members[1]

    def no_training(*args, **kwargs):
        raise AssertionError("a finished member was retrained")

    monkeypatch.setattr(ensemble_module, "train_genotype", no_training)
    assert train_ensemble(members, TINY, tmp_path / "e", mode_first=True, resume=True, progress=False) == summary
    with pytest.raises(ValueError, match="different architecture"):
        train_ensemble(members[::-1], TINY, tmp_path / "e", resume=True, progress=False)


def test_nb201_members_are_refused_before_any_training(tmp_path) -> None:
    members = random_ensemble(get_space("nb201"), 2, seed=0)
    with pytest.raises(ValueError, match="ensemble member 0 .* is not a DARTS-space genotype"):
        train_ensemble(members, TINY, tmp_path / "e", progress=False)
    assert not (tmp_path / "e").exists()


def test_cli_rejects_a_bad_ensemble_size_or_source(tmp_path, capsys) -> None:
    run = fake_search_run(tmp_path / "search", "darts", random_logits("darts", 0))
    assert main(["train", str(run), "--ensemble", "0", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--ensemble 0: the ensemble size M must be an integer >= 1" in err and len(err.splitlines()) == 1
    assert main(["train", "DARTS_V2", "--ensemble", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "search run directory holding distribution.json; 'DARTS_V2' is not one" in err
    with pytest.raises(ValueError, match="ensemble size m must be >= 1, got 0"):
        sample_ensemble(run, 0, seed=0)
    with pytest.raises(FileNotFoundError, match="holds no distribution.json"):
        sample_ensemble(tmp_path, 2, seed=0)


def test_cli_trains_a_random_ensemble_of_the_runs_space(tmp_path, capsys) -> None:
    run = fake_search_run(tmp_path / "search", "darts", random_logits("darts", 0))
    args = ["train", str(run), "--ensemble", "2", "--ensemble-random", "--run-dir", str(tmp_path / "r"), "--quiet",
            "--dataset=fashion-mnist-small", "--num_cells=2", "--channels=4", "--epochs=1", "--steps_per_epoch=1",
            "--batch_size=8", "--cutout=0", "--seed=5"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out.split("\nresults:")[0])
    written = json.loads((tmp_path / "r" / "ensemble.json").read_text())
    assert printed["test_error_pct"] == written["test_error_pct"] and printed["mode_error_pct"] is None
    expected = random_ensemble(get_space("darts"), 2, seed=5)
    assert [Genotype.parse(m["architecture"]) for m in written["members"]] == expected
    assert [m["seed"] for m in written["members"]] == [5, 6]
    assert main(args) == 2  # the same run directory again, without --resume
    assert "already holds a run; resume it" in capsys.readouterr().err
