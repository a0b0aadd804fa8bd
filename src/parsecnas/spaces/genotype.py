"""The DARTS ``Genotype``: a frozen value describing a normal and a reduction cell, plus the published ones."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .._text import short_repr
from ..ops import PRIMITIVES

NUM_NODES = 4
"""Intermediate nodes per cell; node i (0-based) has DARTS index i + 2 and reads from indices 0 .. i + 1."""

CELL_TYPES: tuple[str, str] = ("normal", "reduce")

Pair = tuple[str, int]

EDGES_PER_CELL = sum(n + 2 for n in range(NUM_NODES))  # 14


def edge_index(node: int, source: int) -> int:
    """Index of the edge from ``source`` (0..node+1) into intermediate ``node`` (0..3) in DARTS's order."""
    if not 0 <= source < node + 2:
        raise ValueError(f"node {node} reads from inputs 0..{node + 1}, not {source}")
    return sum(n + 2 for n in range(node)) + source


def edges() -> list[tuple[int, int]]:
    """``(node, source)`` for each of the 14 edges of a cell, in DARTS's order."""
    return [(n, j) for n in range(NUM_NODES) for j in range(n + 2)]


GENOTYPE_KEYS = ("normal", "normal_concat", "reduce", "reduce_concat")
_MAX_RANGE = 64  # a genotype field written as range(...) never needs more items; range(10**9) must not be built


def _check_cell(cell: str, pairs: tuple[Pair, ...], concat: tuple[int, ...]) -> None:
    """The one rule of a valid cell, which the network builder follows (any concat of distinct nodes builds)."""
    if len(pairs) != 2 * NUM_NODES:
        raise ValueError(f"{cell} cell has {len(pairs)} (op, input) pairs; a DARTS cell needs exactly "
                         f"{2 * NUM_NODES} (two for each of its {NUM_NODES} nodes)")
    for k, (op, index) in enumerate(pairs):
        if op not in PRIMITIVES:
            raise ValueError(f"unknown op {short_repr(op)} in genotype ({cell} pair {k}); valid ops: "
                             f"{', '.join(PRIMITIVES)}")
        if not 0 <= index < k // 2 + 2:
            raise ValueError(f"input index {index} out of range in {cell} pair {k} (node {k // 2 + 2}); "
                             f"valid: 0 .. {k // 2 + 1}")
    if not concat or any(not 2 <= c < NUM_NODES + 2 for c in concat) or len(set(concat)) != len(concat):
        raise ValueError(f"{cell}_concat {short_repr(list(concat))} invalid; use distinct node indices in "
                         f"2 .. {NUM_NODES + 1}")


def _index(value: Any, where: str) -> int:
    """``value`` if it is an integer; 1.5, True and '1' are not (no silent truncation or parsing)."""
    if type(value) is not int:
        raise ValueError(f"{where} must be an integer, got {short_repr(value)} ({type(value).__name__})")
    return value


def _pairs(value: Any, cell: str = "cell") -> tuple[Pair, ...]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{cell} must be a list of (op, input) pairs, got {short_repr(value)}")
    pairs = []
    for k, pair in enumerate(value):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not isinstance(pair[0], str):
            raise ValueError(f"{cell} pair {k} must be an (op name, input index) pair, got {short_repr(pair)}")
        pairs.append((pair[0], _index(pair[1], f"input index of {cell} pair {k}")))
    return tuple(pairs)


def _concat(value: Any, cell: str) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{cell}_concat must be a list of node indices, got {short_repr(value)}")
    return tuple(_index(c, f"{cell}_concat item {i}") for i, c in enumerate(value))


@dataclass(frozen=True)
class Genotype:
    """A DARTS-space architecture: 8 (op, input) pairs per cell type; pairs 2i and 2i+1 feed node i + 2.

    Input index 0 is the output of cell k-2, 1 that of cell k-1, and j >= 2 intermediate node j.

    Example:
        >>> g = Genotype.named("DARTS_V2")
        >>> Genotype.from_json(g.to_json()) == g == Genotype.parse(str(g))
        True
    """

    normal: tuple[Pair, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Pair, ...]
    reduce_concat: tuple[int, ...]

    def __post_init__(self) -> None:
        for name in ("normal", "reduce"):
            object.__setattr__(self, name, _pairs(getattr(self, name), name))
            object.__setattr__(self, f"{name}_concat", _concat(getattr(self, f"{name}_concat"), name))
            _check_cell(name, getattr(self, name), getattr(self, f"{name}_concat"))

    def cell(self, cell_type: str) -> tuple[Pair, ...]:
        """The pairs of ``"normal"`` or ``"reduce"``."""
        if cell_type not in CELL_TYPES:
            raise ValueError(f"unknown cell type {short_repr(cell_type)}; valid: {', '.join(CELL_TYPES)}")
        return self.normal if cell_type == "normal" else self.reduce

    def concat(self, cell_type: str) -> tuple[int, ...]:
        return self.normal_concat if cell_type == "normal" else self.reduce_concat

    def canonical(self) -> Genotype:
        """The same architecture with each node's two pairs in sorted order (a node sums its inputs, so the
        order within a node carries no meaning); use it to compare architectures."""
        def sort(pairs: tuple[Pair, ...]) -> tuple[Pair, ...]:
            return tuple(p for k in range(0, len(pairs), 2) for p in sorted(pairs[k:k + 2], key=lambda q: (q[1], q[0])))
        return Genotype(sort(self.normal), tuple(sorted(self.normal_concat)), sort(self.reduce),
                        tuple(sorted(self.reduce_concat)))

    # ---- canonical forms -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "normal": [list(p) for p in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [list(p) for p in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }

    def to_json(self) -> str:
        """Canonical JSON: fixed key order, no spaces beyond separators."""
        return json.dumps(self.to_dict(), separators=(", ", ": "))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Genotype:
        if not isinstance(data, dict):
            raise ValueError(f"a genotype must be a mapping of {', '.join(GENOTYPE_KEYS)}, got {short_repr(data)}")
        unknown = [short_repr(k) for k in data if k not in GENOTYPE_KEYS]
        if unknown:
            raise ValueError(f"unknown genotype key(s) {', '.join(unknown[:5])}; valid keys: "
                             f"{', '.join(GENOTYPE_KEYS)}")
        missing = [k for k in ("normal", "reduce") if k not in data]
        if missing:
            raise ValueError(f"genotype is missing {', '.join(missing)}; it needs normal, reduce "
                             f"(and optionally normal_concat, reduce_concat)")
        default = list(range(2, NUM_NODES + 2))
        return cls(_pairs(data["normal"], "normal"), _concat(data.get("normal_concat", default), "normal"),
                   _pairs(data["reduce"], "reduce"), _concat(data.get("reduce_concat", default), "reduce"))

    @classmethod
    def from_json(cls, text: str) -> Genotype:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"genotype JSON {short_repr(text, 60)} does not parse: {err}") from None
        except RecursionError:
            raise ValueError(f"genotype JSON {short_repr(text, 60)} is nested too deeply; a genotype is a mapping "
                             "of lists of (op, input) pairs") from None
        return cls.from_dict(data)

    def __str__(self) -> str:
        """The DARTS code's string form, ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=...)``."""
        return (f"Genotype(normal={list(self.normal)}, normal_concat={list(self.normal_concat)}, "
                f"reduce={list(self.reduce)}, reduce_concat={list(self.reduce_concat)})")

    @classmethod
    def parse(cls, text: str) -> Genotype:
        """Parses the DARTS string form (``range(2, 6)`` accepted) or the JSON form."""
        text = text.strip()
        if text.startswith("{"):
            return cls.from_json(text)
        if not text:
            raise ValueError("empty genotype text; give a published name (e.g. DARTS_V2), a genotype file, a run "
                             "directory or a Genotype(...) / JSON string")
        try:
            call = ast.parse(text, mode="eval").body
        except SyntaxError as err:
            raise ValueError(f"cannot parse genotype {text[:60]!r}: {err.msg}") from None
        except (RecursionError, MemoryError):
            raise ValueError(f"cannot parse genotype {text[:60]!r}: nested too deeply") from None
        if not isinstance(call, ast.Call) or getattr(call.func, "id", None) != "Genotype":
            raise ValueError(f"expected 'Genotype(normal=..., reduce=...)' or JSON, got {text[:60]!r}")
        if call.args or any(kw.arg is None for kw in call.keywords):
            raise ValueError("a genotype string names its fields: 'Genotype(normal=..., normal_concat=..., "
                             "reduce=..., reduce_concat=...)'")
        try:
            fields = {kw.arg: _literal(kw.value) for kw in call.keywords if kw.arg}
        except ValueError as err:
            if "range" in str(err):
                raise
            raise ValueError(f"cannot read genotype {text[:60]!r}: its fields must be literals") from None
        except (SyntaxError, TypeError, MemoryError, RecursionError) as err:
            raise ValueError(f"cannot read genotype {text[:60]!r}: its fields must be literals ({err})") from None
        return cls.from_dict(fields)

    @classmethod
    def named(cls, name: str) -> Genotype:
        """A published genotype by name, e.g. ``DARTS_V2``, ``PC_DARTS_cifar``, ``PDARTS``."""
        table = published_genotypes()
        if name not in table:
            raise ValueError(f"unknown genotype name {short_repr(name)}; published genotypes: {', '.join(table)}")
        return table[name]


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "range":
        args = [ast.literal_eval(a) for a in node.args]
        if not 1 <= len(args) <= 3 or any(type(a) is not int for a in args):
            raise ValueError(f"range() in a genotype takes 1 to 3 integers, got {short_repr(args)}")
        numbers = range(*args)
        if len(numbers) > _MAX_RANGE:
            raise ValueError(f"range{tuple(args)} in a genotype has {len(numbers)} items; a concat lists at most "
                             f"{NUM_NODES} nodes (e.g. range(2, 6))")
        return list(numbers)
    return ast.literal_eval(node)


@lru_cache(maxsize=1)
def published_genotypes() -> dict[str, Genotype]:
    """The published DARTS-space cells shipped with the package (see resources/genotypes/SOURCE.txt)."""
    text = resources.files("parsecnas").joinpath("resources/genotypes/published_genotypes.json").read_text()
    return {name: Genotype.from_dict({k: v for k, v in entry.items() if k in GENOTYPE_KEYS})  # + citations
            for name, entry in json.loads(text).items()}


def _trained_genotype(run_dir: Path) -> Genotype | None:
    """The genotype a ``parsecnas train`` run directory trained (``result.json``, or ``config.yaml`` while it is
    still training), or None when the directory is no training run."""
    import yaml

    for name, load in (("result.json", json.loads), ("config.yaml", yaml.safe_load)):
        path = run_dir / name
        if path.is_file():
            record = load(path.read_text(encoding="utf-8"))
            if isinstance(record, dict) and record.get("genotype") is not None:
                return Genotype.parse(json.dumps(record["genotype"]))
    return None


def genotype_path(spec: str | Path | Genotype) -> Path | None:
    """The file or folder ``spec`` names, or None when it is a Genotype, a published name, a string form or text
    no file system could hold (too long, a NUL byte): such text must never reach ``stat``."""
    if isinstance(spec, Genotype):
        return None
    text = str(spec)
    if not text.strip() or text in published_genotypes() or text.lstrip().startswith(("{", "[", "Genotype(")):
        return None
    try:
        path = Path(text)
        path.exists()
    except (OSError, ValueError):
        return None
    return path


def resolve_genotype(spec: str | Path | Genotype) -> Genotype:
    """Accepts a Genotype, a published name, a JSON file, a search run directory (its genotype.json), a training
    run directory (the genotype it trained, from its result.json or config.yaml) or a string form."""
    if isinstance(spec, Genotype):
        return spec
    text = str(spec)
    if text in published_genotypes():
        return published_genotypes()[text]
    path = genotype_path(text)
    if path is None and text.lstrip().startswith(("{", "[", "Genotype(")) or not text.strip():
        return Genotype.parse(text)  # a string form (before any path test: it may be long)
    if path is None:
        return _unresolved(text)
    if path.is_dir():
        trained = _trained_genotype(path)
        if trained is not None:
            return trained
        path = path / "genotype.json"
        if not path.exists():
            raise FileNotFoundError(f"{spec} is a directory without genotype.json; give a DARTS-space search run "
                                    "directory (NAS-Bench-201 runs need no training: their cell's trained "
                                    "accuracies are in benchmark_lookup.json)")
    if path.exists() and not path.is_file():  # a FIFO, a device: reading it could block forever
        raise ValueError(f"genotype file {path} is not a regular file; give a genotype JSON file")
    if path.suffix == ".json" or path.is_file():
        if not path.exists():
            raise FileNotFoundError(f"genotype file {path} does not exist")
        try:
            return Genotype.parse(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ValueError(f"genotype file {path} is not UTF-8 text; give a genotype JSON file") from None
        except ValueError as err:
            raise ValueError(f"genotype file {path}: {err}") from None
    return _unresolved(text)


def _unresolved(text: str) -> Genotype:
    raise ValueError(f"cannot resolve genotype {short_repr(text, 80)}: not a published name (e.g. DARTS_V2; see "
                     f"`parsecnas show --list`), a file, a run directory or a Genotype(...) / JSON string")
