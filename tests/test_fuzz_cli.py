"""Bad input through every command: a clear one-line error, exit code 2, and nothing lost (the fuzz table of
``_fuzz_cli.py``; ``benchmarks/fuzz_cli_table.py`` prints its counts)."""

from __future__ import annotations

import json

import pytest
from _fuzz_cli import all_cases, run_case
from _fuzz_inputs import build_workspace

from parsecnas.cli import main
from parsecnas.spaces import Genotype

CASES = all_cases()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return build_workspace(tmp_path_factory.mktemp("fuzz"))


def test_the_table_holds_at_least_300_cases_over_every_category() -> None:
    categories = {c.category for c in CASES}
    assert len(CASES) >= 300 and len(categories) >= 9, (len(CASES), categories)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.category}/{c.name}" for c in CASES])
def test_a_bad_input_ends_in_one_clear_line_and_changes_nothing(workspace, case) -> None:
    outcome, detail = run_case(case, workspace)
    if outcome == "skipped":
        pytest.skip(detail)
    assert outcome == "clean", detail


GOOD = Genotype.named("DARTS_V2")


@pytest.mark.parametrize("form", ["text", "json"])
@pytest.mark.parametrize("command", [["show"], ["show", "--json"], ["train", "--print-config"],
                                     ["train", "--ensemble=2", "--quiet"]])
def test_a_valid_genotype_string_is_read_as_a_genotype_not_as_a_file_name(capsys, form, command) -> None:
    text = str(GOOD) if form == "text" else json.dumps(GOOD.to_dict())
    code = main([command[0], text, *command[1:]])
    err = capsys.readouterr().err
    if "--ensemble=2" in command:  # an ensemble is drawn from a search run: a clear refusal, not an OSError
        assert code == 2 and "needs a PARSEC search run directory" in err and "File name" not in err
    else:
        assert code == 0, err
