"""Trackers mirror metrics.jsonl: CSV always, TensorBoard and MLflow as extras; unknown names are refused."""

from __future__ import annotations

import csv
import json
import sys
import types
from pathlib import Path

import pytest

from parsecnas.blackbox_run import BlackBoxConfig
from parsecnas.config import ConfigError, load_config
from parsecnas.run import Run
from parsecnas.run.tracking import TRACKERS, record_step, scalars, tracking_names
from parsecnas.search import SearchConfig, run_search
from parsecnas.train import TrainConfig, train_genotype

RECORDS = [{"epoch": 1, "loss": 2.0, "architecture": {"normal": [["skip_connect", 0]]}},
           {"epoch": 2, "loss": 1.5, "ess": 3.5},  # a field the first record lacks widens the header
           {"epoch": 3, "loss": 1.0, "ess": 3.0, "note": None}]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def as_csv(record: dict) -> dict[str, str]:
    return {k: json.dumps(v, separators=(",", ":")) if isinstance(v, dict) else "" if v is None else str(v)
            for k, v in record.items()}


def test_csv_holds_exactly_the_records_of_the_log(tmp_path) -> None:
    run = Run(tmp_path)
    with run.tracking(["csv"]):
        for record in RECORDS:
            run.log(record)
    rows = csv_rows(tmp_path / "metrics.csv")
    columns = ["epoch", "loss", "architecture", "ess", "note"]
    assert list(rows[0]) == columns
    assert rows == [{c: as_csv(r).get(c, "") for c in columns} for r in run.metrics()]


def test_after_a_resume_cut_the_csv_matches_the_cut_log(tmp_path) -> None:
    run = Run(tmp_path)
    with run.tracking("csv"):
        for record in RECORDS:
            run.log(record)
    run.truncate_metrics(after=1)  # what Run.restore does: epochs 2 and 3 were written after the checkpoint
    with run.tracking("csv"):
        run.log({"epoch": 2, "loss": 1.25})
    assert [row["loss"] for row in csv_rows(tmp_path / "metrics.csv")] == ["2.0", "1.25"]


def test_records_outside_tracking_are_logged_but_not_mirrored(tmp_path) -> None:
    run = Run(tmp_path)
    run.log(RECORDS[0])
    assert not (tmp_path / "metrics.csv").exists() and len(run.metrics()) == 1


@pytest.mark.parametrize("config_type", [SearchConfig, TrainConfig, BlackBoxConfig])
def test_an_unknown_backend_is_refused_naming_it_and_the_valid_ones(config_type) -> None:
    with pytest.raises(ConfigError, match=r"unknown backend 'wandb'; valid: csv, tensorboard, mlflow"):
        load_config(config_type, None, ["tracking=csv,wandb"])
    with pytest.raises(ConfigError, match="unknown backend"):
        config_type(tracking=["tensorbord"])
    with pytest.raises(ConfigError, match=r"unknown backend \{\}"):
        config_type(tracking=[{}])


def test_tracking_is_a_list_or_a_comma_separated_string() -> None:
    assert load_config(TrainConfig, None, ["tracking=csv,tensorboard"]).tracking == ("csv", "tensorboard")
    assert load_config(SearchConfig, None, ["tracking=['mlflow', 'csv']"]).tracking == ("mlflow", "csv")
    assert BlackBoxConfig(tracking="csv, csv").tracking == ("csv",)
    assert TrainConfig().tracking == () and tracking_names("") == ()
    assert set(TRACKERS) == {"csv", "tensorboard", "mlflow"}


def test_steps_and_scalars_of_a_record() -> None:
    assert record_step({"epoch": 3, "step": 60}) == 3 and record_step({"trial": 7}) == 7
    assert record_step({"loss": 1.0}) is None
    assert scalars({"epoch": 1, "step": 60, "loss": 2, "ok": True, "arch": "|x|", "nested": {"a": 1}}) == \
        {"step": 60.0, "loss": 2.0}


def test_tensorboard_scalars_match_the_log_and_a_resume_rewrites_its_steps(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = Run(tmp_path)
    with run.tracking(["tensorboard"]):
        for record in RECORDS:
            run.log(record)
    run.truncate_metrics(after=1)
    with run.tracking(["tensorboard"]):
        run.log({"epoch": 2, "loss": 1.25, "ess": 3.25})
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    loss = [(e.step, e.value) for e in events.Scalars("loss")]
    assert loss == [(1, 2.0), (2, 1.25)]  # epoch 3 of the killed session is purged
    assert [(e.step, e.value) for e in events.Scalars("ess")] == [(2, 3.25)]


def test_missing_optional_backends_name_their_extra(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    for name in ("mlflow", "tensorboard"):
        with pytest.raises(ImportError, match=rf"pip install 'parsecnas\[{name}\]'"):
            with Run(tmp_path).tracking([name]):
                pass


class FakeMlflowClient:
    """MLflow's client API as the tracker uses it, recording the calls (mlflow is an optional extra)."""

    runs: dict[str, list[tuple[str, float, int]]] = {}

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri

    def get_experiment_by_name(self, name: str):
        return None

    def create_experiment(self, name: str, artifact_location: str) -> str:
        return "0"

    def create_run(self, experiment_id: str, run_name: str):
        run_id = f"run-{len(self.runs)}"
        self.runs[run_id] = []
        return types.SimpleNamespace(info=types.SimpleNamespace(run_id=run_id))

    def log_metric(self, run_id: str, key: str, value: float, step: int) -> None:
        self.runs[run_id].append((key, value, step))

    def update_run(self, run_id: str, status: str) -> None:
        self.runs[run_id].append(("status", status))

    def set_terminated(self, run_id: str, status: str) -> None:
        self.runs[run_id].append(("status", status))


def test_mlflow_logs_every_number_at_its_step_and_a_resume_continues_its_run(tmp_path, monkeypatch) -> None:
    module = types.ModuleType("mlflow")
    module.tracking = types.SimpleNamespace(MlflowClient=FakeMlflowClient)
    monkeypatch.setitem(sys.modules, "mlflow", module)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", module.tracking)
    FakeMlflowClient.runs = {}
    run = Run(tmp_path)
    for record in RECORDS[:2]:
        with run.tracking(["mlflow"]):  # a new session per record: the second continues the first's run
            run.log(record)
    assert list(FakeMlflowClient.runs) == ["run-0"]
    assert FakeMlflowClient.runs["run-0"] == [("loss", 2.0, 1), ("status", "FINISHED"), ("status", "RUNNING"),
                                              ("loss", 1.5, 2), ("ess", 3.5, 2), ("status", "FINISHED")]
    assert (tmp_path / "mlflow_run_id").read_text().strip() == "run-0"


def test_a_missing_extra_is_refused_before_the_run_directory_exists(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    cfg = TrainConfig(dataset="fashion-mnist-small", num_cells=2, channels=4, epochs=1, tracking="tensorboard")
    with pytest.raises(ImportError, match=r"parsecnas\[tensorboard\]"):
        train_genotype("DARTS_V2", cfg, tmp_path / "run", progress=False)
    with pytest.raises(ImportError, match=r"parsecnas\[tensorboard\]"):
        run_search(SearchConfig(epochs=1, tracking=("csv", "tensorboard")), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_a_real_mlflow_store_in_the_run_directory_holds_the_metrics(tmp_path) -> None:
    pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    from mlflow.tracking import MlflowClient

    run = Run(tmp_path)
    with pytest.raises(KeyboardInterrupt), run.tracking(["mlflow"]):
        run.log(RECORDS[0])
        raise KeyboardInterrupt
    with run.tracking(["mlflow"]):  # the resume
        run.log(RECORDS[1])
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}")
    run_id = (tmp_path / "mlflow_run_id").read_text().strip()
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "loss")] == [(1, 2.0), (2, 1.5)]
    assert client.get_run(run_id).info.status == "FINISHED"
