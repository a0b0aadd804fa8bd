"""MnasNet's reward in black-box runs: the config's cost fields, the reward steering a search to cheaper
architectures on NAS-Bench-201, every trial's cost recorded, and exact resume."""

from __future__ import annotations

import json
import statistics

import pytest

from parsecnas.blackbox_run import BlackBoxConfig, run_blackbox_search, run_blackbox_seeds
from parsecnas.cli import main
from parsecnas.estimators.cost import nb201_latency_cost
from parsecnas.run import Run
from parsecnas.strategies import EvolutionConfig


@pytest.mark.parametrize(("fields", "message"), [
    ({"cost": "nb201:raspi4"}, "needs cost_target > 0"),
    ({"cost": "nb201:raspi4", "cost_target": 0.0}, "needs cost_target > 0"),
    ({"cost_target": 5.0}, "cost is not"),
    ({"cost": "latency", "cost_target": 5.0}, "unknown cost 'latency'; valid forms: params"),
    ({"cost": "params", "cost_target": 1.0, "cost_constraint": "strict"}, "cost_constraint must be one of"),
    ({"cost": "params", "cost_target": 1.0, "cost_exponent": 0.5}, "cost_exponent must be <= 0"),
    ({"cost": "params", "cost_target": float("nan")}, "cost_target"),
])
def test_bad_cost_fields_are_refused_naming_the_value(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BlackBoxConfig(**fields)


def test_the_exponents_follow_the_constraint_and_the_override() -> None:
    from parsecnas.spaces import get_space

    space, table = get_space("nb201"), lambda arch: 90.0

    def exponents(**fields: object) -> tuple[float, float]:
        reward = BlackBoxConfig(cost="params", cost_target=1.0, **fields).reward(space, table)
        return reward.alpha, reward.beta

    assert exponents() == (-0.07, -0.07) and exponents(cost_constraint="hard") == (0.0, -1.0)
    assert exponents(cost_exponent=-0.2) == (-0.2, -0.2)
    assert exponents(cost_constraint="hard", cost_exponent=-2.0) == (0.0, -2.0)
    assert BlackBoxConfig().reward(space, table) is table  # no cost: the estimator itself


def test_a_bad_cost_flag_is_one_line_from_the_cli(tmp_path, capsys) -> None:
    assert main(["bench", "--cost", "nb201:raspi4", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "cost_target > 0" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def costs_of(run_dir) -> list[float]:
    return [r["cost"] for r in Run(run_dir).metrics() if "trial" in r]


@pytest.mark.usefixtures("data_dir")
def test_a_hard_latency_target_steers_evolution_to_cheaper_cells(data_dir, tmp_path) -> None:
    base = BlackBoxConfig(strategy="evolution", budget=150, seed=0, data_dir=str(data_dir),
                          settings=EvolutionConfig(population_size=20, sample_size=5))
    plain = run_blackbox_search(base, tmp_path / "plain")
    args = ["bench", "--strategy", "evolution", "--cost", "nb201:raspi4", "--cost-target", "15",
            "--cost-constraint", "hard", "--budget", "150", "--seed", "0", "--data-dir", str(data_dir),
            "--run-dir", str(tmp_path / "cost"), "--settings.population_size=20", "--settings.sample_size=5"]
    assert main(args) == 0
    costed = json.loads((tmp_path / "cost" / "result.json").read_text())
    latency = nb201_latency_cost("raspi4", data_dir=str(data_dir))
    from parsecnas.spaces import get_space

    space = get_space("nb201")
    plain_costs = [latency(space.parse(r["arch"])) for r in Run(tmp_path / "plain").metrics()]
    cheap = costs_of(tmp_path / "cost")
    assert len(cheap) == 150 and all(c > 0 for c in cheap)  # every trial's cost recorded
    # the later half of the search (the evolved population) is cheaper than without the reward
    assert statistics.median(cheap[75:]) < 0.8 * statistics.median(plain_costs[75:])
    assert costed["best"]["cost"] <= 15.0 < latency(space.parse(plain["best"]["arch"]))
    assert costed["best"]["score"] == costed["best"]["accuracy"]  # hard: no penalty within the target
    assert costed["cost"]["trials_within_target"] > sum(c <= 15.0 for c in plain_costs)


@pytest.mark.usefixtures("data_dir")
def test_a_stopped_costed_run_resumes_to_exactly_the_uninterrupted_one(data_dir, tmp_path) -> None:
    def config(budget: int) -> BlackBoxConfig:
        return BlackBoxConfig(strategy="reinforce", budget=budget, batch_size=4, seed=3, data_dir=str(data_dir),
                              cost="nb201:pixel3", cost_target=10.0)

    run_blackbox_search(config(16), tmp_path / "full")
    run_blackbox_search(config(8), tmp_path / "half")
    (tmp_path / "half" / "config.yaml").write_bytes((tmp_path / "full" / "config.yaml").read_bytes())
    resumed = run_blackbox_search(config(16), tmp_path / "half", resume=True)
    keys = ("number", "arch", "score", "accuracy", "cost", "test_accuracy", "best_score")
    assert [[r[k] for k in keys] for r in Run(tmp_path / "half").metrics()] == \
        [[r[k] for k in keys] for r in Run(tmp_path / "full").metrics()]
    assert resumed["best"] == json.loads((tmp_path / "full" / "result.json").read_text())["best"]
    assert Run(tmp_path / "full").config()["cost"] == "nb201:pixel3"
    summary = run_blackbox_seeds(config(8), tmp_path / "seeds", [0, 1])
    assert summary["cost"]["mean"] > 0
