"""Pure part of benchmarks/demo.py: the table of the two runs."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_demo", ROOT / "benchmarks" / "demo.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_table_has_a_row_per_run_and_a_column_per_stage():
    run = {"wall_s": 66.2, "cpu_s": 17.4, "warmup_s": 1.43, "stages": {"load": 1.5, "replay": 20.25},
           "load": 9.84, "latency_ms": 1073.6}
    lines = bench.table([("first", {**run, "warmup_s": 58.46}), ("second", run)]).splitlines()
    assert lines[0].count("|") == lines[1].count("|") == lines[2].count("|") == 9
    assert lines[2].split("|")[1:5] == [" first ", " 66 ", " 17 ", " 58.5 "]
    assert "| 1.5 | 20.2 | 1074 | 9.8 |" in lines[3]
