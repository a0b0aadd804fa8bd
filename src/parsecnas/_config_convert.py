"""Plain data to config dataclasses and back: the conversions behind :mod:`parsecnas.config`.

Values are converted per the fields' annotations (``from_dict``'s list of supported types), every failure a
:class:`ConfigError` naming the dotted key it arose at. A :class:`TypedBy` field's dataclass is chosen by a
sibling field's value (a search's ``settings`` by its ``strategy``).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import enum
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import PurePath
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from parsecnas._text import short_repr

__all__ = ["ConfigError", "TypedBy", "typed_by"]


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
        return _plain(_from_dict(tp, section, ""), "") == _plain(tp(), "")
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


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``, recursing where both hold a mapping."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = _merged(out[key], value) if both else value
    return out


def _dataclass_of(tp: Any) -> type | None:
    """The dataclass inside an annotation such as ``Sub`` or ``Sub | None``, if there is one."""
    candidates = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    for arg in candidates:
        if isinstance(arg, type) and dataclasses.is_dataclass(arg):
            return arg
    return None


def _leaf_paths(cfg: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The dotted path of every field of ``cfg`` that is not itself a nested config."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaf_paths(value, (*prefix, f.name))
        elif f.init:
            yield (*prefix, f.name)
