"""The CLI fuzz table: every bad input of ``tests/_fuzz_cli.py`` run once, counted per category and outcome.

Usage: ``PYTHONPATH=src python benchmarks/fuzz_cli_table.py [--show-failures]``. A case is *clean* when the
command exits 2 with one line on stderr naming the bad value or key, no traceback, and every file of the
workspace (finished runs, the inputs) unchanged.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _fuzz_cli import OUTCOMES, all_cases, run_case  # noqa: E402
from _fuzz_inputs import build_workspace  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-failures", action="store_true", help="print every case that is not clean")
    args = parser.parse_args()
    cases, counts, failures = all_cases(), Counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        workspace = build_workspace(Path(tmp))
        for case in cases:
            outcome, detail = run_case(case, workspace)
            counts[case.category, outcome] += 1
            if outcome not in ("clean", "skipped"):
                failures.append(f"{outcome:<18} {case.category}/{case.name}: {detail}")
    categories = list(dict.fromkeys(c.category for c in cases))
    header = ["category", "tried", *OUTCOMES]
    rows = [[c, sum(counts[c, o] for o in OUTCOMES), *(counts[c, o] for o in OUTCOMES)] for c in categories]
    rows.append(["all", sum(r[1] for r in rows), *(sum(counts[c, o] for c in categories) for o in OUTCOMES)])
    skipped = sum(counts[c, "skipped"] for c in categories)
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
    if skipped:
        print(f"\n{skipped} cases not run: they need the offline data ($PARSECNAS_DATA)")
    if args.show_failures:
        print("\n".join(["", *failures]))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
