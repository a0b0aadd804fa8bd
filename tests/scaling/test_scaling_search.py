"""The coefficient search on a stand-in family registered here (it plugs in through ``register_scalable`` alone,
as the elastic sub-networks will): the best candidate is chosen, networks of one size train once, unfair
roundings do not compete, and a killed search resumes to the uninterrupted choice."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from parsecnas.run import Run, RunError
from parsecnas.scaling import Dims, NetCost, Rounding, ScalableNet, ScaleConfig, register_scalable, scale


@dataclass(frozen=True)
class ToyConfig:
    """Attributes:
        depth: layers.
        width: channels.
        side: image side.
        best: the (depth, width, side) the stand-in accuracy peaks at."""

    depth: int = 20
    width: int = 20
    side: int = 20
    best: tuple[int, int, int] = (24, 22, 23)


class ToyNet(ScalableNet):
    """Multiply-adds depth * width^2 * side^2 (exactly EfficientNet's model); the 'accuracy' a known function."""

    trained: list[Dims] = []
    fail_at: int | None = None

    def __init__(self, config: ToyConfig) -> None:
        self.config = config

    def base(self) -> Dims:
        return Dims(self.config.depth, self.config.width, self.config.side)

    def scaled(self, depth: float, width: float, resolution: float, rounding: Rounding) -> Dims:
        b = self.base()
        return Dims(round(b.depth * depth), round(b.width * width), round(b.resolution * resolution))

    def cost(self, dims: Dims) -> NetCost:
        return NetCost(dims.depth * dims.width ** 2, dims.depth * dims.width ** 2 * dims.resolution ** 2)

    def train(self, dims: Dims, run_dir: Path, epochs: int, steps_per_epoch: int | None,
              resume: bool) -> dict[str, Any]:
        if ToyNet.fail_at is not None and len(ToyNet.trained) == ToyNet.fail_at:
            raise KeyboardInterrupt  # killed while training this candidate
        ToyNet.trained.append(dims)
        best = self.config.best
        score = 1 / (1 + sum(abs(math.log(v / b)) for v, b in zip((dims.depth, dims.width, dims.resolution), best)))
        result = {"val_accuracy": score}
        Run(run_dir).write_json("result.json", result)
        return result

    def settings(self, dims: Dims) -> dict[str, Any]:
        return {"layers": dims.depth}


register_scalable("toy", lambda source, config: ToyNet(config), ToyConfig, summary="a stand-in")
GRID = {"alphas": (1.0, 1.2, 2.0), "betas": (1.0, 1.1, 1.4), "gammas": (1.0, 1.15, 1.4), "tolerance": 0.05}


@pytest.fixture(autouse=True)
def fresh() -> None:
    ToyNet.trained, ToyNet.fail_at = [], None


def config(**fields: Any) -> ScaleConfig:
    return ScaleConfig(kind="toy", **{**GRID, **fields})


def test_the_best_scoring_candidate_is_chosen_and_scales_by_phi(tmp_path: Path) -> None:
    result = scale("toy", config(phi=2), tmp_path)
    scores = {(r["alpha"], r["beta"], r["gamma"]): r["val_accuracy"] for r in result["candidates"]}
    assert list(scores) == [(1.0, 1.0, 1.4), (1.0, 1.4, 1.0), (1.2, 1.1, 1.15), (2.0, 1.0, 1.0)]  # grid order
    assert result["coefficients"] == {"alpha": 1.2, "beta": 1.1, "gamma": 1.15}  # (24, 22, 23): the peak
    assert scores[(1.2, 1.1, 1.15)] == 1.0 == max(scores.values())
    rows = {row["phi"]: row for row in result["table"]}
    assert (rows[2.0]["depth"], rows[2.0]["width"], rows[2.0]["resolution"]) == (29, 24, 26)  # 20 x 1.44, 1.21, 1.32
    assert rows[2.0]["predicted_ratio"] == pytest.approx((1.2 * 1.1 ** 2 * 1.15 ** 2) ** 2)
    assert rows[2.0]["actual_ratio"] == pytest.approx(29 * 24 ** 2 * 26 ** 2 / 20 ** 5)
    assert rows[2.0]["target_ratio"] == 4.0 and rows[0.0]["actual_ratio"] == 1.0
    assert result["scaled"] == rows[2.0] and result["scaled"]["layers"] == 29  # the family's settings
    assert json.loads((tmp_path / "scale.json").read_text())["coefficients"] == result["coefficients"]
    assert [r["candidate"] for r in Run(tmp_path).metrics()] == [0, 1, 2, 3]


def test_candidates_of_one_size_train_once_and_unfair_roundings_do_not_compete(tmp_path: Path) -> None:
    twins = ScaleConfig(kind="toy", alphas=(1.0, 2.0), betas=(1.0, 1.02), gammas=(1.0,), madds_tolerance=None)
    result = scale("toy", twins, tmp_path / "twins")  # 20 x 1.02 rounds to 20: the same network twice
    assert len(result["candidates"]) == 2 and ToyNet.trained == [Dims(40, 20, 20)]
    assert result["candidates"][1]["run_dir"] == result["candidates"][0]["run_dir"] == "candidate-000"
    ToyNet.trained = []
    small = ToyConfig(depth=3, width=3)  # beta 1.4 rounds 3 channels to 4: x1.78 where 2 is the target
    fair = ScaleConfig(kind="toy", alphas=(1.0, 2.0), betas=(1.0, 1.4), gammas=(1.0,), madds_tolerance=0.1, net=small)
    first, second = scale("toy", fair, tmp_path / "fair")["candidates"]
    assert (first["madds_ratio"], first["val_accuracy"], first["run_dir"]) == (pytest.approx(16 / 9), None, None)
    assert second["madds_ratio"] == 2.0 and ToyNet.trained == [Dims(6, 3, 20)]
    unfair = ScaleConfig(kind="toy", alphas=(1.0,), betas=(1.0, 1.4), gammas=(1.0,), madds_tolerance=0.1, net=small)
    with pytest.raises(ValueError, match=r"no candidate's rounded network .* within 10% of x2 .* \(they have x1.78\)"):
        scale("toy", unfair, tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_a_killed_search_resumes_to_the_uninterrupted_choice_without_retraining(tmp_path: Path) -> None:
    cfg = config(phi=1, net=ToyConfig(best=(40, 20, 20)))
    reference = scale("toy", cfg, tmp_path / "whole")
    ToyNet.trained, ToyNet.fail_at = [], 2
    with pytest.raises(KeyboardInterrupt):
        scale("toy", cfg, tmp_path / "killed")
    assert len(Run(tmp_path / "killed").metrics()) == 2 and not (tmp_path / "killed" / "scale.json").exists()
    ToyNet.fail_at = None
    with pytest.raises(RunError, match="already holds a run"):
        scale("toy", cfg, tmp_path / "killed")
    resumed = scale("toy", cfg, tmp_path / "killed", resume=True)
    assert len(ToyNet.trained) == 4  # two before the kill, the other two after it
    assert resumed["coefficients"] == reference["coefficients"] == {"alpha": 2.0, "beta": 1.0, "gamma": 1.0}
    assert resumed["candidates"] == reference["candidates"]
    raised = scale("toy", config(phi=3, net=ToyConfig(best=(40, 20, 20))), tmp_path / "killed", resume=True)
    assert len(ToyNet.trained) == 4 and [row["phi"] for row in raised["table"]] == [0.0, 1.0, 2.0, 3.0]
    assert scale("toy", config(phi=0.5, net=ToyConfig(best=(40, 20, 20))), tmp_path / "killed",
                 resume=True)["scaled"]["phi"] == 0.5  # any phi, from the same search
    with pytest.raises(RunError, match="differs"):
        scale("toy", config(phi=3, tolerance=0.1, net=ToyConfig(best=(40, 20, 20))), tmp_path / "killed",
              resume=True)


def test_bad_settings_are_refused_in_one_line() -> None:
    for fields, message in [({"phi": -1}, "phi must be >= 0"), ({"tolerance": 0.0, "alphas": (1.5,), "betas": (1.0,),
                                                                 "gammas": (1.0,)}, "no point of the grid"),
                            ({"kind": "nope"}, "unknown kind 'nope'"), ({"madds_tolerance": -0.1}, "madds_tolerance")]:
        with pytest.raises(ValueError, match=message) as err:
            ScaleConfig(**fields)
        assert "\n" not in str(err.value)
