"""Multi-seed training, successive-halving rungs and asynchronous black-box search as Ray tasks: seeds and rungs
give exactly the sequential records and decisions; an asynchronous run uses its whole budget and resumes.
(Every process here trains at one thread, tests/conftest.py and the Ray workers' OMP_NUM_THREADS, so records
can be compared exactly.)"""

from __future__ import annotations

import sys

import pytest
import torch

from parsecnas.blackbox_run import BlackBoxConfig, run_blackbox_search, trajectory_of
from parsecnas.cli import main
from parsecnas.estimators.multifidelity import Hyperband, SuccessiveHalving
from parsecnas.run import Run
from parsecnas.run.ray_pool import RayPool
from parsecnas.spaces import get_space, sample_uniform
from parsecnas.strategies.blackbox_async import replay_async
from parsecnas.train import TrainConfig, train_genotype
from parsecnas.train_seeds import train_seeds

TINY = TrainConfig(dataset="fashion-mnist-small", num_cells=2, channels=4, epochs=2, steps_per_epoch=2,
                   batch_size=8, cutout=0, eval_batch_size=500, validation="held_out", val_examples=64,
                   device="cpu")
VOLATILE = {"time_s", "peak_rss_mb", "train_hours"}


def _records(folder) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in Run(folder).metrics()]


def _result(folder) -> dict:
    return {k: v for k, v in Run(folder).read_json("result.json").items() if k not in VOLATILE}


class _Stop(Exception):
    """Ends a training after its first epoch's checkpoint, as a kill there would (the hook runs after it)."""


def _stop(record: dict) -> None:
    raise _Stop


@pytest.mark.usefixtures("local_ray")
def test_seeds_on_ray_give_the_sequential_records_and_a_resume_skips_finished_seeds(tmp_path, snapshot) -> None:
    # an interrupted multi-seed run: seed 0 finished, seed 1 stopped after its first epoch, seed 2 not started
    train_genotype("DARTS_V2", TINY, tmp_path / "ray" / "seed-0", progress=False)
    with pytest.raises(_Stop):
        train_genotype("DARTS_V2", TrainConfig(**{**vars(TINY), "seed": 1}), tmp_path / "ray" / "seed-1",
                       progress=False, on_epoch=_stop)
    finished = snapshot(tmp_path / "ray" / "seed-0")
    with RayPool() as pool:  # seeds 1 and 2 run as two Ray tasks at once
        on_ray = train_seeds("DARTS_V2", TINY, tmp_path / "ray", [0, 1, 2], resume=True, progress=False,
                             mapper=pool.map)
    assert snapshot(tmp_path / "ray" / "seed-0") == finished  # not rerun
    here = train_seeds("DARTS_V2", TINY, tmp_path / "here", [1, 2], progress=False)  # in-process, uninterrupted
    for seed in (1, 2):
        assert _records(tmp_path / "ray" / f"seed-{seed}") == _records(tmp_path / "here" / f"seed-{seed}")
        assert _result(tmp_path / "ray" / f"seed-{seed}") == _result(tmp_path / "here" / f"seed-{seed}")
        weights = [torch.load(tmp_path / d / f"seed-{seed}" / "model.pt", weights_only=True)["state_dict"]
                   for d in ("here", "ray")]
        assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    errors = [Run(tmp_path / "ray" / f"seed-{s}").read_json("result.json")["test_error_pct"] for s in (0, 1, 2)]
    assert on_ray["seeds"] == [0, 1, 2] and on_ray["test_error_pct_mean"] == pytest.approx(sum(errors) / 3)
    assert here["seeds"] == [1, 2]


def test_train_takes_ray_only_with_seeds_and_names_the_extra_when_ray_is_missing(tmp_path, monkeypatch,
                                                                                   capsys) -> None:
    args = ["train", "DARTS_V2", "--dataset=fashion-mnist-small", "--run-dir", str(tmp_path / "t"), "--quiet"]
    assert main([*args, "--ray"]) == 2
    assert "--ray runs each seed of --seeds as a Ray task" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main([*args, "--seeds", "0", "1", "--ray-address", "auto"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'parsecnas[ray]'" in err
    assert not (tmp_path / "t").exists()


def _make_score():
    """A made-up multi-fidelity score with ties at the low fidelity (so the order of equal scores matters);
    nested, so that Ray ships it by value (the tests are no package)."""

    def score(arch, fidelity: float) -> float:
        choices = get_space("nb201").to_choices(arch)
        return float(choices.count(3) if fidelity < 200 else sum(choices) + choices.count(3))

    return score


_score = _make_score()


@pytest.mark.usefixtures("local_ray")
def test_successive_halving_and_hyperband_rungs_on_ray_decide_as_in_process() -> None:
    space, gen = get_space("nb201"), torch.Generator().manual_seed(0)
    candidates = [sample_uniform(space, gen) for _ in range(27)]
    sh = SuccessiveHalving((12, 200), eta=3)
    here = sh.run(candidates, _score)
    with RayPool() as pool:
        on_ray = sh.run(candidates, _score, pool.map)
        hyperband = Hyperband((12, 200), eta=3).run(_sampler(1), _score, pool.map)
    assert on_ray == here and len(on_ray.evaluations) == 27 + 9
    assert hyperband == Hyperband((12, 200), eta=3).run(_sampler(1), _score)


def _sampler(seed: int):
    space, gen = get_space("nb201"), torch.Generator().manual_seed(seed)
    return lambda n: [sample_uniform(space, gen) for _ in range(n)]


@pytest.mark.usefixtures("local_ray")
def test_an_asynchronous_bench_on_ray_uses_its_budget_resumes_and_replays(data_dir, tmp_path,
                                                                           monkeypatch) -> None:
    config = BlackBoxConfig(strategy="evolution", budget=12, batch_size=2, seed=4, data_dir=str(data_dir),
                            ray=True, asynchronous=True)
    saved = []
    original = Run.save_checkpoint

    def dying_save(self, state, *args, **kwargs):  # the driver is killed after its 5th checkpoint
        original(self, state, *args, **kwargs)
        saved.append(state["trial"])
        if len(saved) == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(Run, "save_checkpoint", dying_save)
    with pytest.raises(KeyboardInterrupt):
        run_blackbox_search(config, tmp_path / "bb")
    monkeypatch.setattr(Run, "save_checkpoint", original)
    state = torch.load(tmp_path / "bb" / "checkpoint.pt", weights_only=False)
    assert state["trial"] == 5 and len(state["pending"]) == 2 and state["asked"] == 7  # two still in flight
    first = _records(tmp_path / "bb")
    result = run_blackbox_search(config, tmp_path / "bb", resume=True)
    records = _records(tmp_path / "bb")
    assert records[:5] == first and [r["trial"] for r in records] == list(range(1, 13))
    assert sorted(r["number"] for r in records) == list(range(12))  # every ask evaluated once, none lost
    assert records[5]["number"] in {n for n, _ in state["pending"]}  # in flight when killed: evaluated first
    assert result["trials"] == 12 and result["best"]["score"] == max(r["score"] for r in records)
    # the record (tell order, ask numbers) determines the run: a fresh strategy replays it to the same state
    replayed = replay_async("evolution", get_space("nb201"), None, 4, trajectory_of(tmp_path / "bb").trials, 12, 2)
    assert replayed.state_dict()["history"] == torch.load(tmp_path / "bb" / "checkpoint.pt",
                                                          weights_only=False)["strategy"]["history"]


def test_bench_ray_async_sets_ray_and_asynchronous_and_names_a_missing_extra(data_dir, tmp_path, monkeypatch,
                                                                             capsys) -> None:
    assert main(["bench", "--ray-async", "--data-dir", str(data_dir), "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "ray: true" in out and "asynchronous: true" in out
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(["bench", "--ray-async", "--budget", "4", "--data-dir", str(data_dir), "--run-dir",
                 str(tmp_path / "bb")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'parsecnas[ray]'" in err
    assert not (tmp_path / "bb").exists()  # refused before the run directory is made
