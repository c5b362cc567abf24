"""Latency summary of per-stage pipeline timings."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def summarize_latency(timings_s: Mapping[str, Sequence[float]]) -> dict[str, dict[str, float]]:
    """Stage -> ``{"count", "median_ms", "p99_ms", "mean_ms", "max_ms"}`` from timings in **seconds**.

    Percentiles use linear interpolation between samples (numpy's default).
    """
    out = {}
    for stage, values in timings_s.items():
        v = np.asarray(values, np.float64).reshape(-1)
        if len(v) == 0:
            raise ValueError(f"latency: stage {stage!r} has no timings")
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ValueError(f"latency: stage {stage!r} has negative or non-finite timings")
        out[stage] = {
            "count": len(v),
            "median_ms": float(np.median(v) * 1e3),
            "p99_ms": float(np.percentile(v, 99) * 1e3),
            "mean_ms": float(np.mean(v) * 1e3),
            "max_ms": float(np.max(v) * 1e3),
        }
    return out
