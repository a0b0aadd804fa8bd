"""What every search space is: a list of named categorical decisions and a way to turn choices into networks."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn


@dataclass(frozen=True)
class Decision:
    """One named categorical choice of a space, e.g. ``normal/node2/in0`` over (input, op) pairs.

    Attributes:
        name: unique name within the space; distributions match decisions by name when transferring.
        choices: a readable label per option, in index order.
    """

    name: str
    choices: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.choices) < 1:
            raise ValueError(f"decision {self.name!r} needs at least one choice")

    @property
    def size(self) -> int:
        return len(self.choices)


@runtime_checkable
class Space(Protocol):
    """A search space. Architectures are frozen hashable values; networks are built from them.

    ``decisions`` are the space's categorical view (what PARSEC, REINFORCE and black-box strategies choose);
    ``from_choices``/``to_choices`` convert between one index per decision and an architecture.
    """

    name: str

    @property
    def decisions(self) -> tuple[Decision, ...]: ...

    def from_choices(self, choices: Sequence[int]) -> Hashable: ...

    def to_choices(self, arch: Any) -> tuple[int, ...]: ...

    def parse(self, text: str) -> Hashable: ...

    def format(self, arch: Any) -> str: ...

    def build(self, arch: Any, **net_options: Any) -> nn.Module: ...

    def supernet(self, **net_options: Any) -> nn.Module: ...


def sample_uniform(space: Space, generator: torch.Generator) -> Hashable:
    """Draws one architecture uniformly over each decision's choices.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> space = get_space("darts")
        >>> arch = sample_uniform(space, torch.Generator().manual_seed(0))
        >>> space.parse(space.format(arch)) == arch
        True
    """
    choices = [int(torch.randint(d.size, (1,), generator=generator)) for d in space.decisions]
    return space.from_choices(choices)


def mutate(space: Space, arch: Any, generator: torch.Generator) -> Hashable:
    """Returns a new architecture differing from ``arch`` in exactly one decision (uniform over the rest)."""
    choices = list(space.to_choices(arch))
    mutable = [i for i, d in enumerate(space.decisions) if d.size > 1]
    if not mutable:
        raise ValueError(f"space {space.name!r} has no decision with more than one choice to mutate")
    i = mutable[int(torch.randint(len(mutable), (1,), generator=generator))]
    shift = 1 + int(torch.randint(space.decisions[i].size - 1, (1,), generator=generator))
    choices[i] = (choices[i] + shift) % space.decisions[i].size
    return space.from_choices(choices)


_REGISTRY: dict[str, Callable[[], Space]] = {}


def register_space(name: str, factory: Callable[[], Space]) -> None:
    """Registers a space factory under ``name`` (used by the CLI and the conformance tests)."""
    _REGISTRY[name] = factory


def get_space(name: str) -> Space:
    """Creates a registered space by name, e.g. ``get_space("darts")``."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ValueError(f"unknown search space {name!r}; valid spaces: {', '.join(sorted(_REGISTRY))}") from None


def list_spaces() -> list[str]:
    """Names of the registered spaces."""
    return sorted(_REGISTRY)
