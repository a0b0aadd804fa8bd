"""NaN in, error out: every float setting refuses NaN and infinity, the SGD ranges are enforced, and a run whose
loss or state stops being finite stops with a clear error, keeping its last good checkpoint."""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest
import torch

import parsecnas.train as train_module
from parsecnas import strategies
from parsecnas.cli import main
from parsecnas.data import LoaderConfig
from parsecnas.estimators.training import PartialTrainingConfig
from parsecnas.optim import WeightOptimConfig
from parsecnas.run.divergence import non_finite_tensors
from parsecnas.search import DataConfig, NetConfig, SearchConfig
from parsecnas.strategies import Parsec
from parsecnas.train import TrainConfig

CONFIGS = [WeightOptimConfig, DataConfig, NetConfig, SearchConfig, TrainConfig, LoaderConfig,
           PartialTrainingConfig, *(getattr(strategies, name) for name in strategies.__all__
                                    if name.endswith("Config"))]


def float_fields(cls):
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        text = str(hints[f.name])
        if hints[f.name] is float or "float" in text:
            yield f.name, text.startswith("tuple")


CASES = [(cls, name, is_tuple, bad) for cls in CONFIGS for name, is_tuple in float_fields(cls)
         for bad in (math.nan, math.inf)]


@pytest.mark.parametrize(("cls", "name", "is_tuple", "bad"), CASES,
                         ids=[f"{c.__name__}.{n}={b}" for c, n, _, b in CASES])
def test_every_float_setting_refuses_nan_and_infinity(cls, name, is_tuple, bad) -> None:
    default = getattr(cls(), name)
    value = (bad, *default[1:]) if is_tuple else bad
    with pytest.raises(ValueError, match=f"{name} must be a finite number, got {bad}"):
        cls(**{name: value})


def test_every_config_has_float_settings_checked() -> None:
    assert len({c for c, *_ in CASES}) >= 12 and len(CASES) > 60


SEARCH = ["--quiet", "--epochs=2", "--steps_per_epoch=1", "--net.num_cells=3", "--net.channels=4",
          "--data.batch_size=4", "--data.eval_examples=8", "--settings.samples=2"]
TRAIN = ["DARTS_V2", "--quiet", "--dataset=fashion-mnist-small", "--num_cells=2", "--channels=4", "--epochs=2",
         "--steps_per_epoch=1", "--batch_size=4", "--cutout=0"]


def command(kind, run_dir, *more):
    return (["search", "--run-dir", str(run_dir), *SEARCH] if kind == "search"
            else ["train", *TRAIN, "--run-dir", str(run_dir)]) + list(more)


@pytest.mark.parametrize(("kind", "flag", "message"), [
    ("train", "--lr=nan", "lr must be a finite number, got nan"),
    ("train", "--lr=inf", "lr must be a finite number, got inf"),
    ("train", "--grad_clip=-1", "grad_clip > 0"),
    ("train", "--lr_min=-1", "0 <= lr_min <= lr"),
    ("train", "--lr_min=5", "lr_min=5.0"),
    ("train", "--momentum=1.5", "momentum must lie in [0, 1)"),
    ("search", "--weights.lr=nan", "weights: lr must be a finite number"),
    ("search", "--weights.lr=inf", "weights: lr must be a finite number"),
    ("search", "--settings.arch_lr=inf", "settings: arch_lr must be a finite number"),
    ("search", "--weights.grad_clip=-1", "grad_clip > 0"),
    ("search", "--weights.lr_min=5", "lr_min=5.0"),
])
def test_bad_numbers_are_refused_before_a_run_starts(tmp_path, capsys, kind, flag, message) -> None:
    assert main(command(kind, tmp_path / "run", flag)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("kind", ["search", "train"])
def test_yaml_nan_is_refused(tmp_path, capsys, kind) -> None:
    text = "weights:\n  lr: .nan\n" if kind == "search" else "lr: .nan\n"
    (tmp_path / "c.yaml").write_text(text)
    assert main(command(kind, tmp_path / "run", "--config", str(tmp_path / "c.yaml"))) == 2
    assert "lr must be a finite number, got nan" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def _on_call(n, original, spoil):
    """``original`` wrapped so that its ``n``-th call's result (and the object it was called on) is spoiled."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        out = original(*args, **kwargs)
        if len(calls) == n:
            with torch.no_grad():
                out = spoil(args, out)
        return out
    return wrapped


def _nan_result(args, out):
    return out * math.nan


def _nan_stats(args, stats):
    return {**stats, "loss": math.nan}


def _nan_supernet_weight(args, stats):  # Parsec.step(self, net, ...)
    next(args[1].parameters()).fill_(math.nan)
    return stats


def _nan_trained_weight(args, out):  # SGD.step(self)
    args[0].param_groups[0]["params"][0].fill_(math.nan)
    return out


SPOILERS = {  # (kind, what goes wrong on the second step, i.e. in epoch 2) -> (object, attribute, spoil)
    ("train", "loss"): (train_module, "training_loss", _nan_result),
    ("train", "weights"): (torch.optim.SGD, "step", _nan_trained_weight),
    ("search", "loss"): (Parsec, "step", _nan_stats),
    ("search", "weights"): (Parsec, "step", _nan_supernet_weight),
}


@pytest.mark.parametrize("kind", ["search", "train"])
@pytest.mark.parametrize("how", ["loss", "weights"])
def test_a_diverging_run_stops_and_keeps_its_last_good_checkpoint(tmp_path, capsys, monkeypatch, kind,
                                                                  how) -> None:
    target, name, spoil = SPOILERS[kind, how]
    monkeypatch.setattr(target, name, _on_call(2, getattr(target, name), spoil))
    run_dir = tmp_path / "run"
    assert main(command(kind, run_dir)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "diverged" in err
    assert "epoch 2" in err and "last good checkpoint (epoch 1)" in err and "--resume" in err
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1 and not list(non_finite_tensors(state))
    assert not (run_dir / "model.pt").exists() and not (run_dir / "result.json").exists()
