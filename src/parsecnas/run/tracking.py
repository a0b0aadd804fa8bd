"""Experiment tracking: mirrors of a run's metrics log in CSV, TensorBoard or MLflow.

``metrics.jsonl`` stays the source of truth; a tracker only mirrors each record as :meth:`Run.log` appends
it. A tracker is one small class with two methods (``log`` and ``close``) registered by name; a run's config
names the ones it wants (``tracking: [csv, tensorboard]``, or ``--tracking=csv,tensorboard``).

Each mirror agrees with the log after a resume too: on its first record the CSV file is rebuilt from the whole
log (which the resume has cut back to its checkpoint), TensorBoard purges the events from that step on, and
MLflow continues the same MLflow run. The optional backends are imported when a run opens them; a missing one
is an ImportError naming the extra to install.

Example:
    >>> import tempfile, pathlib
    >>> from parsecnas.run import Run
    >>> run = Run(pathlib.Path(tempfile.mkdtemp()))
    >>> with run.tracking(("csv",)):
    ...     run.log({"epoch": 1, "loss": 0.5})
    >>> (run.path / "metrics.csv").read_text().splitlines()
    ['epoch,loss', '1,0.5']
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from parsecnas._text import short_repr
from parsecnas.config import ConfigError
from parsecnas.run.atomic import atomic_write_text
from parsecnas.run.metrics import MetricsLog

__all__ = ["TRACKERS", "Tracker", "check_trackers", "open_trackers", "record_step", "register_tracker", "scalars",
           "tracking_names"]

STEP_KEYS = ("epoch", "trial", "step")
"""The record fields that count progress, in order of preference: a tracker's step is the first one present."""


class Tracker:
    """A mirror of a run's metrics log, opened as ``Tracker(run_dir)``. Subclasses implement :meth:`log`;
    :meth:`close` releases files, :meth:`check` says whether the backend is installed."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    @classmethod
    def check(cls) -> Any:
        """Raise an ImportError naming the extra to install when the backend is missing; by default none is
        needed. Returns what the backend's import gave."""
        return None

    def log(self, record: Mapping[str, Any]) -> None:
        """Mirror one record, just appended to ``metrics.jsonl``."""
        raise NotImplementedError

    def close(self, failed: bool = False) -> None:
        """Flush and release what the tracker holds open (``failed``: the run stopped on an error or an
        interrupt); by default nothing."""


TRACKERS: dict[str, type[Tracker]] = {}
"""Tracker classes by name; each is opened on the run directory."""


def register_tracker(name: str, tracker: type[Tracker]) -> None:
    """Make ``name`` a valid ``tracking`` entry; ``tracker(run_dir)`` opens it."""
    TRACKERS[name] = tracker


def tracking_names(value: str | Sequence[str]) -> tuple[str, ...]:
    """The tracker names of a config's ``tracking`` field (a list, or one comma-separated string), validated.

    Raises:
        ConfigError: for an unknown name (the message lists the valid ones) or a non-string entry.
    """
    items = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str) or item not in TRACKERS:
            raise ConfigError(f"tracking: unknown backend {short_repr(item)}; valid: {', '.join(TRACKERS)} "
                              "(e.g. tracking: [csv, tensorboard], or --tracking=csv,tensorboard)")
    return tuple(dict.fromkeys(items))


def check_trackers(names: Sequence[str]) -> None:
    """An ImportError naming the extra when a backend of ``names`` is missing: call it before a run directory
    is made, so that a missing extra is refused before anything is written."""
    for name in tracking_names(names):
        TRACKERS[name].check()


def open_trackers(names: Sequence[str], run_dir: Path) -> list[Tracker]:
    """The trackers ``names`` opened on ``run_dir``; if one fails to open, those already open are closed."""
    opened: list[Tracker] = []
    try:
        for name in tracking_names(names):
            opened.append(TRACKERS[name](Path(run_dir)))
    except BaseException:
        for tracker in opened:
            tracker.close(failed=True)
        raise
    return opened


def _step_key(record: Mapping[str, Any]) -> str | None:
    return next((k for k in STEP_KEYS if isinstance(record.get(k), int) and not isinstance(record[k], bool)), None)


def record_step(record: Mapping[str, Any]) -> int | None:
    """The record's progress counter: its ``epoch``, else ``trial``, else ``step``; None when it has none."""
    key = _step_key(record)
    return None if key is None else int(record[key])


def scalars(record: Mapping[str, Any]) -> dict[str, float]:
    """The record's numbers but its progress counter (booleans, strings and nested values left out), for
    scalar-only backends."""
    counter = _step_key(record)
    return {k: float(v) for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != counter}


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else value


class CsvTracker(Tracker):
    """``metrics.csv``: one row per record, one column per field (nested values as JSON text).

    A record bringing a new field rewrites the file with the wider header; the first record after opening
    rebuilds it from the whole log, so the CSV always holds exactly the log's records.
    """

    def __init__(self, run_dir: Path, name: str = "metrics.csv") -> None:
        super().__init__(run_dir)
        self.path = Path(run_dir) / name
        self.source = MetricsLog(Path(run_dir) / "metrics.jsonl")
        self.columns: list[str] | None = None

    def log(self, record: Mapping[str, Any]) -> None:
        if self.columns is not None and set(record) <= set(self.columns):
            with open(self.path, "a", encoding="utf-8", newline="") as f:
                csv.writer(f, lineterminator="\n").writerow([_cell(record.get(c)) for c in self.columns])
            return
        records = self.source.read() or [dict(record)]  # the log holds this record already (Run.log)
        self.columns = list(dict.fromkeys(k for r in records for k in r))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows([_cell(r.get(c)) for c in self.columns] for r in records)
        atomic_write_text(self.path, out.getvalue())


def _missing(backend: str) -> ImportError:
    return ImportError(f"tracking: {backend} needs the {backend} package, an optional extra: "
                       f"pip install 'parsecnas[{backend}]' (or drop {backend} from tracking)")


class TensorBoardTracker(Tracker):
    """TensorBoard event files under ``RUN_DIR/tensorboard``: every number of a record as a scalar at the
    record's step (``epoch`` or ``trial``). Needs the ``tensorboard`` extra."""

    @classmethod
    def check(cls) -> Any:
        try:
            import tensorboard  # noqa: F401  (SummaryWriter needs it, and says so less clearly)
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise _missing("tensorboard") from exc
        return SummaryWriter

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.make = self.check()
        self.log_dir = Path(run_dir) / "tensorboard"
        self.writer: Any = None

    def log(self, record: Mapping[str, Any]) -> None:
        step = record_step(record)
        if self.writer is None:  # events from this step on are a killed session's: a resume rewrites them
            self.writer = self.make(str(self.log_dir), purge_step=step)
        for key, value in scalars(record).items():
            if math.isfinite(value):
                self.writer.add_scalar(key, value, global_step=step)
        self.writer.flush()

    def close(self, failed: bool = False) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class MlflowTracker(Tracker):
    """An MLflow run in an SQLite store inside the run directory (``RUN_DIR/mlflow.db``; MLflow 3 keeps its
    file store only behind an opt-out; view it with ``mlflow ui --backend-store-uri sqlite:///RUN_DIR/mlflow.db``):
    every number of a record as a metric at the record's step. A resumed run continues the same MLflow run (its
    id is kept in ``mlflow_run_id``); MLflow cannot delete metrics, so the steps a killed session logged after
    its last checkpoint then appear twice there (``metrics.jsonl`` and the CSV hold them once). Its status is
    ``FINISHED`` when the loop ends, ``FAILED`` when it stops on an error. Needs the ``mlflow`` extra."""

    @classmethod
    def check(cls) -> Any:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise _missing("mlflow") from exc
        return MlflowClient

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        client = self.check()
        folder = Path(run_dir).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        self.client = client(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
        id_file = folder / "mlflow_run_id"
        if id_file.is_file():
            self.run_id = id_file.read_text(encoding="utf-8").strip()
            self.client.update_run(self.run_id, status="RUNNING")
            return
        found = self.client.get_experiment_by_name("parsecnas")
        experiment = (found.experiment_id if found is not None else self.client.create_experiment(
            "parsecnas", artifact_location=(folder / "mlflow-artifacts").as_uri()))
        self.run_id = self.client.create_run(experiment, run_name=folder.name).info.run_id
        atomic_write_text(id_file, self.run_id + "\n")

    def log(self, record: Mapping[str, Any]) -> None:
        step = record_step(record)
        for key, value in scalars(record).items():
            self.client.log_metric(self.run_id, key, value, step=0 if step is None else step)

    def close(self, failed: bool = False) -> None:
        self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")


register_tracker("csv", CsvTracker)
register_tracker("tensorboard", TensorBoardTracker)
register_tracker("mlflow", MlflowTracker)
