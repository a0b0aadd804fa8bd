"""The YAML search space of `parsecnas tune`: parsing, validation with errors naming the entry, and the round trip
to Optuna distributions."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsecnas.config import ConfigError
from parsecnas.train import TrainConfig
from parsecnas.tune_space import ParamSpec, SearchSpace, load_space, parse_space

SPACE_YAML = """
lr: {low: 0.005, high: 0.1, log: true}
weight_decay: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}
cutout: {low: 0, high: 16, step: 4}
drop_path: {low: 0.0, high: 0.3}
batch_size: [32, 64, 128]
lr_schedule: {choices: [cosine, exponential]}
"""


def test_yaml_space_round_trips_to_optuna_distributions(tmp_path: Path) -> None:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    path = tmp_path / "space.yaml"
    path.write_text(SPACE_YAML)
    space = load_space(path, TrainConfig)
    assert space.names == ["lr", "weight_decay", "cutout", "drop_path", "batch_size", "lr_schedule"]
    d = space.distributions()
    assert d["lr"] == FloatDistribution(0.005, 0.1, log=True)
    assert d["cutout"] == IntDistribution(0, 16, step=4)
    assert d["drop_path"] == FloatDistribution(0.0, 0.3)
    assert d["batch_size"] == CategoricalDistribution([32, 64, 128])
    assert d["lr_schedule"] == CategoricalDistribution(["cosine", "exponential"])
    assert SearchSpace.from_distributions(d) == space
    assert parse_space(space.to_dict(), TrainConfig) == space  # the written form reads back


def test_the_field_type_decides_int_or_float_ranges() -> None:
    space = parse_space({"channels": {"low": 8, "high": 32}, "lr": {"low": 1, "high": 2}}, TrainConfig)
    assert [p.kind for p in space.params] == ["int", "float"]


@pytest.mark.parametrize(("entry", "message"), [
    ({"learning_rate": {"low": 0.1, "high": 1.0}}, "'learning_rate' is not a field of TrainConfig"),
    ({"lr": {"low": 0.1, "hi": 1.0}}, "unknown keys ['hi']"),
    ({"lr": {"low": 0.5, "high": 0.1}}, "low 0.5 is above high 0.1"),
    ({"weight_decay": {"low": 0.0, "high": 0.1, "log": True}}, "a log range needs low > 0"),
    ({"lr": {"low": 0.01, "high": 0.1, "log": True, "step": 0.01}}, "log or step, not both"),
    ({"cutout": {"type": "float", "low": 0.5, "high": 4.5}}, "a float range does not fit the field's type int"),
    ({"dataset": {"low": 1, "high": 2}}, "not a number, so give choices"),
    ({"lr": {"type": "gaussian", "low": 0.1, "high": 1}}, "unknown type 'gaussian'"),
    ({"batch_size": []}, "choices must list at least one value"),
    ({"batch_size": [32, 32]}, "choices must be distinct"),
    ({"lr": {"low": 0.0, "high": 0.1}}, "lr=0.0 is not a valid TrainConfig"),
    ({"lr_schedule": ["cosine", "step"]}, "lr_schedule='step' is not a valid TrainConfig"),
    ({"channels": {"low": 4}}, "needs both low and high"),
    ({"lr": {"low": "0.1", "high": 1.0}}, "low must be a finite float"),
])
def test_bad_entries_are_refused_naming_the_entry(entry: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_space(entry, TrainConfig)
    assert message in str(err.value)
    assert repr(next(iter(entry))) in str(err.value)


def test_a_space_that_is_no_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a mapping of field names"):
        parse_space(["lr"], TrainConfig)
    (tmp_path / "bad.yaml").write_text("lr: [0.1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_space(tmp_path / "bad.yaml", TrainConfig)


def test_values_are_checked_in_the_base_config() -> None:
    # lr_min 0.05 is valid only with lr >= 0.05, so a range reaching below it is refused in that base
    base = TrainConfig(lr=0.08, lr_min=0.05)
    with pytest.raises(ConfigError, match="'lr'"):
        parse_space({"lr": {"low": 0.01, "high": 0.1}}, TrainConfig, base)
    assert parse_space({"lr": {"low": 0.06, "high": 0.1}}, TrainConfig, base).params[0] == ParamSpec(
        "lr", "float", 0.06, 0.1)


def test_augmentation_policies_are_searchable() -> None:
    space = parse_space({"augment": ["none", "randaugment", "trivialaugment"], "augment_n": {"low": 1, "high": 3},
                         "augment_m": {"low": 0, "high": 30}}, TrainConfig)
    assert [p.kind for p in space.params] == ["categorical", "int", "int"]
    with pytest.raises(ConfigError, match="'augment_m'.*in 0..30"):
        parse_space({"augment_m": {"low": 0, "high": 31}}, TrainConfig)


def test_the_architecture_entry_is_kept_apart_from_the_fields_and_round_trips() -> None:
    space = parse_space({"lr": {"low": 0.01, "high": 0.1}, "architecture": "darts"}, TrainConfig)
    assert space.architecture == "darts" and [p.name for p in space.params] == ["lr"]
    assert space.names == ["lr", "architecture"]
    assert parse_space(space.to_dict(), TrainConfig) == space
    assert parse_space({"architecture": "darts"}, TrainConfig).params == ()
    with pytest.raises(ConfigError, match="give a space name"):
        parse_space({"architecture": 3}, TrainConfig)
