"""The evaluation jobs: run a model over a dataset and score every head, or score a submission file.

Both write into ``out_dir``: ``metrics.json``, ``report.md`` and the plots of
:func:`evaluation.report.write_report`, the submission JSON of the predictions
(``results_nusc.json``) or KITTI label files, and ``samples/sample_<k>.png`` pictures of the first
samples (predictions over ground truth), linked from the report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from evaluation.nuscenes_det.boxes import DetectionBoxes
from evaluation.nuscenes_det.evaluate import evaluate_detection
from evaluation.nuscenes_det.ground_truth import load_ground_truth
from evaluation.nuscenes_det.submission import read_submission
from evaluation.report import PlotInputs, write_report
from evaluation.segmentation import DEFAULT_THRESHOLDS
from perception.config import (
    Config,
    build_sim_config,
)
from perception.distributed import DistContext
from perception.inference.predict import predict_cabin_stream, predict_frames
from perception.inference.records import DriverObservation, FrameRecord
from perception.inference.scoring import Scores, score_records
from perception.inference.sharding import gather_to_main, shard_blocks
from perception.inference.sources import SIM, CabinStream, EvalSource
from perception.inference.visualize import draw_sample
from perception.model.network import Network
from perception.model.prediction import Prediction
from sensors.atomic import atomic_write
from sensors.boxes import Boxes3D
from sensors.frame import Frame
from sensors.geometry import invert_transform

SAMPLES_DIR = "samples"
#: Cabin images per forward pass of the driver head.
CABIN_BATCH = 16


@dataclass
class EvalOptions:
    """How to evaluate.

    Attributes:
        out_dir: output folder (created).
        batch_size: frames per forward pass.
        samples_to_draw: pictures of the first samples.
        cabin_seconds, cabin_fps: the dense simulated cabin stream scored for driver events
            (``--data sim`` only; 0 seconds: none).
        max_depth: depth range cap in metres.
    """

    out_dir: Path
    batch_size: int = 1
    samples_to_draw: int = 3
    cabin_seconds: float = 60.0
    cabin_fps: float = 10.0
    max_depth: float = 80.0

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        if self.batch_size < 1 or self.samples_to_draw < 0 or self.cabin_seconds < 0 or self.cabin_fps <= 0:
            raise ValueError("evaluation options: need batch size >= 1, samples >= 0, cabin seconds >= 0, fps > 0")


@dataclass
class EvalOutcome:
    """What an evaluation produced (on rank 0): the metrics and every file written (name -> path)."""

    metrics: dict
    files: dict[str, Path] = field(default_factory=dict)


def kitti_prediction_objects(source: EvalSource, frame: Frame, boxes: Boxes3D | None) -> list:
    """KITTI objects (with scores) of ego-frame predicted ``boxes`` of a frame of a KITTI ``source``,
    in its rectified camera frame (calibration read from the dataset); [] without boxes or camera."""
    from sensors.kitti import boxes_to_objects
    from sensors.kitti.reader import CAMERA_NAME

    camera = frame.cameras.get(CAMERA_NAME)
    if boxes is None or camera is None:
        return []
    rect_to_camera = source.dataset.calib(frame.token).rect_to_camera(2)
    return boxes_to_objects(boxes, camera, with_score=True, rect_to_camera=rect_to_camera)


def _link_samples(report: Path, names: list[str]) -> None:
    """Append the sample pictures to ``report.md`` (rewritten atomically)."""
    if not names:
        return
    text = report.read_text() + "\n".join(["## Samples", "", "Ground-truth boxes in green, predictions in class colours.",
                                           ""] + [f"![{n}]({n})" for n in names] + [""])
    atomic_write(report, lambda f: f.write(text))


def _write(scores: Scores, out_dir: Path, meta: dict, samples: list[str]) -> EvalOutcome:
    metrics = {**scores.metrics, "meta": meta}
    files = write_report(metrics, out_dir, PlotInputs(detection=scores.detection))
    _link_samples(files["report.md"], samples)
    files.update({name: out_dir / name for name in samples})
    return EvalOutcome(metrics, files)


def evaluate_model(model: Network, config: Config, source: EvalSource, options: EvalOptions,
                   device: torch.device = torch.device("cpu"), ctx: DistContext | None = None) -> EvalOutcome | None:
    """Run ``model`` over ``source`` (this rank's shard), gather to rank 0 and score every head.

    Returns the outcome on rank 0 and None on the other ranks.
    """
    ctx = ctx or DistContext(device=device)
    thresholds = np.asarray(DEFAULT_THRESHOLDS)
    seg_grid = config.model.heads.segmentation.grid
    kitti: list[tuple[str, list]] = []
    drawn: list[str] = []

    def side_work(index: int, frame: Frame, prediction: Prediction) -> None:
        if source.kind == "kitti":
            kitti.append((frame.token, kitti_prediction_objects(source, frame, prediction.boxes)))
        if index < options.samples_to_draw:
            name = f"{SAMPLES_DIR}/sample_{index:03d}.png"
            draw_sample(frame, prediction, seg_grid, options.out_dir / name)
            drawn.append(name)

    records = predict_frames(model, source.frames, shard_blocks(len(source.frames), options.batch_size, ctx), device,
                             thresholds, on_frame=side_work, progress=ctx.is_main)
    cabin: list[tuple[int, DriverObservation]] = []
    if source.kind == SIM and "driver" in model.tasks and options.cabin_seconds > 0:
        d = config.data
        stream = CabinStream(d.seed + d.train_scenes, options.cabin_seconds, options.cabin_fps,
                             build_sim_config(d).cabin_size)
        cabin = predict_cabin_stream(model, stream, shard_blocks(len(stream), CABIN_BATCH, ctx), "cabin-stream", device)
    base = 0
    for name, recording in source.cabin_streams:
        observations = predict_cabin_stream(model, recording, shard_blocks(len(recording), CABIN_BATCH, ctx), name, device)
        cabin += [(base + i, obs) for i, obs in observations]
        base += len(recording)
    gathered = gather_to_main([records, cabin, kitti, drawn], ctx)
    if gathered is None:
        return None
    parts = [gathered[i::4] for i in range(4)]
    all_records: list[FrameRecord] = sorted((r for part in parts[0] for r in part), key=lambda r: r.index)
    all_cabin = [obs for _, obs in sorted((c for part in parts[1] for c in part), key=lambda c: c[0])]
    kitti_objects = {token: objects for part in parts[2] for token, objects in part}
    samples = sorted(name for part in parts[3] for name in part)
    label_dir = source.dataset.base / "label_2" if source.kind == "kitti" else None
    scores = score_records(all_records, all_cabin, options.out_dir, segmentation_grid=seg_grid, kind=source.kind,
                           nuscenes_root=source.root if source.kind == "nuscenes" else None,
                           version=source.nuscenes_version, split=source.split, kitti_objects=kitti_objects,
                           kitti_label_dir=label_dir, max_depth=options.max_depth)
    meta = {"data": str(source.root) if source.root else SIM, "split": source.split, "frames": len(all_records),
            "frames_without_bev_input": sum(not r.bev_input for r in all_records),
            "cabin_stream_frames": len(all_cabin), "cabin_streams": len(source.cabin_streams),
            "world_size": ctx.world_size, "device": str(device), "heads": list(model.tasks), "runtime": model.runtime}
    return _write(scores, options.out_dir, meta, samples)


def _submission_boxes(boxes: DetectionBoxes, ego_to_global: np.ndarray) -> Boxes3D:
    """Ego-frame :class:`Boxes3D` of global-frame evaluator boxes (for drawing)."""
    world = Boxes3D(boxes.translation, boxes.size[:, [1, 0, 2]], boxes.yaw, np.nan_to_num(boxes.velocity), boxes.label,
                    np.clip(boxes.score, 0.0, 1.0), boxes.attribute)
    return world.transform(invert_transform(ego_to_global))


def evaluate_predictions(results_path: str | Path, source: EvalSource, options: EvalOptions) -> EvalOutcome:
    """Score a nuScenes submission JSON against the ground truth of ``source`` (a nuScenes root).

    Raises:
        ValueError: ``source`` is not a nuScenes root, or the file is invalid (unknown or missing
            samples, NaN boxes, unknown classes ...; the message names the entry).
    """
    if source.kind != "nuscenes" or source.root is None or source.nuscenes_version is None:
        raise ValueError("--predictions needs --data to be a nuScenes root (the submission format is nuScenes')")
    gt = load_ground_truth(source.root, source.nuscenes_version, source.split)
    if len(gt.boxes) == 0:
        raise ValueError(f"{source.root}: split {source.split!r} of {source.nuscenes_version} has no box annotations "
                         "(an unlabelled test split): there is nothing to score the predictions against")
    predictions, _ = read_submission(results_path, gt.sample_tokens)
    result = evaluate_detection(gt, predictions)
    index = {t: i for i, t in enumerate(gt.sample_tokens)}
    samples = []
    for k in range(min(options.samples_to_draw, len(source.frames))):
        frame = source.frames[k]
        rows = predictions.select(predictions.sample == index[frame.token])
        name = f"{SAMPLES_DIR}/sample_{k:03d}.png"
        draw_sample(frame, Prediction(boxes=_submission_boxes(rows, frame.ego_to_global)), None, options.out_dir / name)
        samples.append(name)
    meta = {"data": str(source.root), "split": source.split, "predictions": str(results_path),
            "frames": len(gt.sample_tokens)}
    return _write(Scores({"nuscenes_detection": result.to_dict()}, result), options.out_dir, meta, samples)
