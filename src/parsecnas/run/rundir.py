"""A run directory: resolved config, metrics log, atomic checkpoints and final outputs.

Layout::

    run_dir/
        config.yaml      the resolved config, written once; a resumed run must match it
        metrics.jsonl    one JSON record per line (see parsecnas.run.metrics)
        checkpoint.pt    the latest checkpoint (see parsecnas.run.checkpoint)
        .lock            held by the process running it (see parsecnas.run.lock)
        ...              final outputs: genotype.json, cell drawings, curves

A search or training holds :meth:`Run.lock` for its whole life, so a second process on the same directory is
refused instead of interleaving its epochs with the first one's.

Example:
    >>> import tempfile, pathlib
    >>> run = Run(pathlib.Path(tempfile.mkdtemp()) / "search")
    >>> with run.lock():
    ...     run.create({"epochs": 2, "optim": {"lr": 0.1}})  # False: a new run
    ...     for epoch in range(2):
    ...         run.log({"epoch": epoch, "mode_accuracy": 0.5 + 0.1 * epoch})
    ...         _ = run.save_checkpoint({"epoch": epoch})
    False
    >>> Run(run.path).create({"epochs": 2, "optim": {"lr": 0.1}}, resume=True)  # True: resumed
    True
    >>> run.restore()["epoch"]
    1
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import yaml

from parsecnas._text import short_repr
from parsecnas.run.atomic import atomic_write_text, remove_stale_temp_files
from parsecnas.run.checkpoint import check_resume_state, load_checkpoint, load_parts, save_checkpoint
from parsecnas.run.lock import LOCK_FILE, RunLock
from parsecnas.run.metrics import MetricsLog
from parsecnas.run.tracking import Tracker, open_trackers

__all__ = ["CHECKPOINT_FILE", "CONFIG_FILE", "METRICS_FILE", "Run", "RunError", "strict_json"]

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
_MAX_DIFFS_SHOWN = 10


def strict_json(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by ``None``, so that strict JSON readers accept it."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


class RunError(RuntimeError):
    """The directory cannot be used as asked (not a run, already a run, or a different config)."""


class Run:
    """One search or training run, stored in a directory. The constructor does no I/O.

    Args:
        path: The run directory; created by :meth:`create`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._metrics = MetricsLog(self.path / METRICS_FILE)
        self._trackers: list[Tracker] = []

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def exists(self) -> bool:
        """Whether the directory already holds a run (has a ``config.yaml``)."""
        return (self.path / CONFIG_FILE).is_file()

    def lock(self, *, resume: bool = False) -> RunLock:
        """The directory's exclusive lock, to hold (``with run.lock(): ...``) for as long as the run writes.

        Args:
            resume: the run is to be resumed, so the directory must hold one already.

        Raises:
            RunError: the path exists but is a file or a non-empty directory that holds no run, or ``resume``
                is True and it holds no run (nothing is written then).
            RunLockError: another process holds the run (on entering the ``with``).
        """
        if resume and not self.exists():
            raise self._nothing_to_resume()
        self._refuse_foreign()
        return RunLock(self.path)

    def create(self, config: Mapping[str, Any], *, resume: bool = False,
               defaults: Mapping[str, Any] | None = None,
               upgrade: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
               extendable: tuple[str, ...] = ()) -> bool:
        """Start a new run with ``config``, or continue the one already in the directory.

        Args:
            config: The resolved config as plain data (``parsecnas.config.to_dict(cfg)``).
            resume: Continue the existing run; its stored config must equal ``config``.
            defaults: The config class's defaults as plain data (``to_dict(type(cfg)())``). A key missing from
                the stored config (a run written before that field existed) then matches when the given value
                is the field's default, the value that older version ran with.
            upgrade: Rewrites a stored config of an older shape into the current one before comparing (e.g.
                a search's per-strategy sections into ``settings``); the file itself is left as it is.
            extendable: Dotted keys (``"epochs"``) that a resume may raise: a larger given value does not
                differ, and the stored config is rewritten with it (the run goes on to the new length).

        Returns:
            True when an existing run is being resumed (call :meth:`restore` next), False for a new run.

        Raises:
            RunError: The directory holds a run and ``resume`` is False, holds one with a different config
                (the message lists the differing keys), holds no run although ``resume`` is True, or is a
                non-empty directory that is not a run.
        """
        plain = _plain_config(config)
        if self.exists():
            if not resume:
                raise RunError(f"{self.path} already holds a run; resume it (resume=True / --resume) or "
                               f"choose a new run directory")
            stored = self.config()
            compared = upgrade(stored) if upgrade else stored
            raised = _raised(compared, plain, extendable)
            diffs = _diff(_with_values(compared, raised), plain, _plain_config(defaults or {}))
            if diffs:
                more = "; ..." if len(diffs) > _MAX_DIFFS_SHOWN else ""
                shown = "; ".join(diffs[:_MAX_DIFFS_SHOWN]) + more
                raise RunError(f"cannot resume {self.path}: its config differs from the given one in "
                               f"{len(diffs)} key(s): {shown}. Resume with the original config or start a "
                               f"new run directory")
            remove_stale_temp_files(self.path)
            if raised:
                atomic_write_text(self.path / CONFIG_FILE, yaml.safe_dump(_with_values(stored, raised),
                                                                          sort_keys=False))
            return True
        if resume:
            raise self._nothing_to_resume()
        self._refuse_foreign()
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path / CONFIG_FILE, yaml.safe_dump(plain, sort_keys=False))
        return False

    def _nothing_to_resume(self) -> RunError:
        return RunError(f"nothing to resume in {self.path}: it holds no run (looked for {self.path / CONFIG_FILE}); "
                        f"check the directory name, or drop --resume to start a new run there")

    def _refuse_foreign(self) -> None:
        """RunError when the path is a file, or a non-empty directory holding no run (its lock file aside), or
        lies under a file."""
        blocked = next((p for p in self.path.parents if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise RunError(f"cannot make the run directory {self.path}: {blocked} is a file, not a folder; choose "
                           "another run directory")
        if self.exists() or not self.path.exists():
            return
        if self.path.is_dir():  # a run killed while writing its config.yaml left only temporary files
            remove_stale_temp_files(self.path)
        if not self.path.is_dir() or any(p.name != LOCK_FILE for p in self.path.iterdir()):
            raise RunError(f"{self.path} exists and is not an empty directory, but holds no run "
                           f"(no {CONFIG_FILE}); choose a new or empty run directory")

    def config(self) -> dict[str, Any]:
        """The stored config as plain data."""
        if not self.exists():
            raise RunError(f"{self.path} holds no run (no {CONFIG_FILE})")
        data = yaml.safe_load((self.path / CONFIG_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}

    # ---------------------------------------------------------------------------------------- metrics

    def log(self, record: Mapping[str, Any]) -> None:
        """Append one metrics record as a fsynced JSON line (see ``parsecnas.run.metrics.MetricsLog``), then
        mirror it to the trackers of :meth:`tracking`."""
        self._metrics.append(record)
        for tracker in self._trackers:
            tracker.log(record)

    @contextmanager
    def tracking(self, names: Sequence[str]) -> Iterator[None]:
        """Mirror every record logged inside the ``with`` to the trackers ``names`` (``csv``, ``tensorboard``,
        ``mlflow``: :mod:`parsecnas.run.tracking`); enter it after :meth:`restore`, close them on exit."""
        self._trackers = open_trackers(names, self.path)
        failed = True
        try:
            yield
            failed = False
        finally:
            trackers, self._trackers = self._trackers, []
            for tracker in trackers:
                tracker.close(failed)

    def metrics(self) -> list[dict[str, Any]]:
        """Every metrics record, in the order logged."""
        return self._metrics.read()

    def truncate_metrics(self, after: float, key: str = "epoch") -> int:
        """Drop the records whose ``key`` exceeds ``after``; returns how many were dropped."""
        return self._metrics.truncate(after, key)

    # ------------------------------------------------------------------------------------ checkpoints

    def save_checkpoint(self, state: Mapping[str, Any], name: str = CHECKPOINT_FILE) -> Path:
        """Write ``state`` atomically (tensors and plain values only; see ``parsecnas.run.checkpoint``).

        Log the epoch's metrics before saving its checkpoint, so :meth:`restore` can cut the log exactly.
        """
        return save_checkpoint(state, self.path_of(name))

    def load_checkpoint(self, name: str = CHECKPOINT_FILE,
                        map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """The checkpoint ``name``, or None if there is none; refuses pickled objects (``weights_only``)."""
        return load_checkpoint(self.path_of(name), map_location)

    def restore(self, name: str = CHECKPOINT_FILE, key: str = "epoch",
                map_location: str | torch.device = "cpu", *, limit: int | None = None,
                parts: Mapping[str, Callable[[Any], object]] | None = None,
                numbers: Sequence[str] = (), cut_log: bool = True) -> dict[str, Any] | None:
        """Load and validate the checkpoint, load it into ``parts``, then cut the metrics log back to it.

        Records whose ``key`` exceeds the checkpoint's ``state[key]`` were written after it and are dropped;
        with no checkpoint, every record carrying ``key`` is. Rerunning from there reproduces the log of an
        uninterrupted run. Nothing in the directory changes unless the checkpoint passes every check.

        Args:
            name: the checkpoint file.
            key: the progress counter: an integer >= 0 (and <= ``limit`` when given).
            map_location: where tensors are placed.
            limit: the largest valid ``state[key]`` (e.g. the run's epochs).
            parts: ``{entry: load}``: each entry is required and loaded with its function (e.g.
                ``net.load_state_dict``); one that does not fit is a CheckpointError naming it.
            numbers: entries that must be finite numbers >= 0 (e.g. ``elapsed``).
            cut_log: cut the metrics log; ``False`` reads only (the ranks of a distributed run other than
                rank 0, which never write).

        Returns:
            The checkpoint state, or None if the run has none yet (start from scratch).

        Raises:
            CheckpointError: the checkpoint is corrupt, lacks an entry, or holds an out-of-range value.
        """
        state = self.load_checkpoint(name, map_location)
        if state is None:
            if cut_log:
                self.truncate_metrics(-math.inf, key)
            return None
        path, parts = self.path_of(name), parts or {}
        step = check_resume_state(state, path, key, limit=limit, required=tuple(parts), numbers=numbers)
        load_parts(state, path, parts)
        if cut_log:
            self.truncate_metrics(float(step), key)
        return state

    # ---------------------------------------------------------------------------------------- outputs

    def path_of(self, name: str | Path) -> Path:
        """The path of ``name`` inside the run directory; ``name`` must stay inside it."""
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ValueError(f"run file name {str(name)!r} must be a relative path inside the run directory "
                             f"(e.g. 'genotype.json', 'cells/normal.png')")
        return self.path / relative

    def write_text(self, name: str | Path, text: str) -> Path:
        """Atomically write ``text`` to ``name`` in the run directory; returns its path."""
        return atomic_write_text(self.path_of(name), text)

    def write_json(self, name: str | Path, obj: Any) -> Path:
        """Atomically write ``obj`` as indented, strict JSON to ``name`` in the run directory (non-finite
        numbers, e.g. top-5 accuracy with <= 5 classes, become ``null``); returns its path."""
        return self.write_text(name, json.dumps(strict_json(obj), indent=2, allow_nan=False) + "\n")

    def read_json(self, name: str | Path) -> Any:
        """Read back a JSON file written by :meth:`write_json`."""
        return json.loads(self.path_of(name).read_text(encoding="utf-8"))

    def summary(self) -> str:
        """A few lines describing the run: its directory, config size, metrics and files."""
        if not self.exists():
            return f"{self!r}: no run here (no {CONFIG_FILE})"
        records = self.metrics()
        lines = [f"{self!r}: {len(self.config())} top-level config keys, {len(records)} metrics records"]
        if records:
            lines.append(f"  last record: {json.dumps(records[-1])}")
        files = sorted(p for p in self.path.rglob("*") if p.is_file() and not p.name.startswith("."))
        lines += [f"  {p.relative_to(self.path)}  ({_size(p.stat().st_size)})" for p in files]
        return "\n".join(lines)


def _plain_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` as it reads back from YAML (tuples become lists), so stored and new configs compare."""
    if not isinstance(config, Mapping):
        raise TypeError(f"a run's config must be a mapping of plain data, got {type(config).__name__}; "
                        f"pass parsecnas.config.to_dict(cfg) for a config dataclass")
    try:
        return yaml.safe_load(yaml.safe_dump(dict(config))) or {}
    except yaml.YAMLError as exc:
        raise TypeError(f"a run's config must be plain data (dict, list, str, int, float, bool, None); "
                        f"use parsecnas.config.to_dict(cfg): {exc}") from exc


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _raised(stored: Mapping[str, Any], given: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The ``keys`` whose given number is larger than the stored one, with the given values."""
    old, new = _flatten(stored), _flatten(given)
    def count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    return {k: new[k] for k in keys if count(old.get(k)) and count(new.get(k)) and new[k] > old[k]}


def _with_values(config: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of nested ``config`` with the dotted ``values`` set."""
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in config.items()}
    for key, value in values.items():
        *sections, leaf = key.split(".")
        node = out
        for section in sections:
            node[section] = dict(node.get(section, {}))
            node = node[section]
        node[leaf] = value
    return out


def _diff(stored: Mapping[str, Any], new: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """``key: stored X, given Y`` for each dotted key whose value differs; a key absent from the stored config
    whose given value is its default does not differ (the stored run predates the field)."""
    old_flat, new_flat, default_flat = _flatten(stored), _flatten(new), _flatten(defaults)
    missing = "<absent>"
    for key in new_flat.keys() - old_flat.keys():
        if key in default_flat and default_flat[key] == new_flat[key]:
            old_flat[key] = new_flat[key]
    return [f"{key}: stored {short_repr(old_flat.get(key, missing))}, given {short_repr(new_flat.get(key, missing))}"
            for key in sorted(old_flat.keys() | new_flat.keys())
            if old_flat.get(key, missing) != new_flat.get(key, missing)]


def _size(n_bytes: int) -> str:
    units = ("B", "kB", "MB", "GB")
    size, i = float(n_bytes), 0
    while size >= 1000 and i < len(units) - 1:
        size, i = size / 1000, i + 1
    return f"{size:.0f} B" if i == 0 else f"{size:.1f} {units[i]}"
