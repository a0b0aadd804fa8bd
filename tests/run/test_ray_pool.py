"""Trials as Ray tasks: results in the ask order, so a black-box run on Ray has exactly the trajectory of the
in-process run with the same seed (and resumes across the two); a clear message when Ray is missing."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from parsecnas.blackbox_run import BlackBoxConfig, run_blackbox_search
from parsecnas.cli import main
from parsecnas.run import Run
from parsecnas.run.ray_pool import RayPool, sequential_map
from parsecnas.spaces import get_space
from parsecnas.strategies import TrialState, create_blackbox, run_blackbox

KEYS = ("number", "arch", "state", "score", "test_accuracy", "best_score", "best_arch")


def _make_flaky() -> Callable[[int], int]:
    """Squares, failing on multiples of 3; nested, so that Ray ships it by value (the tests are no package)."""

    def flaky(x: int) -> int:
        if x % 3 == 0:
            raise RuntimeError(f"simulated crash at {x}")
        return x * x

    return flaky


_flaky = _make_flaky()


def test_sequential_map_keeps_order_and_puts_caught_errors_in_place() -> None:
    out = sequential_map(_flaky, [1, 2, 3, 4], (RuntimeError,))
    assert out[:2] == [1, 4] and isinstance(out[2], RuntimeError) and out[3] == 16
    with pytest.raises(RuntimeError, match="at 3"):
        sequential_map(_flaky, [1, 3])


def test_a_missing_ray_names_the_extra_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'parsecnas\[ray\]'"):
        RayPool().map(abs, [-1])


def test_the_config_validates_the_ray_fields() -> None:
    assert not BlackBoxConfig().uses_ray and BlackBoxConfig(ray_address="auto").uses_ray
    with pytest.raises(ValueError, match="ray_address"):
        BlackBoxConfig(ray_address=" ")
    with pytest.raises(ValueError, match="ray must be True or False"):
        BlackBoxConfig(ray="yes")  # type: ignore[arg-type]


def test_a_pool_returns_results_in_order_and_fails_only_the_caught_trial(local_ray) -> None:
    with RayPool() as pool:
        out = pool.map(_flaky, [5, 1, 3, 2], (RuntimeError,))
        assert out[:2] == [25, 1] and isinstance(out[2], RuntimeError) and out[3] == 4
        with pytest.raises(RuntimeError, match="at 3"):
            pool.map(_flaky, [1, 3])
        space = get_space("nb201")
        score = lambda arch: float(sum(space.to_choices(arch)))  # noqa: E731 - shipped to the workers
        on_ray = run_blackbox(create_blackbox("evolution", space, seed=3), score, budget=24, batch_size=4,
                              mapper=pool.map)
    here = run_blackbox(create_blackbox("evolution", space, seed=3), score, budget=24, batch_size=4)
    assert on_ray.archs == here.archs and on_ray.scores == here.scores
    assert all(t.state is TrialState.COMPLETE for t in on_ray.trials)


@pytest.mark.usefixtures("local_ray")
def test_a_run_on_ray_has_exactly_the_records_of_the_sequential_run(data_dir, tmp_path) -> None:
    config = BlackBoxConfig(strategy="evolution", budget=16, batch_size=4, seed=5, data_dir=str(data_dir))
    here = run_blackbox_search(config, tmp_path / "here")
    on_ray = run_blackbox_search(BlackBoxConfig(**{**vars(config), "ray": True}), tmp_path / "ray")
    rows = {name: [[r.get(k) for k in KEYS] for r in Run(tmp_path / name).metrics()] for name in ("here", "ray")}
    assert len(rows["ray"]) == 16 and rows["ray"] == rows["here"]
    assert on_ray["best"] == here["best"]
    # stopped after 8 trials in-process, resumed on Ray: the same 16 records
    half = BlackBoxConfig(**{**vars(config), "budget": 8})
    run_blackbox_search(half, tmp_path / "half")
    (tmp_path / "half" / "config.yaml").write_bytes((tmp_path / "here" / "config.yaml").read_bytes())
    run_blackbox_search(BlackBoxConfig(**{**vars(config), "ray": True}), tmp_path / "half", resume=True)
    assert [[r.get(k) for k in KEYS] for r in Run(tmp_path / "half").metrics()] == rows["here"]


def test_bench_takes_ray_flags(data_dir, tmp_path, capsys) -> None:
    assert main(["bench", "--ray", "--ray-address", "auto", "--data-dir", str(data_dir), "--print-config"]) == 0
    assert "ray: true" in capsys.readouterr().out


@pytest.mark.usefixtures("local_ray")
def test_bench_ray_runs_the_trials_on_ray(data_dir, tmp_path) -> None:
    args = ["bench", "--strategy", "random", "--budget", "8", "--batch_size=4", "--data-dir", str(data_dir)]
    assert main([*args, "--ray", "--run-dir", str(tmp_path / "ray")]) == 0
    assert main([*args, "--run-dir", str(tmp_path / "here")]) == 0
    rows = {name: [[r.get(k) for k in KEYS] for r in Run(tmp_path / name).metrics()] for name in ("here", "ray")}
    assert len(rows["ray"]) == 8 and rows["ray"] == rows["here"]
    assert "ray" not in Run(tmp_path / "ray").config()  # where trials ran is no part of the run's config
