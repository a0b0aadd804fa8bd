"""Compound scaling of an elastic (OFA) sub-network (``kind: elastic``): the rounding rules, costs that follow the
maths, a search end to end that resumes without retraining, one-line errors, and ``parsecnas scale --kind=elastic``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parsecnas.cli import main
from parsecnas.run import Run
from parsecnas.scaling import Dims, ElasticNet, Rounding, ScaleConfig, SubnetConfig, scalable_entry, scale
from parsecnas.scaling.elastic import resolve_subnet
from parsecnas.spaces.elastic_arch import ElasticArch

SUBNET = "r16-w1.0|d2:k3e3,k5e3|d1:k3e4"
TINY = SubnetConfig(channels=4, batch_size=16, valid_examples=64)
# depth x2, width x1.4 and resolution x1.4: three candidates, alpha * beta^2 * gamma^2 within 2% of 2
GRID = {"alphas": (1.0, 2.0), "betas": (1.0, 1.4), "gammas": (1.0, 1.4), "channel_divisor": 2,
        "madds_tolerance": None, "search_steps_per_epoch": 2}


def net(arch: str = SUBNET, config: SubnetConfig = TINY) -> ElasticNet:
    return ElasticNet(ElasticArch.parse(arch), config)


def test_multipliers_of_one_give_the_base_network() -> None:
    elastic = net("r24-w0.75|d3:k3e3,k5e4,k7e6|d2:k3e3,k3e3", SubnetConfig(channels=8))
    base = elastic.base()
    assert base == Dims(5, 6, 24)  # 3 + 2 blocks, stem round(8 * 0.75), 24 px
    assert elastic.scaled(1.0, 1.0, 1.0, Rounding(channel_divisor=4, resolution_divisor=8)) == base
    assert elastic.architecture(base) == elastic.arch and elastic.depths(5) == (3, 2)


def test_each_axis_rounds_by_its_rule() -> None:
    elastic = net("r24-w0.75|d3:k3e3,k5e4,k7e6|d2:k3e3,k3e3", SubnetConfig(channels=8))
    rounding = Rounding(channel_divisor=4, resolution_divisor=4)
    deeper = elastic.scaled(1.5, 1.0, 1.0, rounding)  # 3 x 1.5 = 4.5 -> 5, 2 x 1.5 = 3
    assert deeper.depth == 8 and elastic.depths(8) == (5, 3)
    assert elastic.architecture(deeper).kernels[0] == (3, 5, 7, 7, 7)  # new slots repeat the last active block
    wider = elastic.scaled(1.0, 1.5, 1.0, rounding)  # stem 6 x 1.5 = 9 -> 8, under 90% of 9: one multiple up
    assert wider.width == 12 and elastic.architecture(wider).width == 1.5  # 12 / C
    assert elastic.scaled(1.0, 1.4, 1.0, rounding).width == 8  # 8.4 -> 8
    assert elastic.scaled(1.0, 1.0, 1.3, rounding).resolution == 32  # 24 x 1.3 = 31.2 -> 32
    assert elastic.scaled(1.0, 1.0, 1.1, Rounding(4, 8)).resolution == 24  # 26.4 -> 24 at a divisor of 8
    assert [elastic.depths(t) for t in (6, 7)] == [(4, 2), (4, 3)]  # 3m steps at m = 7/6, 2m at 5/4
    twins = net("r16-w1.0|d2:k3e3,k3e3|d2:k3e3,k3e3")
    with pytest.raises(ValueError, match=r"depth 5 is not reachable from \(2, 2\).*nearest totals: 4, 6"):
        twins.depths(5)  # equal stages step together: even totals only


def test_resolution_alone_scales_multiply_adds_by_its_square_and_keeps_parameters() -> None:
    elastic = net("r16-w1.0|d1:k3e3|d1:k3e3|d1:k3e3", SubnetConfig(channels=8))
    base = elastic.base()
    larger = elastic.scaled(1.0, 1.0, 2.0, Rounding())
    assert larger.resolution == 32
    small, big = elastic.cost(base), elastic.cost(larger)
    assert big.params == small.params
    assert big.madds / small.madds == pytest.approx((32 / 16) ** 2, rel=0.1)  # the classifier does not grow
    wider = elastic.cost(elastic.scaled(1.0, 2.0, 1.0, Rounding()))
    assert wider.madds / small.madds == pytest.approx(4, rel=0.15)  # 1x1 convs quadratic, depthwise linear


def test_a_search_writes_scale_json_and_resumes_without_retraining(tmp_path: Path, monkeypatch) -> None:
    config = ScaleConfig(kind="elastic", phi=1, net=TINY, **GRID)
    result = scale(SUBNET, config, tmp_path)
    sizes = [(r["depth"], r["width"], r["resolution"]) for r in result["candidates"]]
    assert sizes == [(3, 4, 24), (3, 6, 16), (6, 4, 16)]  # gamma 1.4: 22.4 -> 24; beta: 5.6 -> 6; alpha: (4, 2)
    assert all(0 <= r["val_accuracy"] <= 1 for r in result["candidates"])
    assert result["candidates"][1]["width_multiplier"] == 1.5
    assert result["candidates"][2]["architecture"] == "r16-w1.0|d4:k3e3,k5e3,k5e3,k5e3|d2:k3e4,k3e4"
    trained = json.loads((tmp_path / "candidate-000" / "result.json").read_text())
    assert trained["steps"] == 2 and trained["architecture"].startswith("r24-")
    assert json.loads((tmp_path / "scale.json").read_text())["kind"] == "elastic"
    assert result["train_command"] is None and result["scaled"]["architecture"] != SUBNET
    monkeypatch.setattr(ElasticNet, "train", lambda *a, **k: pytest.fail("trained again"))
    again = scale(SUBNET, ScaleConfig(kind="elastic", phi=2, net=TINY, **GRID), tmp_path, resume=True)
    assert again["coefficients"] == result["coefficients"] and len(Run(tmp_path).metrics()) == 3
    assert [r["phi"] for r in again["table"]] == [0.0, 1.0, 2.0]


def test_a_bad_source_is_a_one_line_value_error(tmp_path: Path) -> None:
    factory = scalable_entry("elastic").factory
    with pytest.raises(ValueError, match="cannot parse elastic architecture 'r16-w1.0|d9'") as err:
        factory("r16-w1.0|d9", TINY)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="holds no architecture.txt"):
        resolve_subnet(tmp_path)
    (tmp_path / "architecture.txt").write_text(SUBNET + "\n")
    assert str(resolve_subnet(tmp_path)) == SUBNET
    (tmp_path / "config.yaml").write_text("space: ofa\ndata: {dataset: fashion-mnist-small}\nnet: {channels: 8}\n")
    defaults = scalable_entry("elastic").default_config(str(tmp_path))  # a search run's data and channels
    assert (defaults.dataset, defaults.channels) == ("fashion-mnist-small", 8)
    with pytest.raises(ValueError, match="need channels >= 1"):
        SubnetConfig(channels=0)


def test_cli_scales_a_subnet_and_prints_its_settings(tmp_path: Path, capsys) -> None:
    args = ["scale", SUBNET, "--kind=elastic", "--phi", "1", "--channels=4", "--batch-size=16",
            "--valid-examples=64", "--grid", "1.0", "1.4", "--alphas=(1.0,2.0)", "--channel-divisor=2",
            "--madds-tolerance=None", "--search-steps-per-epoch=2", "--run-dir", str(tmp_path / "run")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "compound scaling of r16-w1.0" in out and "(elastic)" in out and "chosen: alpha" in out
    scaled = json.loads((tmp_path / "run" / "scale.json").read_text())["scaled"]
    assert scaled["architecture"].startswith(f"r{scaled['resolution']}-")
    assert f"the phi = 1 network: architecture={scaled['architecture']}" in out
    assert f"width_multiplier={scaled['width_multiplier']}" in out
    assert main([*args[:2], "--kind=elastic", "--channels=0", "--run-dir", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "need channels >= 1" in err and err.count("\n") == 1 and not (tmp_path / "bad").exists()
