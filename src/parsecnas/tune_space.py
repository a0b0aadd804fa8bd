"""A hyper-parameter search space over the fields of a config dataclass, read from YAML and validated.

Each top-level key of the YAML mapping names a field of the config being tuned (``TrainConfig`` for ``parsecnas
tune``); its value says how the field varies:

```yaml
lr: {low: 0.005, high: 0.1, log: true}     # a float range (log-uniform); the field's type decides float/int
cutout: {low: 0, high: 16, step: 4}        # an int range on a grid of 4
weight_decay: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}
batch_size: {choices: [32, 64, 128]}       # categorical
augment: [none, randaugment]               # a list is shorthand for choices
architecture: darts                        # also search the genotype: every decision of the space a categorical
```

Every entry is checked before a trial runs: the field exists, the kind fits its type, the range is ordered
(positive for ``log``), ``step`` and ``log`` are not combined, and the ends of every range and every choice give
a valid config (so ``lr: {low: 0, ...}`` is refused at once, naming ``lr``). :meth:`SearchSpace.distributions`
turns it into Optuna distributions and :meth:`SearchSpace.from_distributions` back. The reserved key
``architecture`` (a space name, checked by the tuner, which knows the spaces) makes the study search the
architecture jointly with the recipe; a space may hold it alone.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Recipe:
    ...     lr: float = 0.1
    ...     depth: int = 2
    >>> space = parse_space({"lr": {"low": 0.01, "high": 1.0, "log": True}, "depth": [1, 2, 3]}, Recipe)
    >>> [p.kind for p in space.params]
    ['float', 'categorical']
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._text import short_repr
from .config import ConfigError, read_yaml

__all__ = ["ARCHITECTURE_KEY", "KINDS", "ParamSpec", "SearchSpace", "load_space", "parse_space"]

ARCHITECTURE_KEY = "architecture"
"""The reserved entry naming the space whose architecture a study searches beside the recipe."""
KINDS = ("float", "int", "categorical")
_KEYS = {"type", "low", "high", "log", "step", "choices"}
_PLAIN = (bool, int, float, str, type(None))


@dataclass(frozen=True)
class ParamSpec:
    """How one field varies: a ``float`` or ``int`` range (``log`` scale, or a ``step`` grid) or ``categorical``
    ``choices``."""

    name: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        where = f"search space entry {self.name!r}"
        if self.kind not in KINDS:
            raise ConfigError(f"{where}: unknown type {self.kind!r}; valid: {', '.join(KINDS)}")
        if self.kind == "categorical":
            if not self.choices:
                raise ConfigError(f"{where}: choices must list at least one value")
            bad = [c for c in self.choices if not isinstance(c, _PLAIN)]
            if bad or len(set(map(repr, self.choices))) != len(self.choices):
                raise ConfigError(f"{where}: choices must be distinct numbers, strings, booleans or null; got "
                                  f"{short_repr(list(self.choices))}")
            return
        numbers = (int,) if self.kind == "int" else (int, float)
        for key in ("low", "high"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, numbers) or not math.isfinite(value):
                raise ConfigError(f"{where}: {key} must be a finite {self.kind}, got {short_repr(value)}")
        assert self.low is not None and self.high is not None
        if self.low > self.high:
            raise ConfigError(f"{where}: low {self.low} is above high {self.high}")
        if self.log and self.low <= 0:
            raise ConfigError(f"{where}: a log range needs low > 0, got {self.low}")
        if self.log and self.step is not None:
            raise ConfigError(f"{where}: give log or step, not both")
        if self.step is not None and (isinstance(self.step, bool) or not isinstance(self.step, numbers)
                                      or not self.step > 0):
            raise ConfigError(f"{where}: step must be a positive {self.kind}, got {short_repr(self.step)}")

    def values_to_check(self) -> tuple[Any, ...]:
        """The values that must each give a valid config: both ends of a range, or every choice."""
        return self.choices if self.kind == "categorical" else (self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        """The YAML form (``type`` always written, so it reads back without the config class)."""
        if self.kind == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class SearchSpace:
    """The tuned fields, in the order the YAML gives them, and the space whose architecture is searched with
    them (``architecture``, or None: the recipe of one given architecture)."""

    params: tuple[ParamSpec, ...]
    architecture: str | None = None

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params] + ([ARCHITECTURE_KEY] if self.architecture else [])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {p.name: p.to_dict() for p in self.params}
        if self.architecture:
            out[ARCHITECTURE_KEY] = self.architecture
        return out

    def distributions(self) -> dict[str, Any]:
        """Optuna distributions by field name (``optuna.distributions``)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        out: dict[str, Any] = {}
        for p in self.params:
            if p.kind == "categorical":
                out[p.name] = CategoricalDistribution(list(p.choices))
            elif p.kind == "int":
                out[p.name] = IntDistribution(int(p.low or 0), int(p.high or 0), log=p.log, step=int(p.step or 1))
            else:
                out[p.name] = FloatDistribution(float(p.low or 0), float(p.high or 0), log=p.log,
                                                step=None if p.step is None else float(p.step))
        return out

    @classmethod
    def from_distributions(cls, distributions: Mapping[str, Any]) -> SearchSpace:
        """The space of a mapping of Optuna distributions (the inverse of :meth:`distributions`)."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        params = []
        for name, d in distributions.items():
            if isinstance(d, CategoricalDistribution):
                params.append(ParamSpec(name, "categorical", choices=tuple(d.choices)))
            elif isinstance(d, IntDistribution):
                params.append(ParamSpec(name, "int", d.low, d.high, d.log, None if d.step == 1 else d.step))
            else:
                params.append(ParamSpec(name, "float", d.low, d.high, d.log, d.step))
        return cls(tuple(params))


def load_space(path: str | Path, config_type: type, base: Any = None) -> SearchSpace:
    """Reads and validates the YAML search space in ``path`` against ``config_type`` (see :func:`parse_space`)."""
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"search space file {file} does not exist")
    data = read_yaml(file, "search space file", "a YAML mapping of field names to ranges or choices")
    return parse_space(data, config_type, base)


def parse_space(data: Any, config_type: type, base: Any = None) -> SearchSpace:
    """Validates a search space given as plain data against the fields of the dataclass ``config_type``.

    ``base`` (default: ``config_type()``) is the config each value is tried in: a range end or choice that the
    config refuses is an error naming the entry.

    Raises:
        ConfigError: an entry names no field, has an unknown key or type, a disordered or invalid range, or a
            value the config refuses.
    """
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(f"a search space is a mapping of field names to ranges or choices; got "
                          f"{short_repr(data)}")
    hints = typing.get_type_hints(config_type)
    fields = {f.name for f in dataclasses.fields(config_type) if f.init}
    base = config_type() if base is None else base
    data = dict(data)
    architecture = data.pop(ARCHITECTURE_KEY, None) if ARCHITECTURE_KEY not in fields else None
    if architecture is not None and (not isinstance(architecture, str) or not architecture.strip()):
        raise ConfigError(f"search space entry {ARCHITECTURE_KEY!r}: give a space name (e.g. darts), got "
                          f"{short_repr(architecture)}")
    params = []
    for name, entry in data.items():
        if name not in fields:
            raise ConfigError(f"search space entry {name!r} is not a field of {config_type.__name__}; valid: "
                              f"{', '.join(sorted(fields))}")
        spec = _spec(str(name), entry, hints[name])
        for value in spec.values_to_check():
            try:
                dataclasses.replace(base, **{spec.name: value})
            except (ValueError, TypeError) as err:
                raise ConfigError(f"search space entry {name!r}: {spec.name}={short_repr(value)} is not a valid "
                                  f"{config_type.__name__}: {err}") from err
        params.append(spec)
    return SearchSpace(tuple(params), architecture)


def _spec(name: str, entry: Any, field_type: Any) -> ParamSpec:
    where = f"search space entry {name!r}"
    if isinstance(entry, Sequence) and not isinstance(entry, str):
        entry = {"choices": list(entry)}
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: give a range {{low: .., high: ..}} or choices [..], got {short_repr(entry)}")
    unknown = sorted(set(map(str, entry)) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; valid: {', '.join(sorted(_KEYS))}")
    kind = entry.get("type") or ("categorical" if "choices" in entry else _range_kind(field_type))
    if kind is None:
        raise ConfigError(f"{where}: the field is not a number, so give choices [..] instead of a range")
    if kind != "categorical" and "choices" in entry:
        raise ConfigError(f"{where}: choices belong to type categorical, not {kind}")
    if kind == "categorical":
        extra = sorted(set(map(str, entry)) - {"type", "choices"})
        if extra:
            raise ConfigError(f"{where}: a categorical entry takes only choices; drop {extra}")
        return ParamSpec(name, "categorical", choices=tuple(entry.get("choices") or ()))
    if kind in KINDS and _range_kind(field_type) not in ({"int", "float"} if kind == "int" else {kind}):
        raise ConfigError(f"{where}: a {kind} range does not fit the field's type {_type_name(field_type)}")
    if "low" not in entry or "high" not in entry:
        raise ConfigError(f"{where}: a {kind} range needs both low and high")
    return ParamSpec(name, str(kind), entry["low"], entry["high"], bool(entry.get("log", False)), entry.get("step"))


def _range_kind(field_type: Any) -> str | None:
    """``int`` or ``float`` for a numeric field (optional or not), else None."""
    args = [a for a in typing.get_args(field_type) if a is not type(None)] or [field_type]
    if args == [int]:
        return "int"
    if args == [float] or set(args) == {int, float}:
        return "float"
    return None


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))
