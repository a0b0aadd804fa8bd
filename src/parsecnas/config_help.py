"""``--help`` text generated from config dataclasses: every field with its flag, type, default and docstring.

A config's docs come from its Google-style ``Attributes:`` section, so the help and the reference docs cannot
drift apart. Flags are spelt with dashes; a nested field whose name is unique in the config is listed by its
own name (``--batch-size`` for ``data.batch_size``, which is also accepted), others under their dotted prefix
(``--settings.epochs``). A field typed by a sibling (``SearchConfig.settings``) is listed with the chosen type's
fields.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Optim:
    ...     '''Attributes:
    ...         lr: the learning rate.'''
    ...     lr: float = 0.025
    >>> print(config_help(Optim()))
      --lr  [float; default: 0.025]
          the learning rate.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections import Counter
from typing import Any, get_type_hints

from ._config_convert import _leaf_paths, _type_name

__all__ = ["attribute_docs", "config_help"]

_ATTRIBUTE = re.compile(r"^(\s*)(\w+):\s*(.*)$")


def attribute_docs(cls: type) -> dict[str, str]:
    """The one-paragraph description of each field in ``cls``'s (and its bases') ``Attributes:`` sections."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        text = klass.__dict__.get("__doc__") or ""
        first, _, rest = text.partition("\n")
        lines = [first.strip(), *textwrap.dedent(rest).splitlines()]
        inside, current, indent = False, None, None
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("Attributes:"):
                inside, current, indent = True, None, None
                match = _ATTRIBUTE.match(stripped[len("Attributes:"):].strip())
                if match:
                    current = match.group(2)
                    docs[current] = match.group(3)
                continue
            if not inside or not stripped:
                continue
            lead = len(line) - len(line.lstrip())
            indent = lead if indent is None else indent
            if lead < indent:
                inside = False
                continue
            match = _ATTRIBUTE.match(line)
            if lead == indent and match:
                current = match.group(2)
                docs[current] = match.group(3)
            elif current:
                docs[current] += " " + stripped
    return docs


def config_help(cfg: Any, prefix: str = "", _names: Counter[str] | None = None) -> str:
    """For every field of config instance ``cfg``: ``--flag  [type; default]`` and its description."""
    cls = type(cfg)
    names = Counter(path[-1] for path in _leaf_paths(cfg)) if _names is None else _names
    if _names is None:
        names.update(f.name for f in dataclasses.fields(cls))  # a section's name is taken too
    hints, docs, lines = get_type_hints(cls), attribute_docs(cls), []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            header = f"{prefix}{f.name} ({type(value).__name__}): {docs.get(f.name, '')}".rstrip(": ")
            lines += textwrap.wrap(header, 114, initial_indent="  ", subsequent_indent=" " * 6)
            lines.append(config_help(value, f"{prefix}{f.name}.", names))
            continue
        flag = (f.name if names[f.name] == 1 else f"{prefix}{f.name}").replace("_", "-")
        lines.append(f"  --{flag}  [{_type_name(hints[f.name])}; default: {value!r}]")
        if docs.get(f.name):
            lines += textwrap.wrap(docs[f.name], 110, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)
