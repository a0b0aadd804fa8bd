from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from parsecnas.run import MetricsError, MetricsLog


def test_records_read_back_in_order_with_array_scalars_converted(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "sub" / "metrics.jsonl")
    assert log.read() == []
    log.append({"epoch": 0, "loss": np.float32(0.5), "acc": torch.tensor(0.25),
                "probs": torch.tensor([0.5, 0.5])})
    log.append({"epoch": 1, "loss": float("nan")})
    records = log.read()
    assert records[0] == {"epoch": 0, "loss": 0.5, "acc": 0.25, "probs": [0.5, 0.5]}
    assert records[1]["epoch"] == 1 and math.isnan(records[1]["loss"])
    assert len(log.path.read_text().splitlines()) == 2


def test_a_half_written_last_line_is_ignored_then_replaced(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.append({"epoch": 0})
    with open(log.path, "a") as f:
        f.write('{"epoch": 1, "lo')  # the process died mid-append
    assert log.read() == [{"epoch": 0}]
    log.append({"epoch": 1, "loss": 0.1})
    assert log.read() == [{"epoch": 0}, {"epoch": 1, "loss": 0.1}]


def test_a_damaged_line_in_the_middle_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 0}\n{oops\n{"epoch": 2}\n')
    with pytest.raises(MetricsError, match=r"metrics.jsonl:2: not a JSON record"):
        MetricsLog(path).read()


def test_truncate_drops_later_keyed_records_and_keeps_unkeyed_ones(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    records: list[dict[str, object]] = [
        {"event": "start"}, {"epoch": 0}, {"epoch": 1}, {"epoch": 1, "step": 5}, {"epoch": 2}]
    for record in records:
        log.append(record)
    assert log.truncate(after=0) == 3
    assert log.read() == [{"event": "start"}, {"epoch": 0}]
    assert log.truncate(after=0) == 0
    assert log.truncate(after=-math.inf) == 1
    assert log.read() == [{"event": "start"}]
    assert MetricsLog(tmp_path / "absent.jsonl").truncate(after=3) == 0


def test_truncate_by_another_key(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for step in range(5):
        log.append({"step": step})
    assert log.truncate(after=2, key="step") == 2
    assert [r["step"] for r in log.read()] == [0, 1, 2]


def test_unserialisable_records_are_refused(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    with pytest.raises(MetricsError, match="cannot write metrics record"):
        log.append({"model": object()})
    with pytest.raises(MetricsError, match="must be a mapping"):
        log.append([1, 2])  # type: ignore[arg-type]
    assert log.read() == []
