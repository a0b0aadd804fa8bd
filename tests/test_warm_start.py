"""--init-from either transfers what it says it does or refuses: never a silent no-op."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from parsecnas.cli import main
from parsecnas.distributions import CategoricalProduct
from parsecnas.spaces import get_space
from parsecnas.strategies import Parsec
from parsecnas.warm_start import warm_start

SEARCH = ["--quiet", "--epochs=1", "--steps_per_epoch=1", "--net.num_cells=3", "--net.channels=4",
          "--data.batch_size=4", "--data.eval_examples=8", "--settings.samples=2"]


def earlier_run(path, space="darts", keep=None):
    """A finished search's distribution.json, its logits favouring the last choice of every decision."""
    distribution = CategoricalProduct(get_space(space).decisions)
    exported = distribution.export()
    exported["logits"] = [[float(i) for i in range(len(row))] for row in exported["logits"]]
    if keep is not None:
        for key in ("names", "choices", "logits"):
            exported[key] = exported[key][:keep]
    path.mkdir(parents=True)
    (path / "distribution.json").write_text(json.dumps(exported))
    return path


@pytest.mark.parametrize(("strategy", "source_space", "message"), [
    ("darts", "darts", "strategy 'darts' cannot be warm-started"),
    ("gdas", "darts", "strategy 'gdas' cannot be warm-started"),
    ("parsec", "nb201", "none of the 16 decisions of the 'darts' space"),
])
def test_a_warm_start_that_cannot_happen_is_an_error_before_the_run_starts(tmp_path, capsys, strategy,
                                                                           source_space, message) -> None:
    source = earlier_run(tmp_path / "earlier", source_space)
    run_dir = tmp_path / "new"
    flags = SEARCH if strategy == "parsec" else [f for f in SEARCH if not f.startswith("--settings.")]
    args = ["search", "--run-dir", str(run_dir), "--strategy", strategy, "--init-from", str(source), *flags]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not run_dir.exists()


def test_a_partial_transfer_warns_naming_what_was_not_transferred(tmp_path, caplog) -> None:
    space = get_space("darts")
    source = earlier_run(tmp_path / "earlier", keep=10)
    strategy = Parsec(space)
    with caplog.at_level(logging.WARNING):
        transferred = warm_start(strategy, space, source)
    names = [d.name for d in space.decisions]
    assert transferred == names[:10]
    assert "transferred 10 of 16 decisions; 6 kept their prior" in caplog.text
    assert names[10] in caplog.text and names[9] not in caplog.text
    logits = strategy.distribution.export()["logits"]
    assert logits[0] == [float(i) for i in range(len(logits[0]))]  # transferred
    assert len(set(logits[-1])) == 1  # left uniform


def test_a_full_transfer_copies_every_decision_without_warning(tmp_path, caplog) -> None:
    space = get_space("darts")
    strategy = Parsec(space)
    with caplog.at_level(logging.WARNING):
        assert len(warm_start(strategy, space, earlier_run(tmp_path / "earlier"))) == 16
    assert not caplog.records
    assert torch.equal(strategy.distribution.mode(), torch.tensor([d.size - 1 for d in space.decisions]))
