"""parsecnas: neural architecture search in PyTorch, with PARSEC as its flagship method."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = ("Genotype", "get_space", "list_spaces", "published_genotypes", "resolve_genotype")

if TYPE_CHECKING:
    from .spaces import Genotype, get_space, list_spaces, published_genotypes, resolve_genotype


def __getattr__(name: str) -> Any:
    """The space helpers, imported on first use so that ``import parsecnas`` (and the CLI's ``--help``) does
    not load torch."""
    if name in _LAZY:
        from . import spaces

        return getattr(spaces, name)
    raise AttributeError(f"module 'parsecnas' has no attribute {name!r}")


__all__ = ["Genotype", "__version__", "get_space", "list_spaces", "published_genotypes", "resolve_genotype"]
