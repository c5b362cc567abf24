"""Pure parts of benchmarks/ros_node.py: the figures of its report."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_ros_node", ROOT / "benchmarks" / "ros_node.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_share_outside_the_model_is_latency_minus_inference():
    result = {"latency_s": [0.9, 1.0, 1.1], "timing_ms": {"preprocessing_ms": [10.0], "inference_ms": [700.0, 800.0, 900.0],
                                                         "postprocessing_ms": [20.0]},
              "frames": 3, "wall_s": 4.0, "fps": 0.75, "image_size": (225, 400)}
    text = bench.report(result, "cmd", (1, 1, 1), (1, 1, 1), 0.12, 0.1)
    assert "| end to end: completing message sent -> detections received | 1000 |" in text
    assert "**20% of the end-to-end latency** (200 ms of 1000 ms" in text  # (1000 - 800) / 1000
    assert "**0.75 frames/s**" in text and "220 ms after its LiDAR stamp" in text
