"""The main job on the embedded default (``perception demo`` / ``make demo``).

Simulates a short drive with a fixed seed, writes it in the nuScenes layout, reads it back
through the same reader that reads the real dataset, checks the round trip, and writes the
preview picture.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensors.frame import Frame

#: Official nuScenes ``mini_val`` scene name used for the demo drive (devkit splits work on it).
DEMO_SCENE = "scene-0103"


@dataclass
class DemoResult:
    """Where the demo wrote its outputs and what it checked."""

    dataset_root: Path
    preview: Path
    num_frames: int
    num_boxes: int
    max_point_error_m: float
    max_box_center_error_m: float


def _round_trip_errors(written: list[Frame], read: list[Frame]) -> tuple[float, float]:
    """Largest point and box-centre differences (metres) between written and read frames."""
    point_error = 0.0
    box_error = 0.0
    for original, loaded in zip(written, read, strict=True):
        assert original.lidar is not None and loaded.lidar is not None
        point_error = max(point_error, float(np.abs(original.lidar.points[:, :3] - loaded.lidar.points[:, :3]).max()))
        gt = original.annotations.boxes if original.annotations else None
        back = loaded.annotations.boxes if loaded.annotations else None
        if gt is not None and back is not None and len(gt):
            order = {token: i for i, token in enumerate(back.token or [])}
            index = np.array([order[t] for t in gt.token or []])
            box_error = max(box_error, float(np.abs(gt.center - back.center[index]).max()))
    return point_error, box_error


def run_demo(out_dir: Path, num_frames: int = 6, seed: int = 0, image_size: tuple[int, int] = (450, 800)) -> DemoResult:
    """Run the main job and return what it produced (see the module docstring)."""
    from rich.progress import track

    from sensors.nuscenes.reader import NuScenesDataset
    from sensors.nuscenes.writer import write_nuscenes
    from sensors.sim import SimConfig, render_preview, simulate_drive

    if num_frames < 1:
        raise ValueError(f"--frames must be at least 1, got {num_frames}")
    out_dir.mkdir(parents=True, exist_ok=True)
    config = SimConfig(image_size=image_size)
    frames = list(
        track(simulate_drive(config, seed=seed, num_frames=num_frames, scene_name=DEMO_SCENE),
              total=num_frames, description="simulating drive")
    )
    dataset_root = out_dir / "nuscenes"
    write_nuscenes(frames, dataset_root, version="v1.0-mini")
    read_back = list(NuScenesDataset(dataset_root, split="mini_val"))
    if len(read_back) != len(frames):
        raise RuntimeError(f"read {len(read_back)} frames back, wrote {len(frames)}")
    point_error, box_error = _round_trip_errors(frames, read_back)
    preview = out_dir / "preview.png"
    render_preview(read_back[-1], preview)
    num_boxes = sum(len(f.annotations.boxes) for f in read_back if f.annotations and f.annotations.boxes is not None)
    return DemoResult(dataset_root, preview, len(frames), num_boxes, point_error, box_error)
