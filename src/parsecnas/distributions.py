"""A product of independent categoricals over a space's decisions: PARSEC's p(alpha | pi).

Also the belief of REINFORCE and GDAS. Logits live in one padded (D, M) parameter with a mask, so sampling,
log-probabilities and entropy are single tensor operations whatever the decisions' sizes.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .spaces.base import Decision


class CategoricalProduct(nn.Module):
    """Independent categoricals, one per decision, parameterised by logits (initially uniform).

    Example:
        >>> from parsecnas.spaces import get_space
        >>> dist = CategoricalProduct(get_space("darts").decisions)
        >>> choices = dist.sample(8, torch.Generator().manual_seed(0))
        >>> choices.shape, dist.log_prob(choices).shape
        (torch.Size([8, 16]), torch.Size([8]))
    """

    valid: torch.Tensor
    sizes: torch.Tensor

    def __init__(self, decisions: Sequence[Decision]) -> None:
        super().__init__()
        if not decisions:
            raise ValueError("a distribution needs at least one decision")
        self.decisions = tuple(decisions)
        sizes = torch.tensor([d.size for d in self.decisions])
        self.register_buffer("sizes", sizes, persistent=False)
        self.register_buffer("valid", torch.arange(int(sizes.max()))[None, :] < sizes[:, None], persistent=False)
        self.logits = nn.Parameter(torch.zeros(len(self.decisions), int(sizes.max())))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.decisions)

    def restrict(self, allowed: torch.Tensor) -> None:
        """Gives the choices where the (D, M) bool mask ``allowed`` is False probability 0 from now on (e.g. an op a
        strategy does not search). Every decision keeps at least one choice."""
        allowed = torch.as_tensor(allowed, dtype=torch.bool) & self.valid
        if allowed.shape != self.valid.shape or not bool(allowed.any(dim=1).all()):
            raise ValueError(f"a restriction must be a {tuple(self.valid.shape)} mask leaving every decision at "
                             f"least one choice; got shape {tuple(allowed.shape)}")
        self.valid = allowed

    def log_probs(self) -> torch.Tensor:
        """(D, M) log-probabilities; padded entries are -inf."""
        return self.logits.masked_fill(~self.valid, float("-inf")).log_softmax(dim=-1)

    def probs(self) -> torch.Tensor:
        return self.log_probs().exp()

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` independent draws, as an (n, D) long tensor of choice indices."""
        with torch.no_grad():
            draws = torch.multinomial(self.probs(), n, replacement=True, generator=generator)
        return draws.t().contiguous()

    def log_prob(self, choices: torch.Tensor) -> torch.Tensor:
        """log p(alpha | pi) of each row of ``choices`` ((n, D) or (D,)), differentiable in the logits."""
        choices = torch.as_tensor(choices, dtype=torch.long, device=self.logits.device)
        single = choices.dim() == 1
        rows = choices[None] if single else choices
        if rows.dim() != 2 or rows.shape[1] != len(self.decisions) or (rows < 0).any() or (rows >= self.sizes).any():
            raise ValueError(f"choices must be (n, {len(self.decisions)}) with row d in 0 .. size(d) - 1; "
                             f"got shape {tuple(choices.shape)}")
        lp = self.log_probs().gather(1, rows.t()).sum(dim=0)
        return lp[0] if single else lp

    def entropy(self) -> torch.Tensor:
        """Entropy of the whole product (nats): the sum of the decisions' entropies."""
        lp = self.log_probs()
        return -(lp.exp() * lp.masked_fill(~self.valid, 0.0)).sum()

    def expectation(self, table: torch.Tensor) -> torch.Tensor:
        """E[sum_d table[d, alpha_d]] under the product, exact and differentiable in the logits: an additive
        quantity's expectation is the sum of each decision's own (``table`` is (D, M), padding ignored)."""
        table = torch.as_tensor(table, device=self.logits.device)
        if tuple(table.shape) != tuple(self.valid.shape):
            raise ValueError(f"an additive table must be {tuple(self.valid.shape)}, got {tuple(table.shape)}")
        return (self.probs().to(table.dtype) * table.masked_fill(~self.valid, 0.0)).sum()

    def mode(self) -> torch.Tensor:
        """The most probable architecture's choices, (D,): the argmax of each decision."""
        return self.log_probs().argmax(dim=-1)

    def most_probable(self, n: int) -> list[tuple[tuple[int, ...], float]]:
        """The ``n`` most probable architectures with their probabilities, best first.

        Exact: a beam of width ``n`` over the decisions loses nothing because the factors are independent
        (a prefix outside the top ``n`` prefixes has ``n`` better completions with the same suffix).
        """
        lp = self.log_probs().detach().cpu()
        beam: list[tuple[float, tuple[int, ...]]] = [(0.0, ())]
        for d, decision in enumerate(self.decisions):
            options = [(s + float(lp[d, c]), prefix + (c,)) for s, prefix in beam for c in range(decision.size)]
            beam = heapq.nlargest(n, options, key=lambda item: item[0])
        return [(choice, float(torch.tensor(score).exp())) for score, choice in beam]

    def transfer_from(self, state: dict[str, Any]) -> list[str]:
        """Warm start: copies the logits of every decision whose name and size match; returns the names missed.

        ``state`` is another distribution's :meth:`export` output, so a search on a small network or another
        dataset can initialise one on a big network.
        """
        logits = dict(zip(state["names"], state["logits"]))
        missed = []
        with torch.no_grad():
            for d, decision in enumerate(self.decisions):
                source = logits.get(decision.name)
                if source is None or len(source) != decision.size:
                    missed.append(decision.name)
                    continue
                self.logits[d, : decision.size] = torch.as_tensor(source, dtype=self.logits.dtype)
        return missed

    def export(self) -> dict[str, Any]:
        """A plain, loadable description: decision names, choice labels and per-decision logits."""
        return {
            "names": list(self.names),
            "choices": [list(d.choices) for d in self.decisions],
            "logits": [self.logits[d, : dec.size].tolist() for d, dec in enumerate(self.decisions)],
        }
