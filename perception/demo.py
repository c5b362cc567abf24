"""The main job on the embedded default (``perception demo`` / ``make demo``).

1. Simulate a short validation drive with a fixed seed (the simulator settings stored in the
   checkpoint's config, an official nuScenes ``mini_val`` scene name).
2. Write it as a rosbag2 with MCAP storage (``OUT/drive``, as ``perception simulate --format
   rosbag2`` does).
3. Replay the bag through the checkpoint exactly as ``perception replay`` does
   (:func:`sensors.ros.open_recording`, :func:`perception.replay.runner.replay`), writing
   ``OUT/results.mcap`` and ``OUT/foxglove_layout.json`` for Foxglove, and keeping the frames and
   predictions for scoring; then run the driver head over a dense simulated cabin stream.
4. Score every head against the simulator's ground truth (joined by LiDAR timestamp): nuScenes
   detection, BEV mIoU, depth, driver monitoring (per frame and the monitor's events), latency
   per stage with the warm-up reported apart.
5. Write ``metrics.json``, ``report.md`` with its plots, the report pictures and ``report.html``
   (one self-contained page).

Everything is written into a temporary folder that replaces ``OUT`` at the end
(:func:`sensors.atomic.atomic_dir`), so ``OUT`` holds one whole run. Ctrl-C once the bag is
written keeps what is finished (the bag, and ``results.mcap`` of the frames replayed).
"""
from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: The checkpoint shipped with the package, trained on simulated drives (docs/checkpoint.md).
SHIPPED_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "tiny.pt"
BAG = "drive"
RESULTS_MCAP = "results.mcap"
LAYOUT = "foxglove_layout.json"
REPORT_HTML = "report.html"
#: Pictures of report.html, also written as PNG files next to it.
PICTURES = {"cameras": "cameras.png", "bev": "bev.png", "depth": "depth.png", "driver": "driver_timeline.png"}
#: Everything the demo writes into its output folder (removed at the start of a new run).
OUTPUTS = (BAG, RESULTS_MCAP, LAYOUT, REPORT_HTML, "metrics.json", "report.md", "results_nusc.json",
           "tp_errors.png", "pr_curves.png", "depth_vs_distance.png", "gaze_confusion.png", *PICTURES.values())
STAGE_COUNT = 6
#: What earlier versions of the demo wrote (their output folders may be replaced too).
_EARLIER_OUTPUTS = {"nuscenes", "preview.png", "evaluation"}


@dataclass
class DemoResult:
    """Where the demo wrote its outputs and what it measured.

    Attributes:
        out_dir: the output folder; ``files``: name -> path of everything written.
        metrics: the metrics written to ``metrics.json``.
        stage_s: stage name -> wall seconds.
        interrupted: Ctrl-C stopped the replay; only the bag and ``results.mcap`` were written.
    """

    out_dir: Path
    metrics: dict
    files: dict[str, Path] = field(default_factory=dict)
    stage_s: dict[str, float] = field(default_factory=dict)
    num_frames: int = 0
    num_boxes: int = 0
    interrupted: bool = False

    @property
    def report_html(self) -> Path:
        return self.out_dir / REPORT_HTML


def _say(message: str) -> None:
    """A progress line, on stdout (stderr carries the progress bars and, on a user error, one line)."""
    print(message, flush=True)


class _Stages:
    """Prints ``[k/N] stage`` as each stage starts and records its wall time."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.seconds, self._count = quiet, {}, 0

    def run(self, name: str, what: str, work: Callable[[], object]) -> object:
        self._count += 1
        if not self.quiet:
            _say(f"[{self._count}/{STAGE_COUNT}] {what}")
        start = time.perf_counter()
        try:
            return work()
        finally:
            self.seconds[name] = time.perf_counter() - start


def is_demo_output(path: Path) -> bool:
    """Whether the folder ``path`` holds only what a demo writes (this version's :data:`OUTPUTS`,
    or an earlier version's), so that a new demo may replace it."""
    return {e.name for e in path.iterdir()} <= set(OUTPUTS) | _EARLIER_OUTPUTS


def run_demo(out_dir: Path, num_frames: int = 8, checkpoint: Path = SHIPPED_CHECKPOINT,
             cabin_seconds: float = 60.0, progress: bool = True) -> DemoResult:
    """Run the main job (see the module docstring) and return what it produced.

    Everything is written into a temporary folder that replaces ``out_dir`` at the end
    (:func:`sensors.atomic.atomic_dir`): ``out_dir`` may be absent, empty or an earlier demo output.
    Ctrl-C once the bag is written ends the demo with the files finished so far (the bag, and
    ``results.mcap`` of the frames replayed), which then replace ``out_dir``; ``interrupted`` is set.
    Ctrl-C before that leaves ``out_dir`` as it was.

    Raises:
        ValueError: ``num_frames`` < 1, ``cabin_seconds`` < 0, a checkpoint that is missing or
            does not load.
        FileExistsError, NotADirectoryError, OSError: ``out_dir`` is a file, holds other files, or
            cannot be written (checked before any work).
    """
    from sensors.atomic import atomic_dir, check_output_dir

    if num_frames < 1:
        raise ValueError(f"--frames must be at least 1, got {num_frames}")
    if cabin_seconds < 0:
        raise ValueError(f"--cabin-seconds must be >= 0, got {cabin_seconds}")
    out_dir = Path(out_dir)
    check_output_dir(out_dir, is_demo_output, "demo folder")
    from perception.model import load_model

    stages = _Stages(quiet=not progress)
    model, config = stages.run("load", f"loading {checkpoint}", lambda: load_model(checkpoint))
    with atomic_dir(out_dir, is_demo_output, what="demo folder") as staging:
        staging.mkdir()
        result = _run(staging, out_dir, stages, model, config, num_frames, cabin_seconds, Path(checkpoint), progress)
    result.stage_s = stages.seconds
    return result


def _run(staging: Path, out_dir: Path, stages: _Stages, model, config, num_frames: int, cabin_seconds: float,
         checkpoint: Path, progress: bool) -> DemoResult:
    """The demo's stages, writing into ``staging`` (which becomes ``out_dir``)."""
    import torch

    device = torch.device("cpu")
    frames = stages.run("simulate", f"simulating a drive of {num_frames} frames",
                        lambda: _simulate(config, num_frames, progress))
    stages.run("write bag", f"writing it as a rosbag2 (MCAP): {out_dir / BAG}",
               lambda: _write_bag(frames, staging / BAG))
    result = DemoResult(out_dir, {}, {"bag": out_dir / BAG, RESULTS_MCAP: out_dir / RESULTS_MCAP,
                                      LAYOUT: out_dir / LAYOUT},
                        num_frames=len(frames), num_boxes=sum(_box_count(f) for f in frames))
    try:  # from here on, Ctrl-C keeps what is finished
        sink, stats = stages.run("replay", f"replaying the bag through the model: {out_dir / RESULTS_MCAP}",
                                 lambda: _replay(staging / BAG, frames, model, config, staging, device, progress))
        if not stats.interrupted:
            cabin = stages.run("cabin", f"driver head over {cabin_seconds:g} s of cabin video",
                               lambda: _cabin(model, config, cabin_seconds, device, progress))
            stages.run("report", "scoring every head and writing the report",
                       lambda: _score_and_report(result, staging, sink, stats, cabin, config, list(model.tasks),
                                                 stages.seconds, checkpoint))
            return result
    except KeyboardInterrupt:
        pass
    result.interrupted = True
    for path in staging.iterdir():  # keep only the finished bag and results
        if path.name not in (BAG, RESULTS_MCAP, LAYOUT):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    result.files = {k: v for k, v in result.files.items() if (staging / v.name).exists()}
    return result


def _box_count(frame) -> int:
    boxes = frame.annotations.boxes if frame.annotations is not None else None
    return 0 if boxes is None else len(boxes)


def _simulate(config, num_frames: int, progress: bool) -> list:
    from tqdm import tqdm

    from perception.inference.sources import SIM, open_eval_source

    simulated = open_eval_source(SIM, "mini_val", config, max_samples=num_frames)
    return [simulated.frames[i] for i in tqdm(range(len(simulated.frames)), desc="simulate", unit="frame",
                                              disable=not progress, file=sys.stderr, dynamic_ncols=True)]


def _write_bag(frames: list, path: Path) -> Path:
    from sensors.ros.writer import write_rosbag2

    return write_rosbag2(frames, path, storage="mcap")


def _replay(bag: Path, frames: list, model, config, out_dir: Path, device, progress: bool):
    from evaluation.segmentation import DEFAULT_THRESHOLDS
    from perception.inference.record_sink import RecordSink
    from perception.replay.foxglove_sink import foxglove_outputs
    from perception.replay.layout import write_layout
    from perception.replay.runner import replay
    from sensors.ros import open_recording

    recording = open_recording(bag)
    truth = {f.timestamp: f.annotations for f in frames if f.annotations is not None}
    sink = RecordSink(truth, config.model, np.asarray(DEFAULT_THRESHOLDS))
    with foxglove_outputs(out_dir / RESULTS_MCAP, config.model.heads.segmentation.grid) as publisher:
        stats = replay(recording, model, [publisher, sink], device, progress=progress, total=len(frames))
    write_layout(out_dir / LAYOUT, config.model.cameras)
    return sink, stats


def _cabin(model, config, seconds: float, device, progress: bool) -> list:
    from tqdm import tqdm

    from perception.inference.pipeline import CABIN_BATCH
    from perception.inference.predict import predict_cabin_stream
    from perception.inference.sources import CabinStream
    from sensors.sim import SimConfig

    if seconds <= 0 or "driver" not in model.heads:
        return []
    d = config.data
    stream = CabinStream(d.seed + d.train_scenes, seconds, 10.0, SimConfig(**d.sim).cabin_size)
    batches = [range(i, min(i + CABIN_BATCH, len(stream))) for i in range(0, len(stream), CABIN_BATCH)]
    batches = tqdm(batches, desc="cabin", unit="batch", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    return [obs for _, obs in predict_cabin_stream(model, stream, batches, "cabin-stream", device)]


def _latency(stats) -> dict:
    from evaluation.latency import summarize_latency

    stages = {name: values for name, values in stats.stage_s.items() if values}
    stages["total"] = [float(sum(v)) for v in zip(*stages.values())]
    return summarize_latency(stages)


def _score_and_report(result: DemoResult, staging: Path, sink, stats, cabin: list, config, heads: list[str],
                      stage_s: dict, checkpoint: Path) -> None:
    from evaluation.report import PlotInputs, write_report
    from perception.inference.demo_report import write_demo_html
    from perception.inference.scoring import score_records

    records, unmatched = sink.records()
    out_dir = staging
    scores = score_records(records, cabin, out_dir, segmentation_grid=config.model.heads.segmentation.grid, kind="sim")
    metrics = dict(scores.metrics)
    if stats.frames:
        metrics["latency"] = _latency(stats)
        metrics["warmup"] = {"first_frame_s": stats.warmup_s,
                             "note": "one-off cost of the first forward pass (kernel compilation or cache load, "
                                     "thread pools), run before timing and not included in the latency"}
    metrics["meta"] = {"data": "sim, written as a rosbag2 and replayed", "frames": len(records),
                       "frames_without_truth": unmatched, "cabin_stream_frames": len(cabin), "device": "cpu",
                       "heads": heads, "stage_seconds": {k: round(v, 3) for k, v in stage_s.items()}}
    files = write_report(metrics, out_dir, PlotInputs(detection=scores.detection))
    shipped = Path(checkpoint).resolve() == SHIPPED_CHECKPOINT
    notes = [f"Model: {'the shipped checkpoint' if shipped else 'checkpoint'} {checkpoint}.",
             f"{len(records)} frames of a simulated drive, written as a rosbag2 ({BAG}/) and replayed as "
             "'perception replay' does; scored against the simulator's ground truth.",
             f"The whole drive in Foxglove: open {LAYOUT}, then {RESULTS_MCAP} (both next to this file).",
             "Every number is also in metrics.json."]
    files.update(write_demo_html(out_dir, metrics, sink, cabin, config, files["report.md"],
                                 "the shipped model" if shipped else Path(checkpoint).name, notes))
    moved = {name: result.out_dir / path.relative_to(staging) for name, path in files.items()}
    result.metrics, result.files = metrics, {**result.files, **moved}
