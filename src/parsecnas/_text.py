"""Quoting user values in error messages without quoting all of them.

A bad value can be enormous (a YAML alias bomb of a few hundred bytes expands to millions of items, a genotype
written with ``range()`` to as many as asked): an error must name it, not reproduce it.

Example:
    >>> short_repr(list(range(1000)))
    '[0, 1, 2, 3, 4, 5, ...] (a list of 1000 items)'
    >>> short_repr("sep_conv_3x3")
    "'sep_conv_3x3'"
"""

from __future__ import annotations

import reprlib
from collections.abc import Sized
from typing import Any

__all__ = ["short_repr"]

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdict = 6
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlong = 40


def short_repr(value: Any, limit: int = 120) -> str:
    """``repr(value)`` cut to about ``limit`` characters, built without ever forming the full repr; a cut
    container says how many items it holds."""
    text = _REPR.repr(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    truncated = "..." in text and isinstance(value, (list, tuple, dict, set, frozenset))
    if truncated and isinstance(value, Sized):
        text += f" (a {type(value).__name__} of {len(value)} items)"
    return text
