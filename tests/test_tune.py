"""`parsecnas tune`: trials are training runs scored on held-out training images, pruned trials stop early and are
recorded as pruned, a killed study resumes with its finished trials intact, two objectives give a front."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

import parsecnas.tune as tune_module
from parsecnas.cli import main
from parsecnas.config import ConfigError
from parsecnas.run import Run
from parsecnas.train import TrainConfig, train_genotype
from parsecnas.tune import TuneConfig, tune
from parsecnas.tune_space import parse_space

BASE = TrainConfig(dataset="fashion-mnist-small", num_cells=2, channels=4, epochs=3, steps_per_epoch=6,
                   batch_size=32, cutout=0, drop_path=0.0, auxiliary_weight=0.0, val_examples=300,
                   eval_batch_size=500)
GOOD, STALLED = {"lr": 0.08}, {"lr": 1e-9}  # a learning rate that learns in a few steps, and one that cannot


def lr_space() -> object:
    return parse_space({"lr": {"low": 1e-9, "high": 0.1, "log": True}}, TrainConfig, BASE)


def test_epochs_report_held_out_accuracy_to_the_hook(tmp_path: Path) -> None:
    seen: list[dict] = []
    result = train_genotype("DARTS_V2", BASE, tmp_path / "run", progress=False, on_epoch=seen.append)
    assert [r["epoch"] for r in seen] == [1, 2, 3]
    assert all(0 <= r["val_accuracy"] <= 1 for r in seen)
    assert result["val_accuracy"] == seen[-1]["val_accuracy"]


def test_a_pruned_trial_stops_early_and_is_recorded_as_pruned(tmp_path: Path) -> None:
    config = TuneConfig(trials=2, pruner="halving", min_epochs=1, reduction_factor=2, sampler="random")
    summary = tune("DARTS_V2", BASE, lr_space(), config, tmp_path, first=[GOOD, STALLED])
    good, stalled = summary["records"]
    assert (good["state"], good["epochs"]) == ("COMPLETE", 3)
    assert (stalled["state"], stalled["epochs"]) == ("PRUNED", 1)  # worse than the first at epoch 1
    assert stalled["values"][0] < good["values"][0]
    assert (summary["complete"], summary["pruned"], summary["epochs_trained"]) == (1, 1, 4)
    assert summary["best_params"] == GOOD and summary["best_run_dir"] == str(tmp_path / "trial-0000")
    # each trial is an ordinary training run; a pruned one stopped after its first epoch, without a result
    assert Run(tmp_path / "trial-0000").read_json("result.json")["val_accuracy"] == summary["best_value"]
    assert [r["epoch"] for r in Run(tmp_path / "trial-0001").metrics()] == [1]
    assert not (tmp_path / "trial-0001" / "result.json").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["pruned"] == 1


def test_a_killed_study_resumes_with_its_finished_trials_intact(tmp_path: Path, monkeypatch) -> None:
    config = TuneConfig(trials=3, pruner="none", sampler="tpe", startup_trials=1, seed=3)
    real, calls = tune_module.train_genotype, []

    def killed_on_the_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the process dies while a trial runs
        return real(*args, **kwargs)

    monkeypatch.setattr(tune_module, "train_genotype", killed_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        tune("DARTS_V2", BASE, lr_space(), config, tmp_path)
    import optuna

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(tmp_path / "study.journal")))
    before = optuna.load_study(study_name="tune", storage=storage).trials
    assert [t.state.name for t in before] == ["COMPLETE", "COMPLETE", "RUNNING"]
    summary = tune("DARTS_V2", BASE, lr_space(), config, tmp_path, resume=True)
    records = summary["records"]
    assert summary["trials"] == 3 and summary["complete"] == 3
    for old, new in zip(before[:2], records[:2], strict=True):
        assert (new["params"], new["values"]) == (old.params, old.values)
    assert records[2]["params"] == before[2].params  # the interrupted trial is tried again first
    assert records[2]["number"] == 3 and len(calls) == 4
    more = tune("DARTS_V2", BASE, lr_space(), replace(config, trials=4), tmp_path, resume=True)  # raised
    assert more["trials"] == 4 and more["records"][:3] == records and len(calls) == 5
    with pytest.raises(Exception, match="differs"):  # another space is another study
        tune("DARTS_V2", BASE, parse_space({"cutout": [0, 4]}, TrainConfig, BASE), config, tmp_path,
             resume=True)


def test_trials_are_never_scored_on_the_test_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="validation=held_out"):
        tune("DARTS_V2", replace(BASE, validation="test"), lr_space(), TuneConfig(trials=1), tmp_path)


@pytest.mark.parametrize(("fields", "message"), [
    ({"sampler": "bohb"}, "unknown sampler"), ({"pruner": "median"}, "unknown pruner"),
    ({"objectives": ("params_m",)}, "val_accuracy"), ({"objectives": ("val_accuracy", "params_m")}, "pruner none"),
    ({"trials": 0}, "trials >= 1"),
])
def test_tune_config_refuses_bad_settings(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TuneConfig(**fields)


def test_cli_tunes_accuracy_against_parameters(tmp_path: Path, capsys) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("channels: [4, 6]\n")
    flags = [f"--{k}={v!r}" for k, v in {**vars(BASE), "epochs": 1, "tracking": ()}.items() if v is not None]
    code = main(["tune", "DARTS_V2", "--space", str(space), "--trials", "2", "--pruner", "none", "--objectives",
                 "val_accuracy", "params_m", "--sampler", "random", "--run-dir", str(tmp_path / "t"), "--quiet",
                 *flags])
    assert code == 0
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert summary["objectives"] == ["val_accuracy", "params_m"] and summary["complete"] == 2
    assert summary["pareto_front"] and all(len(r["values"]) == 2 for r in summary["records"])
    assert '"pareto_front"' in capsys.readouterr().out


def test_cma_es_tunes_a_numeric_space(tmp_path: Path) -> None:
    pytest.importorskip("cmaes")
    summary = tune("DARTS_V2", replace(BASE, epochs=1), lr_space(), TuneConfig(trials=3, sampler="cmaes",
                                                                                  startup_trials=1), tmp_path)
    assert summary["complete"] == 3 and summary["sampler"] == "cmaes"


def test_cma_es_without_its_package_names_the_extra_before_writing(tmp_path: Path) -> None:
    try:
        import cmaes  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("cmaes is installed")
    with pytest.raises(ImportError, match=r"parsecnas\[tune\]"):
        tune("DARTS_V2", BASE, lr_space(), TuneConfig(sampler="cmaes"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_the_architecture_is_searched_with_the_recipe_starting_from_the_given_genotype(tmp_path: Path) -> None:
    from parsecnas.spaces import get_space
    from parsecnas.spaces.genotype import resolve_genotype

    space = parse_space({"lr": {"low": 0.01, "high": 0.1, "log": True}, "architecture": "darts"}, TrainConfig, BASE)
    summary = tune("DARTS_V2", replace(BASE, epochs=1), space, TuneConfig(trials=2, sampler="random", pruner="none"),
                   tmp_path)
    first, second = summary["records"]
    decisions = get_space("darts").decisions
    assert {k for k in first["params"] if k.startswith("arch:")} == {f"arch:{d.name}" for d in decisions}
    assert first["architecture"] == str(resolve_genotype("DARTS_V2"))  # the given genotype is tried first
    assert second["architecture"] != first["architecture"]  # then the sampler's own architectures
    for record in summary["records"]:  # each trial trained the architecture its choices make
        trained = Run(tmp_path / record["run_dir"]).read_json("result.json")
        assert str(resolve_genotype(tmp_path / record["run_dir"])) == record["architecture"]
        assert trained["val_accuracy"] == record["values"][0]
    assert summary["best_architecture"] in {first["architecture"], second["architecture"]}


@pytest.mark.parametrize(("name", "message"), [("nb201", "not genotypes"), ("dartz", "unknown search space")])
def test_an_architecture_that_tune_cannot_train_is_refused(tmp_path: Path, name: str, message: str) -> None:
    space = parse_space({"architecture": name}, TrainConfig, BASE)
    with pytest.raises(ConfigError, match=message):
        tune(None, BASE, space, TuneConfig(trials=1), tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="give the genotype"):
        tune(None, BASE, lr_space(), TuneConfig(trials=1), tmp_path / "run")


def test_cli_resume_continues_the_study_with_its_stored_settings(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("lr: {low: 0.01, high: 0.1, log: true}\n")
    flags = [f"--{k}={v!r}" for k, v in {**vars(BASE), "epochs": 1, "tracking": ()}.items() if v is not None]
    run_dir = tmp_path / "t"
    assert main(["tune", "DARTS_V2", "--space", str(space), "--trials", "1", "--sampler", "random", "--pruner",
                 "none", "--run-dir", str(run_dir), "--quiet", *flags]) == 0
    space.unlink()  # the resume needs neither the file, the genotype nor the recipe's flags
    assert main(["tune", "--resume", "--run-dir", str(run_dir), "--trials", "2", "--quiet"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["complete"], summary["sampler"], summary["pruner"]) == (2, "random", "none")
    second = Run(run_dir / "trial-0001")
    assert second.read_json("result.json")["val_accuracy"] == summary["records"][1]["values"][0]
    assert [r["epoch"] for r in second.metrics()] == [1]  # the stored recipe (1 epoch), not the protocol's 600
