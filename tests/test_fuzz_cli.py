"""Bad input through every command: a clear one-line error, exit code 2, and nothing lost (the fuzz table of
``_fuzz_cli.py``; ``benchmarks/fuzz_cli_table.py`` prints its counts)."""

from __future__ import annotations

import pytest
from _fuzz_cli import all_cases, run_case
from _fuzz_inputs import build_workspace

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
