"""Configuration as frozen dataclasses, loadable from YAML and ``key.sub=value`` overrides.

Each configurable component owns one frozen dataclass whose ``__post_init__`` validates it, so constructing a
config *is* validating it. This module holds only the generic machinery: converting plain data (a YAML
mapping, command-line overrides) into such dataclasses and back.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Optim:
    ...     lr: float = 0.025
    ...     momentum: float = 0.9
    >>> cfg = apply_overrides(from_dict(Optim, {"lr": "3e-4"}), ["momentum=0.5"])
    >>> cfg
    Optim(lr=0.0003, momentum=0.5)
    >>> to_dict(cfg)
    {'lr': 0.0003, 'momentum': 0.5}

Nested configs are given as nested mappings in YAML and reached with dotted keys in overrides
(``optim.lr=0.1``). Config classes must be defined at module level so that their (possibly postponed)
annotations can be resolved.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from parsecnas._config_convert import (
    ConfigError,
    TypedBy,
    _construct,
    _convert,
    _dataclass_of,
    _fold_sections,
    _from_dict,
    _init_field_types,
    _leaf_paths,
    _merged,
    _Override,
    _plain,
    _resolved,
    _type_name,
    _typed_by,
    _typed_fields,
    _unknown_key,
    typed_by,
)
from parsecnas._text import short_repr

__all__ = ["ConfigError", "TypedBy", "apply_overrides", "check_choice", "check_device", "check_finite",
           "check_min", "fill_typed_fields", "from_dict", "load_config", "read_yaml", "save_config", "stored_config",
           "to_dict", "typed_by"]

T = TypeVar("T")


def fill_typed_fields(cfg: Any) -> None:
    """For ``__post_init__``: every :class:`TypedBy` field of ``cfg`` left ``None`` takes its chosen type's
    defaults; one holding another type is a ValueError (an unknown choice is the resolver's ValueError)."""
    for name, typed in _typed_fields(type(cfg)):
        expected, value = typed.resolve(getattr(cfg, typed.sibling)), getattr(cfg, name)
        if value is None and expected is not None:
            object.__setattr__(cfg, name, expected())
        elif (expected is None) != (value is None) or (expected is not None and not isinstance(value, expected)):
            raise ValueError(f"{name} must be {getattr(expected, '__name__', 'None')} for {typed.sibling} "
                             f"{getattr(cfg, typed.sibling)!r}, got {type(value).__name__} ({name}=None takes its "
                             "defaults)")


def check_finite(cfg: Any) -> None:
    """Refuses NaN and infinity in any float field of the config dataclass ``cfg`` (or in a tuple of floats).

    Every config calls it first in its ``__post_init__``: a comparison such as ``lr > 0`` is False for NaN, so
    range checks alone let ``nan`` through (and ``inf`` through every lower bound).

    Raises:
        ValueError: naming the field and its value.
    """
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"{f.name} must be a finite number, got {item!r} (NaN and infinity are never "
                                 f"valid settings)")


def check_min(cfg: Any, minimum: float, *names: str) -> None:
    """Refuses a value below ``minimum`` in each named field of ``cfg`` (``None`` passes: the field is unset).

    Raises:
        ValueError: naming the field, its value and the valid range.
    """
    for name in names:
        value = getattr(cfg, name)
        if value is not None and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def check_choice(name: str, value: Any, valid: Iterable[Any]) -> None:
    """Refuses ``value`` for the field ``name`` unless it is one of ``valid`` (listed in the message)."""
    valid = list(valid)
    if value not in valid:
        close = difflib.get_close_matches(value, [str(v) for v in valid], n=1) if isinstance(value, str) else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown {name} {short_repr(value)}{hint} valid: {', '.join(str(v) for v in valid)}")


_DEVICE = re.compile(r"(auto|cpu|mps|cuda(:[0-9]+)?)\Z")


def check_device(name: str) -> None:
    """Refuses a device name that is none of ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps`` (whether this machine
    has the device is checked when a run starts: a config may be written for another machine)."""
    if not _DEVICE.match(name):
        raise ValueError(f"unknown device {short_repr(name)}; valid: auto, cpu, cuda, cuda:N or mps")


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build the dataclass ``cls`` from plain data, converting values per the field annotations.

    Supported annotations: ``int``, ``float``, ``bool``, ``str``, ``Path``, enums, ``Literal[...]``,
    ``Optional[...]``/unions, ``tuple[X, ...]``, ``tuple[X, Y]``, ``list[X]``, ``dict[str, X]``, ``Any`` and
    nested dataclasses (given as mappings). Floats also accept strings such as ``"3e-4"``, which YAML 1.1
    leaves as strings.

    Args:
        cls: A dataclass type (frozen, by convention).
        data: Field values by name; missing fields take their defaults.

    Returns:
        The constructed (and therefore validated) instance.

    Raises:
        ConfigError: On an unknown or missing key, a value of the wrong type, or a failed validation.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"from_dict needs a dataclass type, got {cls!r}")
    return _from_dict(cls, data, "")


def to_dict(cfg: Any) -> dict[str, Any]:
    """Turn a config dataclass into nested plain data (dicts, lists, str, int, float, bool, None).

    The result is safe for JSON and ``yaml.safe_dump``, and ``from_dict(type(cfg), to_dict(cfg)) == cfg``.
    """
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"to_dict needs a dataclass instance, got {cfg!r}")
    return {f.name: _plain(getattr(cfg, f.name), f.name) for f in dataclasses.fields(cfg) if f.init}


def apply_overrides(cfg: T, overrides: Iterable[str]) -> T:
    """Return a copy of ``cfg`` with ``key=value`` overrides applied; ``cfg`` itself is unchanged.

    Dotted keys reach nested dataclasses (``optim.lr=0.1``); a leading ``--`` is ignored. Values are parsed
    with ``ast.literal_eval`` (never ``eval``), so ``3``, ``0.1``, ``True``, ``None``, ``(1, 2)`` and
    ``'text'`` work; anything else (``cosine``, ``runs/a``) is taken as the raw string. All overrides are
    applied before validation runs, once per touched dataclass, and later ones win.

    Raises:
        ConfigError: On a malformed override, an unknown key, or a value the field does not accept.
    """
    tree = _override_tree(overrides)
    return _apply_tree(cfg, tree, "") if tree else cfg


def load_config(cls: type[T], path: str | Path | None = None, overrides: Iterable[str] = (),
                base: T | None = None) -> T:
    """Load ``cls`` from a YAML file (or from its defaults when ``path`` is None), then apply overrides.

    With ``base``, the file's keys are laid over ``base`` (nested sections key by key) instead of over the
    class defaults, e.g. a training protocol's settings.

    Example:
        >>> cfg = load_config(SearchConfig, "search.yaml", ["epochs=10", "optim.lr=0.05"])  # doctest: +SKIP

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ConfigError: If the file is not a YAML mapping, or a key or value is invalid.
    """
    data: Any = {}
    if path is not None:
        path = Path(path)
        data = read_yaml(path, "config file", "a YAML file of config fields")
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"config file {path} must hold a mapping of keys to values, "
                              f"got {type(data).__name__}")
    if base is not None:
        data = _merged(to_dict(base), data)
    return apply_overrides(from_dict(cls, data), overrides)


def stored_config(cls: type[T], data: Any, what: str, drop: Iterable[str] = ()) -> T:
    """The ``cls`` config a run stored (``data``: its ``config.yaml``, or a section of it), without the keys in
    ``drop`` (what the run stores beside the config's fields, e.g. a training run's genotype).

    Raises:
        ConfigError: naming ``what`` (``the stored config of runs/r``) when the data do not build a ``cls``; a run
            stored by another version may need its settings given again with ``--config``.
    """
    data = {} if data is None else data
    try:
        if not isinstance(data, Mapping):
            raise ConfigError(f"expected a mapping of keys to values, got {type(data).__name__}")
        skip = set(drop)
        return from_dict(cls, {k: v for k, v in data.items() if k not in skip})
    except ConfigError as err:
        raise ConfigError(f"{what} does not load ({err}); give the settings with --config") from err


def read_yaml(path: str | Path, what: str, wanted: str) -> Any:
    """The data of the YAML file ``path``; each way it can fail is one ``ConfigError`` line naming ``what`` it
    is (``config file``) and what to give instead (``wanted``).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ConfigError: If it is not a regular file, not UTF-8, not valid YAML or nested too deeply.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, a FIFO, a device: reading it fails or blocks
        raise ConfigError(f"{what} {path} is not a regular file; give {wanted}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text; give {wanted}") from None
    except RecursionError:
        raise ConfigError(f"{what} {path} is nested too deeply; give {wanted}") from None


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write ``cfg`` as YAML atomically (a reader never sees a half-written file); returns the path."""
    from parsecnas.run.atomic import atomic_write_text  # here, so importing config does not load torch

    return atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))


def _override_tree(overrides: Iterable[str]) -> dict[str, Any]:
    """Nest ``a.b=1`` overrides into ``{"a": {"b": _Override("1")}}``."""
    tree: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = [part.replace("-", "_") for part in key.strip().removeprefix("--").split(".")]
        if not sep or not all(parts):
            raise ConfigError(f"override {short_repr(item)} is not of the form key=value or key.sub=value "
                              f"(e.g. epochs=10, optim.lr=0.1)")
        node = tree
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if isinstance(child, _Override):
                raise ConfigError(f"override {short_repr(item)} conflicts with an earlier override of "
                                  f"{'.'.join(parts[:depth + 1])!r}")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise ConfigError(f"override {short_repr(item)} conflicts with an earlier override of a key inside it")
        node[parts[-1]] = _Override(text.strip())
    return tree


def _apply_tree(cfg: T, tree: Mapping[str, Any], where: str, short_keys: bool = True) -> T:
    cls = type(cfg)
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"apply_overrides needs a dataclass instance, got {cfg!r}")
    hints = _init_field_types(cls)
    tree = _fold_sections(cls, tree, hints, where, cfg)
    if not where and short_keys:
        tree = _expand_short_keys(cfg, tree, hints)
    changes: dict[str, Any] = {}
    for name, sub in tree.items():
        if name not in hints:
            raise _unknown_key(name, cls, hints, where)
        path = f"{where}{name}"
        if _typed_by(cls, name) is not None:
            continue  # after its sibling, below
        if isinstance(sub, _Override):
            changes[name] = _convert(sub, hints[name], path)
            continue
        current = getattr(cfg, name)
        if dataclasses.is_dataclass(current):
            changes[name] = _apply_tree(current, sub, f"{path}.")
            continue
        sub_cls = _dataclass_of(hints[name])
        if sub_cls is None:
            raise ConfigError(f"{path} is {_type_name(hints[name])}, not a nested config, so "
                              f"{path}.{next(iter(sub))} cannot be set")
        changes[name] = _from_dict(sub_cls, sub, f"{path}.")  # e.g. an Optional[Sub] that was None
    for name, typed in _typed_fields(cls):
        changes.update(_apply_typed(cfg, name, typed, tree.get(name), changes, where))
    return _construct(cls, changes, where, base=cfg)


def _expand_short_keys(cfg: Any, tree: Mapping[str, Any], hints: Mapping[str, Any]) -> dict[str, Any]:
    """``batch_size=64`` for ``data.batch_size=64``: a key that is no top-level field but the name of exactly
    one nested field stands for it, so one spelling (``--batch-size``, ``--data-dir``) works in every command."""
    out = dict(tree)
    siblings = {typed.sibling: tree[typed.sibling] for _, typed in _typed_fields(type(cfg)) if typed.sibling in tree}
    shape = _apply_tree(cfg, siblings, "", short_keys=False) if siblings else cfg  # strategy=darts: its settings
    for name, sub in tree.items():
        if name in hints or not isinstance(sub, _Override):
            continue
        found = [path for path in _leaf_paths(shape) if len(path) > 1 and path[-1] == name]
        if len(found) > 1:
            raise ConfigError(f"key {name!r} is ambiguous in {type(cfg).__name__}: give one of "
                              f"{', '.join('.'.join(p) for p in found)}")
        if not found:
            raise _unknown_short_key(name, shape, hints)
        del out[name]
        node = out
        for part in found[0][:-1]:
            child = node.get(part, {})
            if isinstance(child, _Override):
                raise ConfigError(f"override {name!r} conflicts with the override of {part!r}")
            node[part] = dict(child)  # a copy: the caller's tree stays as given
            node = node[part]
        if found[0][-1] in node:
            raise ConfigError(f"{name!r} and {'.'.join(found[0])!r} are the same field, set twice")
        node[found[0][-1]] = sub
    return out


def _unknown_short_key(name: str, cfg: Any, hints: Mapping[str, Any]) -> ConfigError:
    """The unknown-key error at the top level, with the closest top-level or nested field as the hint."""
    nested = [".".join(path) for path in _leaf_paths(cfg) if len(path) > 1]
    names = {**{path.rsplit(".", 1)[1]: path for path in nested}, **{k: k for k in hints}}
    close = difflib.get_close_matches(name, list(names), n=1)
    hint = f"; did you mean {names[close[0]]!r}?" if close else ""
    example = f" (a nested field by its own name when unique: {nested[0].rsplit('.', 1)[1]} for {nested[0]})" \
        if nested else ""
    return ConfigError(f"unknown key {short_repr(name)} in {type(cfg).__name__}{hint} valid keys: "
                       f"{', '.join(sorted(hints))}{example}")


def _apply_typed(cfg: Any, name: str, typed: TypedBy, sub: Any, changes: Mapping[str, Any], where: str
                 ) -> dict[str, Any]:
    """The change overrides make to :class:`TypedBy` field ``name``, after any change to its sibling."""
    choice = changes.get(typed.sibling, getattr(cfg, typed.sibling))
    tp = _resolved(typed, choice, f"{where}{typed.sibling}")
    current = getattr(cfg, name)
    out: dict[str, Any] = {}
    if current is not None and not isinstance(current, tp):
        current = out[name] = None  # the sibling now names another type: start from its defaults
    if isinstance(sub, _Override):
        out[name] = _convert(sub, tp, f"{where}{name}")
    elif sub is not None:
        sub_cls = _dataclass_of(tp)
        if sub_cls is None:
            raise ConfigError(f"{where}{name}: {typed.sibling} {choice!r} takes no settings")
        out[name] = _apply_tree(current if current is not None else sub_cls(), sub, f"{where}{name}.")
    return out
