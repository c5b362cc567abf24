"""Pure parts of benchmarks/export.py: the figures of the table and the docs section replacement."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_export", ROOT / "benchmarks" / "export.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

META = {"command": "python benchmarks/export.py", "machine": "x86_64", "torch": "t", "ort": "o", "date": "d",
        "load_before": "1", "load_after": "1", "niceness": 0, "weights": "tiny.pt", "fp32_mib": 12.6,
        "int8_mib": 4.5, "count": 12, "frames": 4, "rounds": 3, "accuracy_frames": 8, "cabin_seconds": 20.0}


def _row(runtime: str, threads: int, e2e_ms: float) -> dict:
    return {"runtime": runtime, "threads": threads, "network": {"median_ms": e2e_ms / 2, "p90_ms": e2e_ms},
            "e2e": {"median_ms": e2e_ms, "p90_ms": e2e_ms * 1.5}, "cpu_ms": 1.0,
            "samples_per_s": 1000.0 / e2e_ms, "count": 12}


def test_stats_are_median_and_p90_in_milliseconds():
    assert bench.stats([0.001 * v for v in range(1, 11)]) == pytest.approx({"median_ms": 5.5, "p90_ms": 9.1})


def test_speed_up_is_against_eager_at_the_same_thread_count():
    speed = {"eager|1": _row("eager", 1, 1000.0), "onnxruntime|1": _row("onnxruntime", 1, 500.0),
             "eager|2": _row("eager", 2, 4000.0), "onnxruntime|2": _row("onnxruntime", 2, 1000.0)}
    accuracy = {"eager": {"NDS": 0.64, "mAP": 0.75, "mIoU": 0.5, "AbsRel": 0.08, "gaze": 0.9}}
    text = bench.format_section(speed, accuracy, META)
    rows = [line for line in text.splitlines() if line.startswith("| onnxruntime |")]
    assert rows[0].endswith("| 2.00 | 2.00x |") and rows[1].endswith("| 1.00 | 4.00x |"), rows
    assert "| eager | 0.6400 | 0.7500 | 0.5000 | 0.0800 | 0.900 |" in text


def test_write_docs_replaces_only_its_section(tmp_path, monkeypatch):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\n{bench.SECTION}\n\nold\n\n## Later\n\nkept\n")
    monkeypatch.setattr(bench, "DOC", doc)
    bench.write_docs(f"{bench.SECTION}\n\nnew\n")
    assert doc.read_text() == f"# Benchmarks\n\n{bench.SECTION}\n\nnew\n\n## Later\n\nkept\n"
    doc.write_text("# Benchmarks\n\n## Model\n\nx\n")
    bench.write_docs(f"{bench.SECTION}\n\nnew\n")
    assert doc.read_text() == f"# Benchmarks\n\n## Model\n\nx\n\n{bench.SECTION}\n\nnew\n"
