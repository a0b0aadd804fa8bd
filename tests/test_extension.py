"""Extension needs no edits elsewhere: a space and a strategy defined here, registered here, run whole searches
through the CLI and write every output; the seams they plug into (registries, hooks, checks) hold."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn

from parsecnas.cli import main
from parsecnas.run import Run
from parsecnas.spaces import base as space_registry
from parsecnas.spaces.base import Decision, Space
from parsecnas.strategies import base as strategy_registry
from parsecnas.strategies import create_blackbox, list_blackbox, run_blackbox
from parsecnas.strategies.base import Batch, Scheduled, WeightSharingStrategy, register_strategy, strategies_for

LAYER_OPS = ("conv", "pool", "skip")


class ToySpace(Space):
    """Two layers, each one of three ops: 9 architectures, written ``conv-pool``; no relaxed view."""

    name = "toy"

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return tuple(Decision(f"layer{i}", LAYER_OPS) for i in range(2))

    def from_choices(self, choices: Sequence[int]) -> tuple[str, ...]:
        return tuple(LAYER_OPS[c] for c in choices)

    def to_choices(self, arch: Any) -> tuple[int, ...]:
        return tuple(LAYER_OPS.index(op) for op in arch)

    def parse(self, text: str) -> tuple[str, ...]:
        return tuple(text.split("-"))

    def format(self, arch: Any) -> str:
        return "-".join(arch)

    def build(self, arch: Any, **net_options: Any) -> nn.Module:
        raise NotImplementedError("the toy space only searches")

    def supernet(self, **net_options: Any) -> nn.Module:
        return ToySuperNet(net_options["in_channels"], net_options["channels"], net_options["num_classes"])


class ToySuperNet(nn.Module):
    def __init__(self, in_channels: int, channels: int, num_classes: int) -> None:
        super().__init__()
        self.stem = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.convs = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in range(2))
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor, arch: Sequence[str]) -> torch.Tensor:
        x = self.stem(x)
        for conv, op in zip(self.convs, arch):
            x = torch.relu(conv(x)) if op == "conv" else nn.functional.avg_pool2d(x, 3, 1, 1) if op == "pool" else x
        return self.head(x.mean((2, 3)))


@dataclass(frozen=True)
class ToyStrategyConfig(Scheduled):
    """Attributes: samples: uniform paths trained per step; stop_after: epochs before should_stop (0: never)."""

    samples: int = 1
    stop_after: int = 0
    steps_per_epoch: int = 1  # its schedule: the search loop sets it
    schedule_fields = ("steps_per_epoch",)


class ToyStrategy(WeightSharingStrategy):
    """Trains uniform paths and returns the one with the lowest mean search loss seen."""

    name = "toy_uniform"

    def __init__(self, space: Space, config: ToyStrategyConfig, seed: int) -> None:
        self.space, self.config = space, config
        self.generator = torch.Generator().manual_seed(seed)
        self.losses: dict[str, list[float]] = {}
        self.steps = 0

    def step(self, net: nn.Module, weights: Any, train: Batch, search: Batch) -> dict[str, float]:
        weights.zero_grad()
        total = 0.0
        for _ in range(self.config.samples):
            arch = self.space.from_choices([int(torch.randint(3, (1,), generator=self.generator)) for _ in range(2)])
            loss = nn.functional.cross_entropy(net(train[0], arch), train[1])
            loss.backward()
            with torch.no_grad():
                search_loss = float(nn.functional.cross_entropy(net(search[0], arch), search[1]))
            self.losses.setdefault(self.space.format(arch), []).append(search_loss)
            total += loss.item()
        weights.step()
        self.steps += 1
        return {"loss": total / self.config.samples}

    def derive(self) -> Hashable:
        if not self.losses:
            return self.space.from_choices([0, 0])
        best = min(self.losses, key=lambda a: sum(self.losses[a]) / len(self.losses[a]))
        return self.space.parse(best)

    def should_stop(self) -> bool:
        epochs = self.steps // self.config.steps_per_epoch
        return 0 < self.config.stop_after <= epochs

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "losses": dict(self.losses), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.losses = {k: list(v) for k, v in state["losses"].items()}
        self.steps = int(state["steps"])


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy space and strategy registered for one test (the registries are restored after it)."""
    monkeypatch.setitem(space_registry._REGISTRY, "toy", ToySpace)
    monkeypatch.setattr(strategy_registry, "_REGISTRY", dict(strategy_registry._REGISTRY))
    register_strategy("toy_uniform", lambda space, config, seed: ToyStrategy(space, config, seed),
                      ToyStrategyConfig, spaces=("toy",), summary="uniform paths (a test strategy)")


def search_args(run_dir: Any, *extra: str) -> list[str]:
    return ["search", "--run-dir", str(run_dir), "--quiet", "--space=toy", "--epochs=2", "--steps_per_epoch=2",
            "--net.channels=4", "--data.batch_size=8", "--data.eval_examples=16", *extra]


def run_files(path: Any) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir()) if f.is_file()}


def test_a_strategy_and_a_space_defined_outside_the_package_run_a_whole_search_through_the_cli(toy, tmp_path
                                                                                            ) -> None:
    run_dir = tmp_path / "run"
    assert main(search_args(run_dir, "--strategy", "toy_uniform", "--settings.samples=2")) == 0
    run = Run(run_dir)
    assert [m["epoch"] for m in run.metrics()] == [1, 2]
    arch = ToySpace().parse((run_dir / "architecture.txt").read_text().strip())
    assert len(arch) == 2 and set(arch) <= set(LAYER_OPS)
    assert run.config()["settings"] == {"samples": 2, "stop_after": 0, "steps_per_epoch": 2}  # as it ran
    files = run_files(run_dir)
    assert {"config.yaml", "metrics.jsonl", "checkpoint.pt", "architecture.txt", "search_cost.json"} <= set(files)
    # resuming the finished run runs nothing and rewrites nothing
    assert main(search_args(run_dir, "--strategy", "toy_uniform", "--settings.samples=2", "--resume")) == 0
    assert run_files(run_dir) == files


def test_parsec_searches_a_new_space_with_no_relaxed_view(toy, tmp_path) -> None:
    assert strategies_for(ToySpace()) == ["enas", "parsec", "spos", "toy_uniform"]  # those needing no view
    assert main(search_args(tmp_path / "p", "--settings.samples=2")) == 0
    assert (tmp_path / "p" / "distribution.json").is_file() and (tmp_path / "p" / "architecture.txt").is_file()


@pytest.mark.parametrize("name", ["darts", "gdas", "snas", "xnas"])
def test_a_relaxed_strategy_on_a_space_without_the_view_is_refused_before_the_run_directory_exists(
        toy, name: str, tmp_path, capsys) -> None:
    assert main(search_args(tmp_path / "r", "--strategy", name)) == 2
    err = capsys.readouterr().err
    assert f"'{name}' does not support the 'toy' space" in err and "RelaxedSpace" in err and "parsec" in err
    assert not (tmp_path / "r").exists()


def test_a_search_the_strategy_stops_early_resumes_to_nothing_more(toy, tmp_path) -> None:
    """The DARTS+ case: the strategy ends the search after epoch 1 of 2; a resume must not run epoch 2."""
    run_dir = tmp_path / "s"
    args = search_args(run_dir, "--strategy", "toy_uniform", "--settings.stop_after=1")
    assert main(args) == 0
    files = run_files(run_dir)
    assert [m["epoch"] for m in Run(run_dir).metrics()] == [1]
    assert main([*args, "--resume"]) == 0
    assert run_files(run_dir) == files


def test_settings_of_another_strategy_are_an_error_and_the_old_section_still_loads(toy, tmp_path, capsys) -> None:
    assert main(search_args(tmp_path / "a", "--strategy", "toy_uniform", "--parsec.samples=3")) == 2
    assert "settings of strategy 'parsec'" in capsys.readouterr().err and not (tmp_path / "a").exists()
    with pytest.warns(DeprecationWarning, match="settings"):
        assert main(search_args(tmp_path / "b", "--parsec.samples=2")) == 0
    assert Run(tmp_path / "b").config()["settings"]["samples"] == 2


@pytest.mark.parametrize("name", list_blackbox())
def test_every_black_box_strategy_ends_on_a_space_smaller_than_its_budget(toy, name: str) -> None:
    space = ToySpace()
    strategy = create_blackbox(name, space, seed=0)
    trajectory = run_blackbox(strategy, lambda arch: float(sum(space.to_choices(arch))), budget=12)
    assert len(trajectory.archs) == 12 and all(space.parse(space.format(a)) == a for a in trajectory.archs)
    assert trajectory.best_scores[-1] == max(trajectory.scores)
