"""Pure parts of benchmarks/replay.py: the overhead figures of the report and the docs section replacement."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_replay", ROOT / "benchmarks" / "replay.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _result(write_ms: float) -> dict:
    wall = {"decode": 0.010, "preprocess": 0.020, "model": 0.200, "postprocess": 0.010, "write": write_ms / 1e3}
    return {"frames": 4, "wall_s": 1.0, "fps": 4.0, "median_s": wall, "median_cpu_s": dict(wall),
            "image_size": (225, 400), "bag_mb": 1.0, "results_mb": 2.0}


def test_overhead_is_decode_plus_write_over_model():
    text = bench.report(_result(10.0), "cmd", (1, 1, 1), (1, 1, 1), False)
    assert "**10.0% of the model's CPU time** (goal < 15%: met)" in text  # (10 + 10) / 200
    assert "25.0% of the model's CPU time" in text  # (10 + 20 + 10 + 10) / 200
    assert "NOT met" in bench.report(_result(30.0), "cmd", (1, 1, 1), (1, 1, 1), False)  # (10 + 30) / 200


def test_write_docs_replaces_only_its_section(tmp_path, monkeypatch):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Model\n\nmodel text\n\n## Replay\n\nold\n\n## Later\n\nkept\n")
    monkeypatch.setattr(bench, "DOCS", doc)
    bench.write_docs("## Replay\n\nnew\n")
    assert doc.read_text() == "# Benchmarks\n\n## Model\n\nmodel text\n\n## Replay\n\nnew\n\n## Later\n\nkept\n"
    doc.write_text("# Benchmarks\n\n## Model\n\nx\n")
    bench.write_docs("## Replay\n\nnew\n")
    assert doc.read_text() == "# Benchmarks\n\n## Model\n\nx\n\n## Replay\n\nnew\n"
