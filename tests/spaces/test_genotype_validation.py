"""What the genotype validator accepts, the network builder builds; what it refuses is named, briefly."""

from __future__ import annotations

import json

import pytest
import torch

from parsecnas.cli import main
from parsecnas.export import load_model, save_model
from parsecnas.nets import EvalNetwork
from parsecnas.spaces import Genotype

BASE = Genotype.named("DARTS_V2").to_dict()


@pytest.mark.parametrize(("normal_concat", "reduce_concat"), [
    ([4, 5], [2, 3, 4, 5]), ([2], [5]), ([3, 5], [2, 4]), ([5, 2, 4], [3]),
])
def test_any_valid_concat_builds_trains_and_round_trips(tmp_path, normal_concat, reduce_concat) -> None:
    genotype = Genotype.from_dict({**BASE, "normal_concat": normal_concat, "reduce_concat": reduce_concat})
    torch.manual_seed(0)
    net = EvalNetwork(genotype, num_cells=3, channels=4, num_classes=5, in_channels=1, auxiliary=True)
    logits, aux = net.train().forward_train(torch.randn(2, 1, 16, 16))
    assert logits.shape == aux.shape == (2, 5)
    (logits.sum() + aux.sum()).backward()
    save_model(net.eval(), tmp_path / "model.pt")
    x = torch.randn(3, 1, 16, 16)
    torch.testing.assert_close(load_model(tmp_path / "model.pt")(x), net(x))


def test_the_cli_shows_a_genotype_with_a_partial_concat(capsys) -> None:
    text = json.dumps({**BASE, "normal_concat": [4, 5]})
    assert main(["show", text, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["genotype"]["normal_concat"] == [4, 5]


def _pair(k, value):
    def edit(data):
        data["normal"][k] = value
    return edit


def _set(key, value):
    def edit(data):
        data[key] = value
    return edit


BAD = {
    "fractional index": (_pair(0, ["sep_conv_3x3", 1.5]), "input index of normal pair 0 must be an integer, got 1.5"),
    "boolean index": (_pair(1, ["sep_conv_3x3", True]), "input index of normal pair 1 must be an integer, got True"),
    "string index": (_pair(2, ["sep_conv_3x3", "1"]), "input index of normal pair 2 must be an integer, got '1'"),
    "not a pair": (_pair(3, ["sep_conv_3x3"]), "normal pair 3 must be an (op name, input index) pair"),
    "op not a name": (_pair(3, [3, 0]), "normal pair 3 must be an (op name, input index) pair"),
    "fractional concat": (_set("reduce_concat", [2, 3.0]), "reduce_concat item 1 must be an integer, got 3.0"),
    "concat out of range": (_set("normal_concat", [4, 6]), "normal_concat [4, 6] invalid"),
    "repeated concat": (_set("normal_concat", [4, 4]), "normal_concat [4, 4] invalid"),
    "unknown key": (_set("normal_concatt", [2]), "unknown genotype key(s) 'normal_concatt'; valid keys: normal"),
    "cell not a list": (_set("reduce", "max_pool_3x3"), "reduce must be a list of (op, input) pairs"),
    "huge concat": (_set("normal_concat", list(range(10**6))), "(a list of 1000000 items)"),
    "huge op name": (_pair(0, ["x" * 10**6, 0]), "unknown op 'xxxxxxxx"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_genotype_is_refused_by_name_in_a_short_message(case) -> None:
    edit, message = BAD[case]
    data = json.loads(json.dumps(BASE))
    edit(data)
    with pytest.raises(ValueError) as err:
        Genotype.from_dict(data)
    assert message in str(err.value) and len(str(err.value)) < 400


def test_a_genotype_string_with_an_enormous_range_is_refused_without_building_it(capsys) -> None:
    text = str(Genotype.named("DARTS_V2")).replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(10000000000)")
    assert main(["show", text]) == 2
    err = capsys.readouterr().err
    assert "has 10000000000 items" in err and len(err) < 400


def test_a_yaml_alias_bomb_gives_a_short_error(tmp_path, capsys) -> None:
    levels = ["&a [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"&{b} [" + ", ".join([f"*{a}"] * 9) + "]" for a, b in zip("abcdef", "bcdefg")]
    (tmp_path / "bomb.yaml").write_text(f"epochs: [{', '.join(levels)}]\n")
    assert main(["train", "DARTS_V2", "--config", str(tmp_path / "bomb.yaml"), "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "epochs: expected int" in err and len(err) < 400
    assert not (tmp_path / "r").exists()
