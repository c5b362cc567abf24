"""Pure parts of benchmarks/model.py: statistics, kernel shares, the docs subsection replacement."""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_model", ROOT / "benchmarks" / "model.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_stage_stats_median_p90_and_missing_stage_is_zero():
    per_iter = [{"a": 0.001 * i, "b": 0.002} for i in range(1, 11)] + [{"a": 0.011}]
    stats = bench.stage_stats(per_iter)
    assert stats["a"]["median_ms"] == pytest.approx(6.0)
    assert stats["a"]["p90_ms"] == pytest.approx(10.0)
    assert stats["b"]["median_ms"] == pytest.approx(2.0)  # 10 x 2 ms and one missing (0 ms)
    assert stats["b"]["p90_ms"] == pytest.approx(2.0)


def test_kernel_shares():
    shares = bench.kernel_shares([{"bev_pool": 0.1, "rotated_nms": 0.1}, {"bev_pool": 0.3}], [1.0, 1.0])
    assert shares["bev_pool"] == pytest.approx(0.2)
    assert shares["rotated_nms"] == pytest.approx(0.05)
    assert shares["all"] == pytest.approx(0.25)
    with pytest.raises(ValueError):
        bench.kernel_shares([{}], [1.0, 2.0])


def test_kernel_timer_wraps_and_restores():
    import kernels

    original = kernels.rotated_nms
    timer = bench.KernelTimer(lambda: None)
    with timer.installed():
        assert kernels.rotated_nms is not original
        # the wrapper calls through and times the call
        slow = timer._wrap("x", lambda: time.sleep(0.02) or 7)
        assert slow() == 7
    assert kernels.rotated_nms is original
    assert timer.take()["x"] >= 0.02
    assert timer.take() == {}


def test_replace_subsection():
    doc = "# Benchmarks\n\n## Kernels\n\nk\n\n## Model\n\n### tiny, cpu\n\nold\n\n### base, cuda\n\ngpu\n\n## Later\n\nz\n"
    new = bench.replace_subsection(doc, "## Model", "### tiny, cpu\n\nnew\n")
    assert new == "# Benchmarks\n\n## Kernels\n\nk\n\n## Model\n\n### tiny, cpu\n\nnew\n\n### base, cuda\n\ngpu\n\n## Later\n\nz\n"
    added = bench.replace_subsection(doc, "## Model", "### base, cpu\n\nb\n")
    assert "### base, cuda\n\ngpu\n\n### base, cpu\n\nb\n\n## Later" in added
    assert added.startswith("# Benchmarks\n\n## Kernels\n\nk\n")
    fresh = bench.replace_subsection("# Benchmarks\n\n## Kernels\n\nk\n", "## Model", "### tiny, cpu\n\nt\n")
    assert fresh == "# Benchmarks\n\n## Kernels\n\nk\n\n## Model\n\n### tiny, cpu\n\nt\n"


def _latency(ms: float) -> dict:
    stage = {"median_ms": ms, "p90_ms": ms * 1.5}
    return {"stages": {"image_encoder": stage, "model": stage, "total": stage}, "cpu_ms": stage,
            "kernels": {"bev_pool": 0.25, "all": 0.5}, "memory": {"peak_extra_mb": 10.0, "peak_mb": 100.0}}


def test_format_section_keeps_measured_dtypes_and_names_failures():
    results = {
        "latency": {"fp32": _latency(20.0), "fp16": {"error": "ValueError: pillar_scatter: features must be float32"}},
        "training": {"fp32": {"samples_per_s": 4.0, "step_ms": {"median_ms": 500.0}, "cpu_ms": 600.0,
                              "memory": {"peak_extra_mb": 50.0, "peak_mb": 300.0}},
                     "fp16": {"error": "skipped"}},
    }
    meta = {"command": "python benchmarks/model.py", "machine": "m", "torch": "t", "threads": 1, "date": "d",
            "parameters": 2_000_000, "load_before": "1.0", "load_after": "2.0", "iters": 3, "warmup": 1,
            "weights": "random"}
    text = bench.format_section("base", "cuda", results, meta)
    assert text.startswith("### base, cuda\n")
    assert "| image_encoder | 20.0 | 30.0 |" in text
    assert "| bev_pool | 25.0% |" in text and "| all | 50.0% |" in text
    assert "| fp32 | 4.00 | 500 | 600 | 10 | 100 | 50 | 300 |" in text
    assert "- latency fp16: ValueError: pillar_scatter: features must be float32" in text
    assert "fp16 median" not in text
