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

import ast
import dataclasses
import difflib
import enum
import math
import re
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path, PurePath
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from parsecnas._text import short_repr

__all__ = ["ConfigError", "TypedBy", "apply_overrides", "check_choice", "check_device", "check_finite",
           "check_min", "fill_typed_fields", "from_dict", "load_config", "save_config", "to_dict", "typed_by"]

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value, key or file is invalid; the message names it and what would be valid."""


@dataclasses.dataclass(frozen=True)
class _Override:
    """One ``key=value`` value: parsed with ``ast.literal_eval``, falling back to the raw text."""

    raw: str

    @property
    def parsed(self) -> Any:
        try:
            return ast.literal_eval(self.raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return self.raw


@dataclasses.dataclass(frozen=True)
class TypedBy:
    """Field metadata: the field holds a config whose dataclass is chosen by a sibling field's value.

    E.g. ``SearchConfig.settings`` is the config of the strategy named by ``SearchConfig.strategy``. A mapping
    given for the field is built as ``resolve(sibling value)``; when an override changes the sibling to a value
    of another type, the field starts again from that type's defaults. A top-level section named like one of
    ``names()`` (the old one-section-per-choice shape, ``parsec:``) is read as the field when it names the
    chosen value (with a DeprecationWarning), dropped when it only holds that type's defaults, and an error
    otherwise (it would set a choice that is not being made).
    """

    sibling: str
    resolve: Callable[[Any], type | None]
    names: Callable[[], Iterable[str]]


_TYPED_BY = "parsecnas.config.typed_by"


def typed_by(sibling: str, resolve: Callable[[Any], type | None], names: Callable[[], Iterable[str]]
             ) -> dict[str, TypedBy]:
    """The ``metadata=`` of a :class:`TypedBy` field: ``field(default=None, metadata=typed_by(...))``."""
    return {_TYPED_BY: TypedBy(sibling, resolve, names)}


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


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``, recursing where both hold a mapping."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = _merged(out[key], value) if both else value
    return out


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write ``cfg`` as YAML atomically (a reader never sees a half-written file); returns the path."""
    from parsecnas.run.atomic import atomic_write_text  # here, so importing config does not load torch

    return atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))


# ----------------------------------------------------------------------------------------------- helpers


def _from_dict(cls: Any, data: Any, where: str) -> Any:
    """:func:`from_dict` for the dataclass at ``where``: ``""`` or a dotted prefix such as ``"optim."``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where.rstrip('.') or cls.__name__}: expected a mapping of keys to values, "
                          f"got {short_repr(data)} ({type(data).__name__})")
    hints = _init_field_types(cls)
    data = _fold_sections(cls, data, hints, where, None)
    for key in data:
        if key not in hints:
            raise _unknown_key(str(key), cls, hints, where)
    missing = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in data and _is_required(f)]
    if missing:
        raise ConfigError(f"{cls.__name__}: missing required key(s) {', '.join(where + m for m in missing)}")
    kwargs = {key: _convert(value, hints[key], f"{where}{key}") for key, value in data.items()
              if _typed_by(cls, key) is None}
    for key, typed in _typed_fields(cls):
        if key in data:
            choice = kwargs.get(typed.sibling, _default(cls, typed.sibling))
            kwargs[key] = _convert(data[key], _resolved(typed, choice, f"{where}{typed.sibling}"), f"{where}{key}")
    return _construct(cls, kwargs, where)


def _typed_by(cls: Any, name: str) -> TypedBy | None:
    for f in dataclasses.fields(cls):
        if f.name == name:
            value = f.metadata.get(_TYPED_BY)
            return value if isinstance(value, TypedBy) else None
    return None


def _typed_fields(cls: Any) -> list[tuple[str, TypedBy]]:
    return [(f.name, f.metadata[_TYPED_BY]) for f in dataclasses.fields(cls) if _TYPED_BY in f.metadata]


def _default(cls: Any, name: str) -> Any:
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    return None


def _resolved(typed: TypedBy, choice: Any, where: str) -> Any:
    """The annotation a :class:`TypedBy` field takes when its sibling is ``choice`` (``T | None``)."""
    try:
        tp = typed.resolve(choice)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return type(None) if tp is None else tp | None


def _fold_sections(cls: Any, data: Mapping[str, Any], hints: Mapping[str, Any], where: str, base: Any
                   ) -> dict[str, Any]:
    """``data`` with old one-section-per-choice keys folded into their :class:`TypedBy` field (see there)."""
    out = dict(data)
    for key, typed in _typed_fields(cls):
        names = set(typed.names())
        legacy = [k for k in out if k not in hints and k in names]
        if not legacy:
            continue
        choice = out.get(typed.sibling, getattr(base, typed.sibling) if base is not None
                         else _default(cls, typed.sibling))
        choice = choice.parsed if isinstance(choice, _Override) else choice
        for name in legacy:
            section = out.pop(name)
            if name == choice:
                warnings.warn(f"the {where}{name} section is deprecated; write it as {where}{key} "
                              f"(the chosen {typed.sibling}'s settings)", DeprecationWarning, stacklevel=4)
                current = out.get(key)
                out[key] = _merged(current, section) if isinstance(current, Mapping) else section
                continue
            tp = typed.resolve(name)
            if tp is not None and isinstance(section, Mapping) and _is_default_section(tp, section):
                continue  # an old file listing every choice's defaults
            raise ConfigError(f"{where}{name}: these are the settings of {typed.sibling} {name!r}, but "
                              f"{typed.sibling} is {choice!r}; set {where}{typed.sibling}={name} or drop them")
    return out


def _is_default_section(tp: type, section: Mapping[str, Any]) -> bool:
    try:
        return to_dict(_from_dict(tp, section, "")) == to_dict(tp())
    except (ConfigError, TypeError):
        return False


def _init_field_types(cls: type) -> dict[str, Any]:
    try:
        hints = get_type_hints(cls)
    except NameError as exc:
        raise TypeError(f"cannot resolve the annotations of {cls.__name__} ({exc}); config classes must "
                        f"be defined at module level") from exc
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _is_required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _unknown_key(key: str, cls: type, hints: Mapping[str, Any], where: str) -> ConfigError:
    valid = sorted(hints)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"; did you mean {where + close[0]!r}?" if close else ""
    return ConfigError(f"unknown key {short_repr(where + key)} in {cls.__name__}{hint} valid keys: "
                       f"{', '.join(valid)}")


def _construct(cls: Any, kwargs: dict[str, Any], where: str, base: Any = None) -> Any:
    """Construct (or replace into) ``cls``, so ``__post_init__`` validation errors name where they arose."""
    try:
        return cls(**kwargs) if base is None else dataclasses.replace(base, **kwargs)
    except ConfigError:
        raise
    except ValueError as exc:
        prefix = f"{where.rstrip('.')}: " if where else ""
        raise ConfigError(f"{prefix}{exc}") from exc


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join("None" if a is type(None) else _type_name(a) for a in get_args(tp))
    if isinstance(tp, type) and origin is None:
        return tp.__name__
    return str(tp).replace("typing.", "")


def _mismatch(value: Any, tp: Any, where: str, extra: str = "") -> ConfigError:
    return ConfigError(f"{where}: expected {_type_name(tp)}, got {short_repr(value)} ({type(value).__name__}){extra}")


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Convert ``value`` to the annotation ``tp`` or raise a ConfigError naming ``where``."""
    if isinstance(value, _Override):
        parsed = value.parsed
        try:
            return _convert(parsed, tp, where)
        except ConfigError as first:
            if parsed == value.raw:
                raise
            try:
                return _convert(value.raw, tp, where)  # e.g. a str field given `name=123`
            except ConfigError:
                raise first from None
    if tp is Any:
        return value
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return _convert_choice(value, args, where)
    if origin in (Union, types.UnionType):
        return _convert_union(value, tp, args, where)
    if origin in (tuple, list):
        return _convert_sequence(value, tp, where)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _mismatch(value, tp, where)
        key_tp, val_tp = args or (Any, Any)
        return {_convert(k, key_tp, f"{where}[{short_repr(k)}]"): _convert(v, val_tp, f"{where}.{short_repr(k)}")
                for k, v in value.items()}
    if isinstance(tp, type):
        return _convert_class(value, tp, where)
    raise TypeError(f"{where}: unsupported annotation {tp!r} in a config class")


def _convert_choice(value: Any, choices: tuple[Any, ...], where: str) -> Any:
    for choice in choices:
        if value == choice and type(value) is type(choice):
            return choice
    names = [str(c) for c in choices]
    close = difflib.get_close_matches(value, names, n=1) if isinstance(value, str) and len(value) < 100 else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"{where}: invalid choice {short_repr(value)}{hint} valid: "
                      f"{', '.join(repr(c) for c in choices)}")


def _convert_union(value: Any, tp: Any, args: tuple[Any, ...], where: str) -> Any:
    if value is None:
        if type(None) in args:
            return None
        raise _mismatch(value, tp, where)
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _convert(value, arg, where)
        except ConfigError:
            continue
    raise _mismatch(value, tp, where)


def _convert_sequence(value: Any, tp: Any, where: str) -> Any:
    if not isinstance(value, (list, tuple)):
        raise _mismatch(value, tp, where)
    origin, args = get_origin(tp), get_args(tp)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise _mismatch(value, tp, where, f"; needs exactly {len(args)} items")
        pairs = enumerate(zip(value, args, strict=True))
        return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in pairs)
    item_tp = args[0] if args else Any
    items = [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _convert_class(value: Any, tp: type, where: str) -> Any:
    if tp is bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise _mismatch(value, tp, where)
        return value
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _mismatch(value, tp, where)
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads `3e-4` as a string
            except ValueError:
                raise _mismatch(value, tp, where) from None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _mismatch(value, tp, where)
        return float(value)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return _from_dict(tp, value, f"{where}.")
        raise _mismatch(value, tp, where, "; give a mapping of its fields")
    if issubclass(tp, PurePath):
        if not isinstance(value, (str, PurePath)):
            raise _mismatch(value, tp, where)
        return tp(value)
    if issubclass(tp, enum.Enum):
        try:
            return value if isinstance(value, tp) else tp(value)
        except ValueError:
            valid = ", ".join(repr(m.value) for m in tp)
            raise ConfigError(f"{where}: invalid choice {short_repr(value)}; valid: {valid}") from None
    if not isinstance(value, tp):
        raise _mismatch(value, tp, where)
    return value


def _plain(value: Any, where: str) -> Any:
    """Nested plain data for ``to_dict``; raises TypeError naming the field it cannot represent."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), f"{where}.{f.name}")
                for f in dataclasses.fields(value) if f.init}
    if isinstance(value, enum.Enum):
        return _plain(value.value, where)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    raise TypeError(f"{where}: cannot turn {value!r} ({type(value).__name__}) into plain data")


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


def _leaf_paths(cfg: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The dotted path of every field of ``cfg`` that is not itself a nested config."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaf_paths(value, (*prefix, f.name))
        elif f.init:
            yield (*prefix, f.name)


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


def _dataclass_of(tp: Any) -> type | None:
    """The dataclass inside an annotation such as ``Sub`` or ``Sub | None``, if there is one."""
    candidates = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    for arg in candidates:
        if isinstance(arg, type) and dataclasses.is_dataclass(arg):
            return arg
    return None
