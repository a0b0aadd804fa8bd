"""BANANAS-style predictor search (White et al. 2021): an ensemble of small MLPs predicts scores from an encoding
of the architecture; candidates are mutations of the best architectures so far; an acquisition function (ITS or
UCB over the ensemble's mean and spread) picks the next batch.

Encodings: ``onehot`` (one-hot of every decision; works for any space) and ``path`` (NB201 only: which op
sequences appear on some input-to-output path of the cell, the encoding of the BANANAS paper).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import torch

from ..config import check_finite
from ..spaces.base import Space, mutate, sample_uniform
from ..spaces.nb201 import nb201_path_encoding as nb201_path_encoding  # re-exported: its old home
from .blackbox import BlackBoxStrategy, register_blackbox


def onehot_encoding(space: Space, arch: Hashable) -> torch.Tensor:
    """Concatenated one-hot vectors of the architecture's choice for every decision (``space.encode``)."""
    return space.encode(arch, "onehot")


@dataclass(frozen=True)
class BananasConfig:
    """Attributes:
        num_init: uniform samples before the first predictor is fitted.
        proposals_per_fit: architectures proposed per fit (the paper's k = 10).
        num_candidates: mutated candidates scored by the acquisition per fit.
        num_parents: best architectures so far that candidates are mutated from.
        ensemble: MLPs in the ensemble; hidden, layers: their width and hidden layer count.
        epochs, lr: full-batch Adam steps and learning rate per fit.
        acquisition: ``its`` (independent Thompson sampling) or ``ucb`` (mean + ucb_beta * std).
        encoding: one of the space's ``encodings`` (``onehot`` everywhere, ``path`` on NB201) or ``auto``: the
            space's preferred one (path on NB201, else one-hot).
    """

    num_init: int = 10
    proposals_per_fit: int = 10
    num_candidates: int = 100
    num_parents: int = 10
    ensemble: int = 5
    hidden: int = 32
    layers: int = 3
    epochs: int = 200
    lr: float = 0.01
    acquisition: str = "its"
    ucb_beta: float = 0.5
    encoding: str = "auto"

    def __post_init__(self) -> None:
        check_finite(self)
        if self.acquisition not in ("its", "ucb"):
            raise ValueError(f"unknown acquisition {self.acquisition!r}; valid: its, ucb")
        if self.lr <= 0 or self.ucb_beta < 0:
            raise ValueError(f"need lr > 0 and ucb_beta >= 0; got lr={self.lr}, ucb_beta={self.ucb_beta}")
        if min(self.num_init, self.proposals_per_fit, self.num_candidates, self.num_parents, self.ensemble,
               self.hidden, self.layers, self.epochs) < 1:
            raise ValueError(f"counts and sizes must be >= 1; got {self}")


class Ensemble(torch.nn.Module):
    """``members`` independent MLPs evaluated together with batched matrix products; output (members, N)."""

    def __init__(self, members: int, d_in: int, hidden: int, layers: int, generator: torch.Generator) -> None:
        super().__init__()
        sizes = [d_in] + [hidden] * layers + [1]
        self.weights = torch.nn.ParameterList(
            torch.nn.Parameter(torch.randn(members, a, b, generator=generator) * math.sqrt(2.0 / a))
            for a, b in zip(sizes, sizes[1:]))
        self.biases = torch.nn.ParameterList(torch.nn.Parameter(torch.zeros(members, 1, b)) for b in sizes[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.expand(len(self.weights[0]), *x.shape)
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if k < len(self.weights) - 1:
                h = torch.relu(h)
        return h.squeeze(-1)

    def fit(self, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float) -> None:
        """Full-batch Adam on the mean squared error over members and points, ``epochs`` steps."""
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        with torch.enable_grad():
            for _ in range(epochs):
                opt.zero_grad()
                (self(x) - y).square().mean().backward()
                opt.step()


class Bananas(BlackBoxStrategy):
    """Neural-predictor Bayesian optimisation with mutation-based candidates.

    Example:
        >>> from parsecnas.spaces import get_space
        >>> space = get_space("nb201")
        >>> bo = Bananas(space, BananasConfig(num_init=4, epochs=20), seed=0)
        >>> archs = bo.ask(4); bo.tell(archs, [float(i) for i in range(4)])
        >>> len(bo.ask(2))
        2
    """

    name = "bananas"

    def __init__(self, space: Space, config: BananasConfig | None = None, seed: int = 0) -> None:
        super().__init__(space, seed)
        self.config = config or BananasConfig()
        encoding = self.config.encoding
        if encoding != "auto" and encoding not in space.encodings:
            raise ValueError(f"the {encoding} encoding is not offered by the {space.name!r} space; it offers: "
                             f"{', '.join(space.encodings)} (or 'auto': {space.encodings[0]})")
        self.encoding = encoding if encoding != "auto" else space.encodings[0]
        self._asked: set[Hashable] = set()
        self._cache: list[Hashable] = []

    def encode(self, arch: Hashable) -> torch.Tensor:
        return self.space.encode(arch, self.encoding)

    def ask(self, n: int = 1) -> list[Hashable]:
        out: list[Hashable] = []
        while len(out) < n:
            if len(self._asked) < self.config.num_init or len(self.history_) < 2:
                arch = self._unseen(lambda: sample_uniform(self.space, self.generator))
            else:
                if not self._cache:
                    self._cache = self._propose(max(self.config.proposals_per_fit, n - len(out)))
                arch = self._cache.pop(0)
            self._asked.add(arch)
            out.append(arch)
        return out

    def _unseen(self, draw: Any, tries: int = 100) -> Hashable:
        for _ in range(tries):
            arch = draw()
            if arch not in self._asked:
                return arch
        return arch

    def _candidates(self) -> list[Hashable]:
        parents = [a for a, _ in sorted(self.history_, key=lambda item: -item[1])[: self.config.num_parents]]
        found: dict[Hashable, None] = {}
        for _ in range(10 * self.config.num_candidates):
            if len(found) >= self.config.num_candidates:
                break
            parent = parents[int(torch.randint(len(parents), (1,), generator=self.generator))]
            child = mutate(self.space, parent, self.generator)
            if child not in self._asked:
                found[child] = None
        # a small or exhausted neighbourhood: go wider, as far as the space has unseen architectures
        want = min(self.config.num_candidates // 2, self.space.size - len(self._asked))
        for _ in range(10 * self.config.num_candidates):
            if len(found) >= want:
                break
            arch = sample_uniform(self.space, self.generator)
            if arch not in self._asked:
                found[arch] = None
        return list(found) or parents  # every architecture asked already: re-rank the best

    def _fit(self) -> Ensemble:
        x = torch.stack([self.encode(a) for a, _ in self.history_])
        y = torch.tensor([s for _, s in self.history_])
        y = (y - y.mean()) / y.std().clamp_min(1e-8)
        c = self.config
        model = Ensemble(c.ensemble, x.shape[1], c.hidden, c.layers, self.generator)
        model.fit(x, y, c.epochs, c.lr)
        return model

    def _propose(self, k: int) -> list[Hashable]:
        candidates = self._candidates()
        model = self._fit()
        with torch.no_grad():
            pred = model(torch.stack([self.encode(a) for a in candidates]))
        mean, std = pred.mean(0), pred.std(0) if len(pred) > 1 else torch.zeros(pred.shape[1])
        if self.config.acquisition == "its":
            value = mean + std * torch.randn(mean.shape, generator=self.generator)
        else:
            value = mean + self.config.ucb_beta * std
        order = torch.argsort(value, descending=True)[:k].tolist()
        return [candidates[i] for i in order]

    def _update(self, archs: list[Hashable], scores: list[float]) -> None:
        pass  # the predictor is refitted on the whole history at the next proposal

    def state_dict(self) -> dict[str, Any]:
        fmt = self.space.format
        return {**super().state_dict(), "asked": sorted(fmt(a) for a in self._asked),
                "cache": [fmt(a) for a in self._cache]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._asked = {self.space.parse(a) for a in state["asked"]}
        self._cache = [self.space.parse(a) for a in state["cache"]]


register_blackbox("bananas", lambda space, config, seed: Bananas(space, config, seed), BananasConfig)
