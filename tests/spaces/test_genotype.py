from __future__ import annotations

import pytest
import torch

from parsecnas.ops import PRIMITIVES
from parsecnas.spaces import (
    Genotype,
    derive_genotype,
    edge_index,
    genotype_from_choices,
    get_space,
    mixing_from_genotype,
    parsec_decisions,
    published_genotypes,
    resolve_genotype,
)

DARTS_V2_STRING = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), "
    "('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


def test_every_published_genotype_round_trips() -> None:
    table = published_genotypes()
    assert len(table) == 48
    for name, g in table.items():
        assert Genotype.parse(str(g)) == g, name
        assert Genotype.from_json(g.to_json()) == g, name
        assert resolve_genotype(name) is g


def test_darts_string_form_with_range_parses_to_darts_v2() -> None:
    text = DARTS_V2_STRING.replace("[2, 3, 4, 5]", "range(2, 6)")
    assert Genotype.parse(text) == Genotype.named("DARTS_V2")
    assert str(Genotype.named("DARTS_V2")) == DARTS_V2_STRING


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["normal"].__setitem__(0, ["sep_conv_4x4", 0]), "unknown op 'sep_conv_4x4'"),
        (lambda d: d["normal"].__setitem__(2, ["sep_conv_3x3", 3]), "input index 3 out of range"),
        (lambda d: d["reduce"].pop(), "has 7 (op, input) pairs"),
        (lambda d: d.__setitem__("reduce_concat", [2, 9]), "reduce_concat [2, 9] invalid"),
    ],
)
def test_invalid_genotypes_name_the_problem(edit, message: str) -> None:
    data = Genotype.named("DARTS_V2").to_dict()
    edit(data)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        Genotype.from_dict(data)


def test_unknown_name_lists_published_ones() -> None:
    with pytest.raises(ValueError, match="DARTS_V2"):
        resolve_genotype("NOT_A_GENOTYPE")


def test_genotype_file_and_run_dir_resolve(tmp_path) -> None:
    g = Genotype.named("PDARTS")
    (tmp_path / "genotype.json").write_text(g.to_json())
    assert resolve_genotype(tmp_path) == g
    assert resolve_genotype(tmp_path / "genotype.json") == g


def test_parsec_decisions_cover_inputs_times_nonzero_ops() -> None:
    decisions = parsec_decisions()
    assert len(decisions) == 16
    assert [d.size for d in decisions[:8]] == [14, 14, 21, 21, 28, 28, 35, 35]
    # index = input * 7 + op: choice 7 of node 0 is input 1 with max_pool_3x3
    g = genotype_from_choices([7] + [0] * 15)
    assert g.normal[0] == ("max_pool_3x3", 1)


def test_darts_view_derivation_keeps_two_strongest_edges() -> None:
    weights = {c: torch.zeros(14, len(PRIMITIVES)) for c in ("normal", "reduce")}
    sep = PRIMITIVES.index("sep_conv_5x5")
    weights["normal"][edge_index(3, 4), sep] = 3.0
    weights["normal"][edge_index(3, 1), PRIMITIVES.index("skip_connect")] = 2.0
    weights["normal"][edge_index(3, 0), PRIMITIVES.index("none")] = 9.0  # none never counts
    g = derive_genotype(weights)
    assert g.normal[6:] == (("sep_conv_5x5", 4), ("skip_connect", 1))


def test_one_hot_mixing_of_a_genotype_derives_it_back() -> None:
    g = Genotype.named("DARTS_V2")
    assert derive_genotype(mixing_from_genotype(g)).canonical() == g.canonical()
    assert g.canonical() != g  # DARTS_V2 lists node 2's inputs as (1, 0)


def test_space_rejects_wrong_choice_count() -> None:
    with pytest.raises(ValueError, match="expected 16 choices"):
        get_space("darts").from_choices([0, 1])
