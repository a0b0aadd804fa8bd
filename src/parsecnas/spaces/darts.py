"""The DARTS cell space: two views of its decisions and the conversions between them and ``Genotype``.

PARSEC's view (Casale et al. 2019, eq. 4-5): per cell type, node n = 0..3 and input slot 0/1, one categorical
over (input node in 0..n+1) x (one of the 7 non-zero ops): 16 decisions of 14, 14, 21, 21, ..., 35 choices.

DARTS's view (Liu et al. 2019): per cell type, 14 edges (node n reads from each of its n + 2 predecessors) x 8
ops (including ``none``), relaxed to a softmax mixture; a genotype is derived by keeping, for each node, the two
strongest incoming edges by their strongest non-none op.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from ..ops import NONZERO_PRIMITIVES, PRIMITIVES, make_op
from .base import Decision, MixingLayout, MixingWeights, NetSetting, OpSite, Space, choice_op, register_space
from .genotype import CELL_TYPES, EDGES_PER_CELL, NUM_NODES, Genotype, edge_index

MIXING_LAYOUT = MixingLayout(CELL_TYPES, EDGES_PER_CELL, PRIMITIVES)
"""DARTS's relaxed view: (14 edges, 8 ops) weights for each of the normal and the reduction cell."""


def parsec_decisions() -> tuple[Decision, ...]:
    """The 16 decisions of PARSEC's view, named ``{cell}/node{n}/in{slot}``."""
    out = []
    for cell in CELL_TYPES:
        for node in range(NUM_NODES):
            labels = tuple(f"{j}:{op}" for j in range(node + 2) for op in NONZERO_PRIMITIVES)
            for slot in (0, 1):
                out.append(Decision(f"{cell}/node{node}/in{slot}", labels))
    return tuple(out)


def genotype_from_choices(choices: Sequence[int]) -> Genotype:
    """Genotype from one index per PARSEC decision (index = input * 7 + op index among non-zero ops)."""
    decisions = parsec_decisions()
    if len(choices) != len(decisions):
        raise ValueError(f"expected {len(decisions)} choices (one per decision), got {len(choices)}")
    cells: dict[str, list[tuple[str, int]]] = {c: [] for c in CELL_TYPES}
    for decision, choice in zip(decisions, choices):
        c = int(choice)
        if not 0 <= c < decision.size:
            raise ValueError(f"choice {c} out of range for {decision.name}; valid: 0 .. {decision.size - 1}")
        source, op = divmod(c, len(NONZERO_PRIMITIVES))
        cells[decision.name.split("/")[0]].append((NONZERO_PRIMITIVES[op], source))
    concat = tuple(range(2, NUM_NODES + 2))
    return Genotype(tuple(cells["normal"]), concat, tuple(cells["reduce"]), concat)


def choices_from_genotype(genotype: Genotype) -> tuple[int, ...]:
    """Inverse of :func:`genotype_from_choices` (the concat lists must be the full 2..5)."""
    full = tuple(range(2, NUM_NODES + 2))
    if any(op == "none" for cell in CELL_TYPES for op, _ in genotype.cell(cell)):
        raise ValueError("PARSEC's view has no 'none' op; this genotype uses it")
    if genotype.normal_concat != full or genotype.reduce_concat != full:
        raise ValueError("PARSEC's view covers genotypes that concatenate all four nodes; "
                         f"got normal_concat={list(genotype.normal_concat)}, "
                         f"reduce_concat={list(genotype.reduce_concat)}")
    return tuple(source * len(NONZERO_PRIMITIVES) + NONZERO_PRIMITIVES.index(op)
                 for cell in CELL_TYPES for op, source in genotype.cell(cell))


def derive_genotype(weights: Mapping[str, torch.Tensor], inputs_per_node: int = 2) -> Genotype:
    """DARTS's derivation from per-edge op weights (``{"normal": (14, 8), "reduce": (14, 8)}``).

    For each node: rank incoming edges by their strongest non-``none`` op, keep the top ``inputs_per_node``,
    and take that op on each, strongest edge first as in the DARTS code. Ties go to the lower edge / op index.
    """
    none = PRIMITIVES.index("none")
    cells: dict[str, list[tuple[str, int]]] = {}
    for cell in CELL_TYPES:
        w = weights[cell].detach().float().cpu()
        if tuple(w.shape) != (EDGES_PER_CELL, len(PRIMITIVES)):
            raise ValueError(f"{cell} weights have shape {tuple(w.shape)}; expected "
                             f"({EDGES_PER_CELL}, {len(PRIMITIVES)})")
        w = w.clone()
        w[:, none] = -float("inf")
        pairs: list[tuple[str, int]] = []
        for node in range(NUM_NODES):
            rows = [edge_index(node, j) for j in range(node + 2)]
            best = w[rows].max(dim=1)
            order = sorted(range(node + 2), key=lambda j: (-float(best.values[j]), j))[:inputs_per_node]
            pairs += [(PRIMITIVES[int(best.indices[j])], j) for j in order]
        cells[cell] = pairs
    concat = tuple(range(2, NUM_NODES + 2))
    return Genotype(tuple(cells["normal"]), concat, tuple(cells["reduce"]), concat)


def mixing_from_genotype(genotype: Genotype) -> MixingWeights:
    """Per-edge mixing weights that select exactly the genotype's ops (count 2 where both slots coincide)."""
    out = {}
    for cell in CELL_TYPES:
        w = torch.zeros(EDGES_PER_CELL, len(PRIMITIVES))
        for k, (op, source) in enumerate(genotype.cell(cell)):
            w[edge_index(k // 2, source), PRIMITIVES.index(op)] += 1.0
        out[cell] = w
    return out


def _halved(size: tuple[int, int]) -> tuple[int, int]:
    """The size after a stride-2 op (3x3 pools and convs with padding, factorized reduce): ceil of each half."""
    return (size[0] + 1) // 2, (size[1] + 1) // 2


class DartsSpace(Space):
    """The DARTS cell space with PARSEC's decisions and DARTS's relaxed view. Architectures are
    :class:`Genotype` values.

    Example:
        >>> space = DartsSpace()
        >>> g = space.from_choices([0] * len(space.decisions))
        >>> space.to_choices(g) == (0,) * 16
        True
    """

    name = "darts"
    trains_from_scratch = True

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return parsec_decisions()

    def files(self, arch: Any) -> dict[str, str]:
        """``genotype.json`` (what ``parsecnas train RUN_DIR`` reads) and ``genotype.txt`` (the DARTS code's form)."""
        return {"genotype.json": self.format(arch) + "\n", "genotype.txt": str(arch) + "\n"}

    def to_plain(self, arch: Any) -> dict[str, Any]:
        """The genotype as a JSON object (``Genotype.from_dict`` reads it back), not a JSON string inside JSON."""
        return dict(arch.to_dict())

    def draw(self, arch: Any, path_prefix: Path) -> list[Path]:
        """Both cells, ``{prefix}_normal.png`` and ``{prefix}_reduce.png``."""
        from ..report import draw_genotype

        return list(draw_genotype(arch, path_prefix).values())

    def from_choices(self, choices: Sequence[int]) -> Genotype:
        return genotype_from_choices(choices)

    def to_choices(self, arch: Any) -> tuple[int, ...]:
        return choices_from_genotype(arch)

    def parse(self, text: str) -> Genotype:
        return Genotype.parse(text)

    def format(self, arch: Any) -> str:
        return arch.to_json()

    def build(self, arch: Any, **net_options: Any) -> nn.Module:
        """Evaluation network (CIFAR-style unless ``setting="imagenet"``) with BN affine on."""
        from ..nets import build_network

        return build_network(arch, **net_options)

    def supernet(self, **net_options: Any) -> nn.Module:
        from ..nets import SuperNet

        return SuperNet(**net_options)

    def net_setting(self, name: str, **options: Any) -> NetSetting:
        """``cifar10`` (32 px) or ``imagenet`` (224 px) evaluation networks, without the auxiliary head (it
        runs only in training); ``options`` override :func:`~parsecnas.nets.build_network`'s (``num_cells``...)."""
        sizes = {"cifar10": 32, "imagenet": 224}
        if name not in sizes:
            raise ValueError(f"unknown DARTS network setting {name!r}; valid: {', '.join(sizes)}")
        options = {"setting": name, "auxiliary": False, **options}
        return NetSetting(name, options, sizes[name], int(options.get("in_channels", 3)))

    def op_sites(self, setting: NetSetting) -> tuple[tuple[tuple[OpSite, ...], ...], ...]:
        """Choice (input j, op) of decision ``{cell}/node{n}/in{s}`` puts that op into every cell of that type,
        at the cell's width, with stride 2 on a reduction cell's inputs (j < 2); sizes come from one forward."""
        net = self.build(self.from_choices([0] * len(self.decisions)), **setting.options)
        stack: list[Any] = list(cast(nn.ModuleList, net.cells))
        sizes: list[tuple[int, int]] = []
        hooks = [cell.pre1.register_forward_hook(lambda m, i, out: sizes.append(tuple(out.shape[-2:])))
                 for cell in stack]
        try:
            with torch.no_grad():
                net.eval()(torch.zeros(setting.input_shape()))
        finally:
            for hook in hooks:
                hook.remove()
        out = []
        for decision in self.decisions:
            reduce = decision.name.startswith("reduce/")
            cells = [(cell.spec.channels, hw) for cell, hw in zip(stack, sizes) if cell.spec.reduction == reduce]
            row = []
            for label in decision.choices:
                source, op = int(label.split(":")[0]), choice_op(label)
                strided = reduce and source < 2  # a reduction cell reads its two inputs at stride 2
                row.append(tuple(OpSite(op, c, 2 if strided else 1, *(hw if strided or not reduce else _halved(hw)))
                                 for c, hw in cells))
            out.append(tuple(row))
        return tuple(out)

    def build_op(self, site: OpSite) -> nn.Module:
        return make_op(site.op, site.channels, site.stride, affine=True)

    @property
    def mixing_layout(self) -> MixingLayout:
        return MIXING_LAYOUT

    def derive(self, weights: Mapping[str, torch.Tensor]) -> Genotype:
        """DARTS's rule (:func:`derive_genotype`): per node, the two strongest edges by their best non-none op."""
        return derive_genotype(weights)

    def mixing_from(self, arch: Any) -> MixingWeights:
        return mixing_from_genotype(arch)


register_space("darts", DartsSpace)
