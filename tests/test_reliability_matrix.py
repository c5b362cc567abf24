"""``docs/reliability.md`` is kept current by ``benchmarks/reliability_matrix.py``."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _matrix():
    spec = importlib.util.spec_from_file_location("reliability_matrix", REPO / "benchmarks" / "reliability_matrix.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_documented_table_lists_every_case_with_no_bad_outcome():
    matrix = _matrix()
    doc = (REPO / "docs" / "reliability.md").read_text()
    table = doc.split(matrix.START)[1].split(matrix.END)[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ") and not line.startswith("| Kind")]
    assert [row[1] for row in rows] == [case.name for case in matrix.CASES]
    assert all(row[2] in (matrix.ERROR, matrix.HANDLED) for row in rows)
    counts = re.search(r"(\d+) cases: (\d+) one-line error, (\d+) handled, 0 traceback, 0 accepted silently, "
                       r"0 half-written", table)
    assert counts is not None and int(counts.group(1)) == len(matrix.CASES) == len(rows)


@pytest.mark.slow
def test_every_case_ends_in_a_one_line_error_or_the_documented_behaviour():
    matrix = _matrix()
    results = matrix.run(None)
    bad = [(r.case, r.outcome, r.detail) for r in results if r.outcome in matrix.BAD]
    assert not bad
