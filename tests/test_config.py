from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal, Optional

import pytest
import yaml

from parsecnas.config import ConfigError, apply_overrides, from_dict, load_config, save_config, stored_config, to_dict


@dataclasses.dataclass(frozen=True)
class Optim:
    name: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.025
    nesterov: bool = False

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


@dataclasses.dataclass(frozen=True)
class Window:
    lo: int = 0
    hi: int = 1

    def __post_init__(self) -> None:
        if self.lo >= self.hi:
            raise ValueError(f"lo ({self.lo}) must be < hi ({self.hi})")


@dataclasses.dataclass(frozen=True)
class Search:
    epochs: int = 50
    name: str = "parsec"
    seed: Optional[int] = None  # noqa: UP045 -- typing.Optional must keep working too
    channels: tuple[int, ...] = (16, 32)
    data_dir: Path = Path("data")
    optim: Optim = dataclasses.field(default_factory=Optim)
    arch_optim: Optim | None = None
    window: Window = dataclasses.field(default_factory=Window)


@dataclasses.dataclass(frozen=True)
class NeedsName:
    name: str
    size: int = 1


def test_yaml_round_trip_through_dataclass_and_dict(tmp_path: Path) -> None:
    source = tmp_path / "search.yaml"
    source.write_text(
        "epochs: 7\nseed: 3\nchannels: [8, 16, 32]\ndata_dir: /tmp/cifar\n"
        "optim: {name: adam, lr: 3e-4}\narch_optim: {lr: 0.5, nesterov: true}\n"
    )
    cfg = load_config(Search, source)
    assert cfg == Search(epochs=7, seed=3, channels=(8, 16, 32), data_dir=Path("/tmp/cifar"),
                         optim=Optim(name="adam", lr=3e-4), arch_optim=Optim(lr=0.5, nesterov=True))
    saved = save_config(cfg, tmp_path / "out" / "resolved.yaml")
    data = yaml.safe_load(saved.read_text())
    assert data == to_dict(cfg)
    assert data["channels"] == [8, 16, 32] and data["data_dir"] == "/tmp/cifar"
    assert load_config(Search, saved) == cfg
    assert from_dict(Search, to_dict(cfg)) == cfg
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(".")]  # no temp file left


def test_load_config_without_file_uses_defaults_then_overrides() -> None:
    assert load_config(Search) == Search()
    assert load_config(Search, None, ["epochs=3"]).epochs == 3


def test_overrides_reach_nested_keys_and_parse_literals() -> None:
    cfg = apply_overrides(Search(), [
        "epochs=10", "--optim.lr=1e-3", "optim.name=adam", "optim.nesterov=True", "channels=(8, 16)",
        "seed=None", "name=123", "data_dir=runs/cifar10", "channels=4, 8",
    ])
    assert cfg.epochs == 10
    assert cfg.optim == Optim(name="adam", lr=1e-3, nesterov=True)
    assert cfg.channels == (4, 8)  # later overrides win
    assert cfg.seed is None
    assert cfg.name == "123"  # a str field keeps the text even though it parses as an int
    assert cfg.data_dir == Path("runs/cifar10")


def test_overrides_return_a_new_config_and_leave_the_original_alone() -> None:
    original = Search()
    changed = apply_overrides(original, ["optim.lr=0.1"])
    assert original.optim.lr == 0.025 and changed.optim.lr == 0.1
    assert apply_overrides(original, []) is original


def test_overrides_are_validated_together_not_one_by_one() -> None:
    # Applying lo=5 alone would violate lo < hi; both overrides land before __post_init__ runs.
    cfg = apply_overrides(Search(), ["window.lo=5", "window.hi=10"])
    assert cfg.window == Window(5, 10)


def test_override_can_fill_an_optional_nested_config_that_was_none() -> None:
    cfg = apply_overrides(Search(), ["arch_optim.lr=0.003"])
    assert cfg.arch_optim == Optim(lr=0.003)


def test_override_values_are_never_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    cfg = apply_overrides(Search(), [f"name={text}"])
    assert cfg.name == text
    assert not marker.exists()


def test_unknown_key_names_it_lists_valid_keys_and_suggests_a_close_one() -> None:
    with pytest.raises(ConfigError) as err:
        from_dict(Search, {"epoch": 3})
    message = str(err.value)
    assert "'epoch'" in message and "did you mean 'epochs'" in message
    assert "valid keys: arch_optim, channels, data_dir, epochs, name, optim, seed, window" in message


def test_unknown_nested_key_names_its_full_path() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'optim.lrr' in Optim; did you mean 'optim.lr'"):
        from_dict(Search, {"optim": {"lrr": 0.1}})
    with pytest.raises(ConfigError, match=r"unknown key 'optim.momentum'.*valid keys: lr, name, nesterov"):
        apply_overrides(Search(), ["optim.momentum=0.9"])


@pytest.mark.parametrize(("data", "pattern"), [
    ({"epochs": "ten"}, r"epochs: expected int, got 'ten' \(str\)"),
    ({"epochs": True}, r"epochs: expected int, got True \(bool\)"),
    ({"epochs": 2.5}, r"epochs: expected int, got 2.5"),
    ({"channels": [8, "x"]}, r"channels\[1\]: expected int, got 'x'"),
    ({"channels": 8}, r"channels: expected tuple\[int, \.\.\.\], got 8"),
    ({"seed": "abc"}, r"seed: expected int or None, got 'abc'"),
    ({"optim": {"lr": "fast"}}, r"optim.lr: expected float, got 'fast'"),
    ({"optim": {"nesterov": 1}}, r"optim.nesterov: expected bool, got 1"),
    ({"optim": {"name": "adamw"}},
     r"optim.name: invalid choice 'adamw'; did you mean 'adam'\? valid: 'sgd', 'adam'"),
    ({"optim": 3}, r"optim: expected Optim, got 3 \(int\); give a mapping of its fields"),
    ({"data_dir": 5}, r"data_dir: expected Path, got 5"),
])
def test_type_mismatch_names_field_value_and_expected_type(data: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        from_dict(Search, data)


def test_bad_override_value_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"epochs: expected int, got 'many'"):
        apply_overrides(Search(), ["epochs=many"])


def test_validation_errors_are_config_errors_located_in_the_tree() -> None:
    with pytest.raises(ConfigError, match=r"^optim: lr must be > 0, got -1.0$"):
        from_dict(Search, {"optim": {"lr": -1}})
    with pytest.raises(ConfigError, match=r"window: lo \(3\) must be < hi \(1\)"):
        apply_overrides(Search(), ["window.lo=3"])


def test_missing_required_key_is_named() -> None:
    with pytest.raises(ConfigError, match="missing required key.*name"):
        from_dict(NeedsName, {"size": 2})
    assert from_dict(NeedsName, {"name": "x"}) == NeedsName("x")


@pytest.mark.parametrize("override", ["epochs", "=3", "optim..lr=1", ""])
def test_malformed_override_is_rejected(override: str) -> None:
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(Search(), [override])


def test_conflicting_overrides_are_rejected() -> None:
    with pytest.raises(ConfigError, match="conflicts"):
        apply_overrides(Search(), ["optim={'lr': 0.1}", "optim.lr=0.2"])


def test_setting_a_subkey_of_a_plain_field_is_rejected() -> None:
    with pytest.raises(ConfigError, match="epochs is int, not a nested config"):
        apply_overrides(Search(), ["epochs.value=3"])


def test_bad_yaml_files_are_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("epochs: [1, 2\n")
    with pytest.raises(ConfigError, match="broken.yaml is not valid YAML"):
        load_config(Search, broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(Search, listing)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(Search, empty) == Search()


def test_to_dict_rejects_non_dataclasses() -> None:
    with pytest.raises(TypeError, match="dataclass instance"):
        to_dict({"a": 1})
    with pytest.raises(TypeError, match="dataclass type"):
        from_dict(dict, {})  # type: ignore[type-var]


def test_load_config_lays_the_file_over_a_base(tmp_path) -> None:
    from parsecnas.config import load_config
    from parsecnas.train import TrainConfig

    path = tmp_path / "t.yaml"
    path.write_text("epochs: 3\nlr: 0.2\n")
    cfg = load_config(TrainConfig, path, ["batch_size=7"], base=TrainConfig.imagenet())
    assert (cfg.epochs, cfg.lr, cfg.batch_size) == (3, 0.2, 7)
    assert (cfg.num_cells, cfg.label_smoothing, cfg.crop_size) == (14, 0.1, 224)  # kept from the base


@dataclasses.dataclass(frozen=True)
class _Optim:
    lr: float = 0.1
    momentum: float = 0.9


@dataclasses.dataclass(frozen=True)
class _Arch:
    lr: float = 0.01


@dataclasses.dataclass(frozen=True)
class _Outer:
    epochs: int = 1
    optim: _Optim = dataclasses.field(default_factory=_Optim)
    arch: _Arch = dataclasses.field(default_factory=_Arch)


def test_a_nested_field_is_reached_by_its_own_name_when_unique() -> None:
    cfg = apply_overrides(_Outer(), ["momentum=0.5", "--epochs=3"])
    assert (cfg.optim.momentum, cfg.epochs, cfg.optim.lr) == (0.5, 3, 0.1)
    assert apply_overrides(_Outer(), ["optim.lr=0.2", "arch.lr=0.3"]).arch.lr == 0.3
    with pytest.raises(ConfigError, match="'lr' is ambiguous in _Outer: give one of optim.lr, arch.lr"):
        apply_overrides(_Outer(), ["lr=0.2"])
    with pytest.raises(ConfigError, match="same field, set twice"):
        apply_overrides(_Outer(), ["optim.momentum=0.1", "momentum=0.2"])
    with pytest.raises(ConfigError, match="did you mean 'optim.momentum'"):
        apply_overrides(_Outer(), ["momentun=0.2"])
    assert apply_overrides(_Outer(), ["optim.lr=0.2"]) == _Outer(optim=_Optim(lr=0.2))  # the input is left alone


def test_stored_config_drops_what_a_run_stores_beside_the_fields_and_names_the_run_when_it_fails() -> None:
    stored = {"epochs": 3, "genotype": {"normal": []}}
    assert stored_config(Search, stored, "the stored config of runs/r", drop=("genotype",)) == Search(epochs=3)
    assert stored_config(Search, None, "the stored config of runs/r") == Search()  # an empty config.yaml
    with pytest.raises(ConfigError, match=r"the stored config of runs/r does not load \(unknown key 'genotype'"):
        stored_config(Search, stored, "the stored config of runs/r")
    with pytest.raises(ConfigError, match="runs/r does not load .*expected a mapping.*got list.*--config"):
        stored_config(Search, [1, 2], "the stored config of runs/r")
