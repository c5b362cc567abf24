"""nuScenes detection evaluation: filter, match per class and threshold, and summarise (mAP, TP errors, NDS)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from evaluation.nuscenes_det.boxes import DetectionBoxes, GroundTruth
from evaluation.nuscenes_det.config import (
    HALF_TURN_SYMMETRIC,
    TP_METRICS,
    UNDEFINED_TP_METRICS,
    DetectionConfig,
    detection_cvpr_2019,
)
from evaluation.nuscenes_det.filtering import evaluated_mask
from evaluation.nuscenes_det.matching import greedy_match
from evaluation.nuscenes_det.metrics import (
    DetectionResult,
    MetricCurves,
    average_precision,
    build_curves,
    tp_error,
)
from evaluation.nuscenes_det.submission import read_submission


def _angle_error(yaw_gt: np.ndarray, yaw_pred: np.ndarray, period: float) -> np.ndarray:
    """|smallest angle from pred to gt| in radians, angles equal modulo ``period``."""
    diff = np.mod(yaw_gt - yaw_pred + period / 2, period) - period / 2
    diff = np.where(diff > np.pi, diff - 2 * np.pi, diff)
    return np.abs(diff)


def _match_errors(gt: DetectionBoxes, gt_yaw: np.ndarray, gi: np.ndarray, pred: DetectionBoxes, pred_yaw: np.ndarray,
                  pi: np.ndarray, dist: np.ndarray, class_name: str) -> dict[str, np.ndarray]:
    """Raw TP errors of matched pairs: ground-truth row ``gi[k]`` with prediction row ``pi[k]``."""
    gt_size, pred_size = gt.size[gi], pred.size[pi]
    intersection = np.prod(np.minimum(gt_size, pred_size), axis=1)
    union = np.prod(gt_size, axis=1) + np.prod(pred_size, axis=1) - intersection
    dv = pred.velocity[pi] - gt.velocity[gi]
    period = np.pi if class_name in HALF_TURN_SYMMETRIC else 2 * np.pi
    gt_attr = gt.attribute[gi]
    attr = np.where(gt_attr < 0, np.nan, (gt_attr == pred.attribute[pi]).astype(float))
    return {
        "trans_err": dist,
        "vel_err": np.sqrt(dv[:, 0] ** 2 + dv[:, 1] ** 2),
        "scale_err": 1.0 - intersection / union,
        "orient_err": _angle_error(gt_yaw[gi], pred_yaw[pi], period),
        "attr_err": 1.0 - attr,
    }


def evaluate_detection(ground_truth: GroundTruth, predictions: DetectionBoxes,
                       config: DetectionConfig | None = None) -> DetectionResult:
    """Score ``predictions`` against ``ground_truth`` with the nuScenes detection metric.

    Both are in the global frame; ``predictions.sample`` indexes ``ground_truth.sample_tokens``
    and their row order is the submission's (ties in score are broken as the devkit does:
    the later row first).

    Raises:
        ValueError: the ground truth holds no box at all (an unlabelled split), predictions of
            samples outside the ground truth, or too many boxes in a sample.
    """
    config = config or detection_cvpr_2019()
    n_samples = len(ground_truth.sample_tokens)
    if len(ground_truth.boxes) == 0:
        raise ValueError("the ground truth holds no box (an unlabelled split such as v1.0-test): there is nothing "
                         "to score; write the predictions as a submission instead")
    if len(predictions) and (predictions.sample.min() < 0 or predictions.sample.max() >= n_samples):
        raise ValueError("predictions refer to samples outside the ground truth's sample tokens")
    per_sample = np.bincount(predictions.sample, minlength=n_samples)
    if per_sample.size and per_sample.max() > config.max_boxes_per_sample:
        worst = int(np.argmax(per_sample))
        raise ValueError(f"sample {ground_truth.sample_tokens[worst]!r} has {per_sample[worst]} predictions, "
                         f"at most {config.max_boxes_per_sample} allowed")
    gt = ground_truth.boxes.select(evaluated_mask(ground_truth.boxes, ground_truth, config))
    pred = predictions.select(evaluated_mask(predictions, ground_truth, config))

    label_aps: dict[str, dict[float, float]] = {}
    label_tp_errors: dict[str, dict[str, float]] = {}
    curves: dict[tuple[str, float], MetricCurves] = {}
    counts: dict[str, dict[str, int]] = {}
    gt_yaw, pred_yaw = gt.yaw, pred.yaw
    for label, class_name in enumerate(config.class_names):
        gi_all = np.flatnonzero(gt.label == label)
        gi_all = gi_all[np.argsort(gt.sample[gi_all], kind="stable")]
        pred_rows = np.flatnonzero(pred.label == label)
        # Decreasing score; among equal scores the later row first (the devkit's reversed sort).
        pi_all = pred_rows[np.lexsort((np.arange(len(pred_rows)), pred.score[pred_rows]))[::-1]]
        counts[class_name] = {"gt": len(gi_all), "pred": len(pi_all)}
        if len(gi_all) == 0:
            for dist_th in config.dist_ths:
                curves[(class_name, dist_th)] = MetricCurves.no_predictions()
        else:
            matches, dists = greedy_match(pred.sample[pi_all], pred.translation[pi_all, :2], gt.sample[gi_all],
                                          gt.translation[gi_all, :2], n_samples, config.dist_ths)
            for dist_th, match, dist in zip(config.dist_ths, matches, dists):
                is_tp = match >= 0
                errors = _match_errors(gt, gt_yaw, gi_all[match[is_tp]], pred, pred_yaw, pi_all[is_tp],
                                       dist[is_tp], class_name)
                curves[(class_name, dist_th)] = build_curves(is_tp, pred.score[pi_all], len(gi_all), errors)
        label_aps[class_name] = {
            th: average_precision(curves[(class_name, th)], config.min_recall, config.min_precision)
            for th in config.dist_ths
        }
        tp_curves = curves[(class_name, config.dist_th_tp)]
        label_tp_errors[class_name] = {
            metric: math.nan if metric in UNDEFINED_TP_METRICS.get(class_name, ())
            else tp_error(tp_curves, config.min_recall, metric)
            for metric in TP_METRICS
        }
    return DetectionResult(config, label_aps, label_tp_errors, curves, counts)


def evaluate_submission(ground_truth: GroundTruth, result_path: str | Path,
                        config: DetectionConfig | None = None) -> DetectionResult:
    """Read a submission JSON (validated against ``ground_truth``'s samples) and score it."""
    config = config or detection_cvpr_2019()
    predictions, _ = read_submission(result_path, ground_truth.sample_tokens, config.max_boxes_per_sample)
    return evaluate_detection(ground_truth, predictions, config)
