"""Extracting a sub-network of a finished ofa search: in Python and with ``parsecnas extract``."""

from __future__ import annotations

import json

import pytest
import torch

from parsecnas.cli import main
from parsecnas.elastic_extract import extract_from_run
from parsecnas.export import export_model
from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search
from parsecnas.strategies import OfaConfig

TINY = SearchConfig(strategy="ofa", space="ofa", epochs=2, steps_per_epoch=2, net=NetConfig(num_cells=2, channels=4),
                    data=DataConfig(batch_size=8, eval_examples=32),
                    settings=OfaConfig(random_subnets=1, candidates_per_step=2))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("ofa") / "run"
    run_search(TINY, path, progress=False)
    return path


def test_extracted_subnetwork_runs_alone_and_exports(run_dir, tmp_path) -> None:
    sub = extract_from_run(run_dir)
    assert str(sub.architecture) == (run_dir / "architecture.txt").read_text().strip()
    assert 0.0 <= sub.held_out_accuracy <= 1.0 and not sub.net.training
    assert sub.net(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    info = export_model(sub.net, tmp_path / "sub.ts", "torchscript", 28)  # type: ignore[arg-type]
    assert info["max_abs_diff"] < 1e-5


def test_extract_command_exports_and_tests_a_given_subnetwork(run_dir, tmp_path, capsys) -> None:
    arch = "r24-w0.75|" + "|".join(["d2:k3e3,k5e3,k7e3,k3e3"] * 4)
    assert main(["extract", str(run_dir), "--arch", arch, "--out", str(tmp_path / "s.ts")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["architecture"] == arch and out["max_abs_diff"] < 1e-5 and 0 <= out["test_accuracy"] <= 1
    assert (tmp_path / "s.ts").is_file()


def test_extract_command_refuses_bad_input_in_one_line(run_dir, tmp_path, capsys) -> None:
    assert main(["extract", str(run_dir), "--arch", "r24", "--out", str(tmp_path / "x.ts")]) == 2
    err = capsys.readouterr().err
    assert "expected the form" in err and len(err.strip().splitlines()) == 1
    assert main(["extract", str(tmp_path / "none"), "--out", str(tmp_path / "y.ts")]) == 2
