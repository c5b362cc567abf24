"""The main job on the embedded default (``perception demo`` / ``make demo``).

1. Simulate a short validation drive with a fixed seed (the simulator settings stored in the
   checkpoint's config, an official nuScenes ``mini_val`` scene name).
2. Write it in the nuScenes layout and read it back through the reader that reads the real
   dataset; check the round trip and write the preview picture.
3. Run the shipped checkpoint over the frames read back, plus a dense simulated cabin stream,
   and score every head (nuScenes detection, BEV mIoU, depth, driver monitoring, latency).
4. Write ``metrics.json``, ``report.md`` and the plots.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensors.frame import Frame
from sensors.nuscenes.tokens import instance_token

#: The checkpoint shipped with the package, trained on simulated drives (docs/checkpoint.md).
SHIPPED_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "tiny.pt"


@dataclass
class DemoResult:
    """Where the demo wrote its outputs and what it measured."""

    dataset_root: Path
    preview: Path
    report: Path
    metrics: dict
    num_frames: int
    num_boxes: int
    max_point_error_m: float
    max_box_center_error_m: float


def round_trip_errors(written: list[Frame], read: list[Frame]) -> tuple[float, float]:
    """Largest LiDAR point and box-centre differences (metres) between written and read frames.

    Raises:
        RuntimeError: a frame, point cloud or box went missing on the way.
    """
    point_error = 0.0
    box_error = 0.0
    for original, loaded in zip(written, read, strict=True):
        if original.lidar is None or loaded.lidar is None or len(original.lidar.points) != len(loaded.lidar.points):
            raise RuntimeError(f"frame {original.token}: LiDAR points lost in the nuScenes round trip")
        point_error = max(point_error, float(np.abs(original.lidar.points[:, :3] - loaded.lidar.points[:, :3]).max(initial=0.0)))
        gt = original.annotations.boxes if original.annotations else None
        back = loaded.annotations.boxes if loaded.annotations else None
        if gt is None or not len(gt):
            continue
        if back is None or back.token is None:
            raise RuntimeError(f"frame {original.token}: boxes lost in the nuScenes round trip")
        order = {token: i for i, token in enumerate(back.token)}
        index = np.array([order[instance_token(original.scene, t)] for t in gt.token or []])
        box_error = max(box_error, float(np.abs(gt.center - back.center[index]).max()))
    return point_error, box_error


def run_demo(out_dir: Path, num_frames: int = 8, checkpoint: Path = SHIPPED_CHECKPOINT,
             cabin_seconds: float = 60.0) -> DemoResult:
    """Run the main job (see the module docstring) and return what it produced.

    Everything is written into a temporary folder renamed to ``out_dir`` at the end, so the output
    is complete or absent; ``out_dir`` may be absent, empty or a previous demo output.

    Raises:
        ValueError: ``num_frames`` < 1, or a checkpoint that is missing or does not load.
        FileExistsError: ``out_dir`` is a file or holds something else.
    """
    from perception.inference import load_model
    from sensors.atomic import atomic_dir

    if num_frames < 1:
        raise ValueError(f"--frames must be at least 1, got {num_frames}")
    out_dir = Path(out_dir)
    with atomic_dir(out_dir, is_demo_output, what="demo folder") as staging:
        staging.mkdir()
        model, config = load_model(checkpoint)
        result = _run(staging, model, config, num_frames, cabin_seconds)
    moved = {name: out_dir / path.relative_to(staging) for name, path in
             (("dataset_root", result.dataset_root), ("preview", result.preview), ("report", result.report))}
    return dataclasses.replace(result, **moved)


def is_demo_output(path: Path) -> bool:
    """Whether the folder ``path`` is a previous output of the demo (it is replaced)."""
    return {e.name for e in path.iterdir()} <= {"nuscenes", "preview.png", "evaluation"}


def _run(out_dir: Path, model: object, config: object, num_frames: int, cabin_seconds: float) -> DemoResult:
    """The demo's steps, writing into ``out_dir``."""
    from rich.progress import track

    from perception.inference import EvalOptions, evaluate_model, open_eval_source
    from perception.inference.sources import SIM, EvalSource
    from sensors.nuscenes.reader import NuScenesDataset
    from sensors.nuscenes.writer import write_nuscenes
    from sensors.sim import render_preview

    simulated = open_eval_source(SIM, "mini_val", config, max_samples=num_frames)
    frames = [simulated.frames[i] for i in track(range(len(simulated.frames)), description="simulating drive")]

    dataset_root = out_dir / "nuscenes"
    write_nuscenes(frames, dataset_root, version="v1.0-mini", maps=simulated.frames.maps())
    read_back = list(NuScenesDataset(dataset_root, split="mini_val"))
    if len(read_back) != len(frames):
        raise RuntimeError(f"read {len(read_back)} frames back, wrote {len(frames)}")
    point_error, box_error = round_trip_errors(frames, read_back)
    preview = out_dir / "preview.png"
    render_preview(read_back[-1], preview)

    source = EvalSource(SIM, read_back, None, "mini_val")
    outcome = evaluate_model(model, config, source, EvalOptions(out_dir / "evaluation", cabin_seconds=cabin_seconds))
    assert outcome is not None  # single process: rank 0
    num_boxes = sum(len(f.annotations.boxes) for f in read_back if f.annotations and f.annotations.boxes is not None)
    return DemoResult(dataset_root, preview, outcome.files["report.md"], outcome.metrics, len(frames), num_boxes,
                      point_error, box_error)
