"""Black-box runs in a run directory: trial records with states, a failing trial does not end the run, exact
resume, seeds, and the CLI's settings."""

from __future__ import annotations

import json

import pytest

from parsecnas.blackbox_run import BlackBoxConfig, run_blackbox_search, run_blackbox_seeds, trajectory_of
from parsecnas.cli import main
from parsecnas.estimators.tabular import NB201Benchmark
from parsecnas.run import Run
from parsecnas.spaces import get_space
from parsecnas.strategies import EvolutionConfig, TrialState, create_blackbox, run_blackbox

pytestmark = pytest.mark.usefixtures("data_dir")


def test_a_failing_evaluation_is_a_failed_trial_and_the_run_goes_on() -> None:
    space = get_space("nb201")

    def flaky(arch):
        if space.to_choices(arch)[0] == 0:
            raise RuntimeError("simulated crash")
        return float(sum(space.to_choices(arch)))

    trajectory = run_blackbox(create_blackbox("random", space, seed=0), flaky, budget=40, catch=(RuntimeError,))
    failed = [t for t in trajectory.trials if t.state is TrialState.FAIL]
    assert len(trajectory.trials) == 40 and failed and all("simulated crash" in t.error for t in failed)
    assert len(trajectory.archs) == 40 - len(failed) and trajectory.best_scores[-1] == max(trajectory.scores)
    with pytest.raises(RuntimeError):  # not caught: it ends the run, as Optuna does without catch=
        run_blackbox(create_blackbox("random", space, seed=0), flaky, budget=40)


def test_a_run_writes_one_record_per_trial_and_its_incumbent(data_dir, tmp_path) -> None:
    config = BlackBoxConfig(strategy="evolution", budget=30, batch_size=4, seed=1, data_dir=str(data_dir),
                            settings=EvolutionConfig(population_size=8, sample_size=3))
    result = run_blackbox_search(config, tmp_path / "r")
    records = Run(tmp_path / "r").metrics()
    assert [r["number"] for r in records] == list(range(30)) and all(r["state"] == "complete" for r in records)
    best = max(records, key=lambda r: r["score"])
    assert result["best"]["score"] == best["score"] and result["trials"] == 30
    table = NB201Benchmark("cifar10", select="test", data_dir=str(data_dir))
    assert result["best"]["test_accuracy"] == table(get_space("nb201").parse(best["arch"])).test_accuracy
    assert json.loads((tmp_path / "r" / "result.json").read_text())["best"] == result["best"]
    assert trajectory_of(tmp_path / "r").best_scores[-1] == best["score"]
    pytest.importorskip("matplotlib")
    assert (tmp_path / "r" / "incumbent.png").stat().st_size > 1000  # each trial and the incumbent, drawn


def test_a_stopped_run_resumes_to_exactly_the_uninterrupted_one(data_dir, tmp_path) -> None:
    full = BlackBoxConfig(strategy="bananas", budget=16, batch_size=4, seed=2, data_dir=str(data_dir))
    run_blackbox_search(full, tmp_path / "full")
    # a run stopped after 8 trials: the same search with budget 8, then resumed with budget 16
    run_blackbox_search(BlackBoxConfig(strategy="bananas", budget=8, batch_size=4, seed=2, data_dir=str(data_dir)),
                        tmp_path / "half")
    (tmp_path / "half" / "config.yaml").write_bytes((tmp_path / "full" / "config.yaml").read_bytes())
    resumed = run_blackbox_search(full, tmp_path / "half", resume=True)
    keys = ("number", "arch", "state", "score", "best_score")
    assert [[r[k] for k in keys] for r in Run(tmp_path / "half").metrics()] == \
        [[r[k] for k in keys] for r in Run(tmp_path / "full").metrics()]
    assert resumed["best"] == json.loads((tmp_path / "full" / "result.json").read_text())["best"]


def test_seeds_and_settings_from_the_cli(data_dir, tmp_path, capsys) -> None:
    args = ["bench", "--strategy", "evolution", "--budget", "12", "--seeds", "0", "1", "--run-dir",
            str(tmp_path / "s"), "--data-dir", str(data_dir), "--settings.population_size=5",
            "--settings.sample_size=2"]
    assert main(args) == 0
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and summary["test_accuracy"]["mean"] > 0
    assert Run(tmp_path / "s" / "seed-1").config()["settings"]["population_size"] == 5
    assert main([*args[:-2], "--settings.populaton_size=5"]) == 2
    assert "population_size" in capsys.readouterr().err
    direct = run_blackbox_seeds(BlackBoxConfig(strategy="evolution", budget=12, data_dir=str(data_dir),
                                               settings=EvolutionConfig(population_size=5, sample_size=2)),
                                tmp_path / "s", [0, 1], resume=True)
    assert direct["test_accuracy"] == summary["test_accuracy"]  # resumed: nothing runs again
