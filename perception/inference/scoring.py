"""Scoring of gathered records with :mod:`evaluation`: one function per head, one to run them all.

Detection follows the official nuScenes path: model boxes (ego frame + ``ego_to_global``) become
submission entries (global frame), are validated by the evaluator's own submission parser and
scored against ground truth in the global frame, read by the evaluator's loader for a nuScenes
root or built from the frames' annotations otherwise. KITTI AP reads label files for both sides.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evaluation.depth import DepthMetric
from evaluation.kitti.evaluate import evaluate_kitti
from evaluation.kitti.labels import read_label_folder
from evaluation.latency import summarize_latency
from evaluation.nuscenes_det.boxes import DetectionBoxes, GroundTruth, boxes_from_ego
from evaluation.nuscenes_det.evaluate import evaluate_detection
from evaluation.nuscenes_det.ground_truth import load_ground_truth
from evaluation.nuscenes_det.metrics import DetectionResult
from evaluation.nuscenes_det.submission import (
    boxes_to_entries,
    parse_submission,
    write_submission,
)
from evaluation.segmentation import (
    DEFAULT_THRESHOLDS,
    BevSegmentationMetric,
    evaluated_region,
)
from perception.inference.driver_events import score_driver
from perception.inference.records import DriverObservation, FrameRecord, decode_levels
from sensors.atomic import atomic_write
from sensors.frame import BevGrid
from sensors.kitti.labels import format_kitti_labels

#: File names written next to the report.
SUBMISSION_FILE = "results_nusc.json"
KITTI_PREDICTIONS_DIR = "kitti_predictions"


@dataclass
class Scores:
    """Metrics (``evaluation.report`` sections) and the objects the plots need."""

    metrics: dict = field(default_factory=dict)
    detection: DetectionResult | None = None


def ground_truth_from_records(records: Sequence[FrameRecord]) -> GroundTruth:
    """nuScenes-metric ground truth of the records' annotated boxes (ego position = ego origin)."""
    parts = [boxes_from_ego(r.gt_boxes, r.ego_to_global, i, scores=False) for i, r in enumerate(records)
             if r.gt_boxes is not None]
    return GroundTruth([r.token for r in records], np.array([r.ego_to_global[:3, 3] for r in records]),
                       DetectionBoxes.concatenate(parts), DetectionBoxes.empty())


def subset_ground_truth(gt: GroundTruth, tokens: Sequence[str]) -> GroundTruth:
    """``gt`` restricted to ``tokens`` (in that order); ValueError naming a token ``gt`` lacks."""
    where = {t: i for i, t in enumerate(gt.sample_tokens)}
    missing = [t for t in tokens if t not in where]
    if missing:
        raise ValueError(f"{len(missing)} evaluated sample(s) are not in the ground truth of the split, e.g. {missing[0]!r}")
    old = np.array([where[t] for t in tokens], np.int64)
    remap = np.full(len(gt.sample_tokens), -1, np.int64)
    remap[old] = np.arange(len(tokens))

    def cut(boxes: DetectionBoxes) -> DetectionBoxes:
        kept = boxes.select(remap[boxes.sample] >= 0)
        kept.sample = remap[kept.sample]
        return kept

    return GroundTruth(list(tokens), gt.ego_translation[old], cut(gt.boxes), cut(gt.bike_racks))


def score_detection(records: Sequence[FrameRecord], out_dir: Path, nuscenes_root: Path | None = None,
                    version: str | None = None, split: str | None = None) -> DetectionResult | None:
    """Write the submission JSON of the records' predicted boxes and score it (nuScenes metric).

    Ground truth: the official loader of ``nuscenes_root`` (``version``/``split``) restricted to the
    records' samples, or the records' own annotations when no root is given. Returns None (after
    writing the submission) when the ground truth holds no box at all (an unlabelled split).
    """
    results = {r.token: boxes_to_entries(r.pred_boxes, r.ego_to_global, r.token) if r.pred_boxes is not None else []
               for r in records}
    write_submission(out_dir / SUBMISSION_FILE, results)
    if nuscenes_root is not None:
        assert version is not None and split is not None
        gt = subset_ground_truth(load_ground_truth(nuscenes_root, version, split), [r.token for r in records])
    else:
        gt = ground_truth_from_records(records)
    if len(gt.boxes) == 0:
        return None
    predictions, _ = parse_submission({"meta": {}, "results": results}, gt.sample_tokens, source="model predictions")
    return evaluate_detection(gt, predictions)


def write_kitti_predictions(records: Sequence[FrameRecord], kitti_objects: dict[str, list], out_dir: Path) -> Path:
    """One KITTI result file ``<out_dir>/kitti_predictions/<frame id>.txt`` per record (the official
    submission format: 16 fields with the score; an empty file for a frame without detections).
    Returns the folder."""
    folder = out_dir / KITTI_PREDICTIONS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for record in records:
        text = format_kitti_labels(kitti_objects.get(record.token, []))
        atomic_write(folder / f"{record.token}.txt", lambda f, text=text: f.write(text))
    return folder


def score_kitti(records: Sequence[FrameRecord], kitti_objects: dict[str, list], label_dir: Path, out_dir: Path) -> dict:
    """Write one KITTI prediction label file per record and score them against ``label_dir``."""
    folder = write_kitti_predictions(records, kitti_objects, out_dir)
    ids = [r.token for r in records]
    _, gt = read_label_folder(label_dir, ids)
    _, predictions = read_label_folder(folder, ids)
    return evaluate_kitti(gt, predictions).to_dict()


def score_segmentation(records: Sequence[FrameRecord], grid: BevGrid,
                       thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> dict | None:
    """BEV mIoU (threshold sweep) over records with a predicted and a ground-truth map; None if none."""
    metric = BevSegmentationMetric(thresholds=tuple(thresholds), region=evaluated_region(grid))
    used = 0
    for r in records:
        if r.bev_levels is not None and r.bev_gt is not None:
            metric.update(decode_levels(r.bev_levels, metric.thresholds), r.bev_gt)
            used += 1
    return metric.result().to_dict() | {"samples": used} if used else None


def score_depth(records: Sequence[FrameRecord], max_depth: float = 80.0) -> dict | None:
    """Depth metrics over every camera image with ground truth (capped at ``max_depth`` m); None if none."""
    metric = DepthMetric(max_depth=max_depth)
    for r in records:
        for pred, gt in r.depth.values():
            metric.update(pred, gt)
    result = metric.result()
    return result if result["images"] else None


def score_latency(records: Sequence[FrameRecord]) -> dict | None:
    """Median / p99 per stage of the per-frame timings; None without timings."""
    stages: dict[str, list[float]] = defaultdict(list)
    for r in records:
        for stage, seconds in r.timings_s.items():
            stages[stage].append(seconds)
    return summarize_latency(stages) if stages else None


def score_records(records: Sequence[FrameRecord], cabin: Sequence[DriverObservation], out_dir: Path, *,
                  segmentation_grid: BevGrid, kind: str, nuscenes_root: Path | None = None,
                  version: str | None = None, split: str | None = None, kitti_objects: dict[str, list] | None = None,
                  kitti_label_dir: Path | None = None, max_depth: float = 80.0) -> Scores:
    """Every metric the records support. Heads without ground truth are listed under ``skipped``.

    Args:
        records: frame records in dataset order.
        cabin: extra driver observations (a dense cabin stream), scored with the frames' ones.
        kind: ``sim``, ``nuscenes`` or ``kitti`` (KITTI frames are scored with KITTI AP instead of
            the nuScenes detection metric).
    """
    scores = Scores()
    skipped: dict[str, str] = {}
    has_pred = any(r.pred_boxes is not None for r in records)
    if has_pred and kind == "kitti":
        if kitti_label_dir is None or not kitti_label_dir.is_dir():
            write_kitti_predictions(records, kitti_objects or {}, out_dir)
            skipped["kitti"] = (f"no labels (unlabelled split): {len(records)} predictions written to "
                                f"{KITTI_PREDICTIONS_DIR}/ as KITTI result files for submission")
        else:
            scores.metrics["kitti"] = score_kitti(records, kitti_objects or {}, kitti_label_dir, out_dir)
    elif has_pred:
        scores.detection = score_detection(records, out_dir, nuscenes_root, version, split)
        if scores.detection is None:
            skipped["nuscenes_detection"] = (f"no box annotations (unlabelled split): predictions of {len(records)} "
                                             f"samples written to {SUBMISSION_FILE} for submission")
        else:
            scores.metrics["nuscenes_detection"] = scores.detection.to_dict()
    segmentation = score_segmentation(records, segmentation_grid)
    if segmentation is not None:
        scores.metrics["bev_segmentation"] = segmentation
    elif any(r.bev_levels is not None for r in records):
        skipped["bev_segmentation"] = "frames have no BEV map ground truth"
    depth = score_depth(records, max_depth)
    if depth is not None:
        scores.metrics["depth"] = depth
    observations = [r.driver for r in records if r.driver is not None] + list(cabin)
    if observations:
        scores.metrics["driver"] = score_driver(observations)
    latency = score_latency(records)
    if latency is not None:
        scores.metrics["latency"] = latency
    if skipped:
        scores.metrics["skipped"] = skipped
    return scores
