"""KITTI object detection AP (the official protocol), for 2D image boxes, BEV and 3D.

Per class, difficulty and metric:

- class names are compared case-insensitively; ground truth of the class that passes the difficulty filter (2D box height > min height,
  occlusion <= max occlusion, truncation <= max truncation) must be found; ground truth of the
  class that fails it, and the neighbouring classes (``Van`` for ``Car``, ``Person_sitting`` for
  ``Pedestrian``), are "ignored": a detection matched to it is neither true nor false positive;
  other types (including ``DontCare``) do not take part;
- detections of the class whose 2D box is lower than the min height are ignored too;
- a match needs overlap strictly greater than the class's minimum overlap; a ground-truth box
  takes the highest-scoring (first pass) or best-overlapping (second pass) free detection;
- for 2D image boxes only, unmatched detections mostly inside a ``DontCare`` region (intersection
  over detection area > min overlap) are not counted as false positives;
- the score thresholds are chosen from the true-positive scores so that recall is sampled at 41
  positions; precision is made monotone (max over higher recalls); AP|R40 averages the 40 positions
  above 0 and AP|R11 the 11 positions 0, 0.1, ..., 1 (the older protocol). Values in percent;
- AOS (average orientation similarity, 2D image boxes only, Geiger et al. 2012): at each threshold
  the true positives' ``(1 + cos(alpha_gt - alpha_det)) / 2`` summed over ``tp + fp``, made
  monotone and averaged like precision; it equals AP when every alpha is exact and is 0 when every
  matched alpha is off by pi.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numba
import numpy as np

from evaluation.kitti.iou import bev_boxes, bev_iou, image_iou, iou_3d
from evaluation.kitti.labels import KittiLabels

CLASSES: tuple[str, ...] = ("Car", "Pedestrian", "Cyclist")
DIFFICULTIES: tuple[str, ...] = ("easy", "moderate", "hard")
METRICS: tuple[str, ...] = ("bbox", "bev", "3d")
MIN_HEIGHT_PX: tuple[float, ...] = (40.0, 25.0, 25.0)
MAX_OCCLUSION: tuple[int, ...] = (0, 1, 2)
MAX_TRUNCATION: tuple[float, ...] = (0.15, 0.3, 0.5)
#: Minimum overlap per class (the official "strict" setting for all three metrics).
MIN_OVERLAP: dict[str, float] = {"Car": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5}
#: Ground-truth types that are neither positives nor negatives for a class.
NEIGHBOUR_CLASS: dict[str, str] = {"Car": "Van", "Pedestrian": "Person_sitting"}
N_SAMPLE_POINTS = 41
_NO_DETECTION = -1e30


@numba.njit(cache=True)
def _image_statistics(overlaps, ignored_gt, ignored_det, scores, dc_overlaps, gt_alpha, dt_alpha, min_overlap, thresh,
                      compute_fp, use_dontcare, tp_scores_out):
    """tp, fp, fn, number of tp scores written, orientation similarity, for one image (the official
    compute_statistics). The similarity is the sum of ``(1 + cos(alpha_gt - alpha_det)) / 2`` over the
    true positives (false positives add 0), or -1 when the image has neither (it is then left out)."""
    n_det, n_gt = overlaps.shape
    assigned = np.zeros(n_det, np.bool_)
    below = np.zeros(n_det, np.bool_)
    if compute_fp:
        for j in range(n_det):
            below[j] = scores[j] < thresh
    tp = 0
    fp = 0
    fn = 0
    n_tp = 0
    similarity = 0.0
    for i in range(n_gt):
        if ignored_gt[i] == -1:
            continue
        det_idx = -1
        valid = _NO_DETECTION
        max_overlap = 0.0
        assigned_ignored = False
        for j in range(n_det):
            if ignored_det[j] == -1 or assigned[j] or below[j]:
                continue
            overlap = overlaps[j, i]
            if not compute_fp and overlap > min_overlap and scores[j] > valid:
                det_idx = j
                valid = scores[j]
            elif compute_fp and overlap > min_overlap and (overlap > max_overlap or assigned_ignored) \
                    and ignored_det[j] == 0:
                max_overlap = overlap
                det_idx = j
                valid = 1.0
                assigned_ignored = False
            elif compute_fp and overlap > min_overlap and valid == _NO_DETECTION and ignored_det[j] == 1:
                det_idx = j
                valid = 1.0
                assigned_ignored = True
        if valid == _NO_DETECTION and ignored_gt[i] == 0:
            fn += 1
        elif valid != _NO_DETECTION and (ignored_gt[i] == 1 or ignored_det[det_idx] == 1):
            assigned[det_idx] = True
        elif valid != _NO_DETECTION:
            tp += 1
            tp_scores_out[n_tp] = scores[det_idx]
            n_tp += 1
            assigned[det_idx] = True
            similarity += (1.0 + np.cos(gt_alpha[i] - dt_alpha[det_idx])) / 2.0
    if compute_fp:
        for j in range(n_det):
            if not (assigned[j] or ignored_det[j] == -1 or ignored_det[j] == 1 or below[j]):
                fp += 1
        if use_dontcare:
            n_stuff = 0
            for k in range(dc_overlaps.shape[1]):
                for j in range(n_det):
                    if assigned[j] or ignored_det[j] == -1 or ignored_det[j] == 1 or below[j]:
                        continue
                    if dc_overlaps[j, k] > min_overlap:
                        assigned[j] = True
                        n_stuff += 1
            fp -= n_stuff
    if tp == 0 and fp == 0:
        similarity = -1.0
    return tp, fp, fn, n_tp, similarity


@numba.njit(cache=True)
def _dataset_statistics(ov_flat, ov_start, gt_start, dt_start, dc_flat, dc_start, n_dc, ignored_gt, ignored_det,
                        scores, gt_alpha, dt_alpha, min_overlap, thresholds, first_pass, use_dontcare):
    """Loop over images. First pass: the true-positive scores at threshold 0. Else: (T, 4) tp, fp, fn and
    summed orientation similarity per threshold."""
    n_images = len(gt_start) - 1
    tp_scores = np.empty(len(ignored_gt))
    n_tp = 0
    counts = np.zeros((len(thresholds), 4))
    for k in range(n_images):
        g0, g1 = gt_start[k], gt_start[k + 1]
        d0, d1 = dt_start[k], dt_start[k + 1]
        overlaps = ov_flat[ov_start[k]:ov_start[k] + (d1 - d0) * (g1 - g0)].reshape((d1 - d0, g1 - g0))
        dc = dc_flat[dc_start[k]:dc_start[k] + (d1 - d0) * n_dc[k]].reshape((d1 - d0, n_dc[k]))
        buffer = tp_scores[n_tp:]
        if first_pass:
            _, _, _, n, _ = _image_statistics(overlaps, ignored_gt[g0:g1], ignored_det[d0:d1], scores[d0:d1], dc,
                                              gt_alpha[g0:g1], dt_alpha[d0:d1], min_overlap, 0.0, False,
                                              use_dontcare, buffer)
            n_tp += n
        else:
            for t in range(len(thresholds)):
                tp, fp, fn, _, similarity = _image_statistics(
                    overlaps, ignored_gt[g0:g1], ignored_det[d0:d1], scores[d0:d1], dc, gt_alpha[g0:g1],
                    dt_alpha[d0:d1], min_overlap, thresholds[t], True, use_dontcare, buffer)
                counts[t, 0] += tp
                counts[t, 1] += fp
                counts[t, 2] += fn
                if similarity != -1.0:
                    counts[t, 3] += similarity
    return tp_scores[:n_tp], counts


def _thresholds(scores: np.ndarray, n_gt: int) -> np.ndarray:
    """Score thresholds that sample recall at (up to) 41 positions (official ``get_thresholds``)."""
    scores = np.sort(scores)[::-1]
    current = 0.0
    out = []
    for i, score in enumerate(scores):
        left = (i + 1) / n_gt
        right = (i + 2) / n_gt if i < len(scores) - 1 else left
        if right - current < current - left and i < len(scores) - 1:
            continue
        out.append(score)
        current += 1.0 / (N_SAMPLE_POINTS - 1.0)
    return np.asarray(out, np.float64)


@dataclass
class _Flat:
    """All images concatenated: per-box fields and per-image offsets."""

    gt_start: np.ndarray
    dt_start: np.ndarray
    gt_name: np.ndarray
    gt_height: np.ndarray
    gt_occluded: np.ndarray
    gt_truncated: np.ndarray
    gt_alpha: np.ndarray
    dt_name: np.ndarray
    dt_height: np.ndarray
    dt_score: np.ndarray
    dt_alpha: np.ndarray

    @classmethod
    def build(cls, gts: Sequence[KittiLabels], dts: Sequence[KittiLabels]) -> _Flat:
        def cat(parts, fn, dtype):
            return np.concatenate([np.asarray(fn(p), dtype) for p in parts]) if parts else np.zeros(0, dtype)

        return cls(
            gt_start=np.concatenate([[0], np.cumsum([len(g) for g in gts])]).astype(np.int64),
            dt_start=np.concatenate([[0], np.cumsum([len(d) for d in dts])]).astype(np.int64),
            gt_name=np.char.lower(cat(gts, lambda g: g.name, str)),
            gt_height=cat(gts, lambda g: g.bbox[:, 3] - g.bbox[:, 1], np.float64),
            gt_occluded=cat(gts, lambda g: g.occluded, np.int64),
            gt_truncated=cat(gts, lambda g: g.truncated, np.float64),
            gt_alpha=cat(gts, lambda g: g.alpha, np.float64),
            dt_name=np.char.lower(cat(dts, lambda d: d.name, str)),
            dt_height=np.abs(cat(dts, lambda d: d.bbox[:, 3] - d.bbox[:, 1], np.float64)),
            dt_score=cat(dts, lambda d: d.score, np.float64),
            dt_alpha=cat(dts, lambda d: d.alpha, np.float64),
        )

    def ignore_flags(self, class_name: str, difficulty: int) -> tuple[np.ndarray, np.ndarray]:
        """ignored_gt (0 evaluated, 1 ignored, -1 not taking part) and ignored_det, over all images."""
        same = self.gt_name == class_name.lower()
        neighbour = self.gt_name == NEIGHBOUR_CLASS.get(class_name, "\0").lower()
        hard = ((self.gt_occluded > MAX_OCCLUSION[difficulty]) | (self.gt_truncated > MAX_TRUNCATION[difficulty])
                | (self.gt_height <= MIN_HEIGHT_PX[difficulty]))
        ignored_gt = np.full(len(same), -1, np.int64)
        ignored_gt[same & ~hard] = 0
        ignored_gt[neighbour | (same & hard)] = 1
        ignored_det = np.where(self.dt_name == class_name.lower(), 0, -1).astype(np.int64)
        ignored_det[self.dt_height < MIN_HEIGHT_PX[difficulty]] = 1
        return ignored_gt, ignored_det


def _overlaps(gt: KittiLabels, dt: KittiLabels, metric: str) -> np.ndarray:
    """(N_det, N_gt) overlaps of one image for ``metric``."""
    if len(gt) == 0 or len(dt) == 0:
        return np.zeros((len(dt), len(gt)))
    if metric == "bbox":
        return image_iou(dt.bbox, gt.bbox)
    if metric == "bev":
        return bev_iou(bev_boxes(dt.location, dt.dimensions, dt.rotation_y),
                       bev_boxes(gt.location, gt.dimensions, gt.rotation_y))
    return iou_3d(dt.location, dt.dimensions, dt.rotation_y, gt.location, gt.dimensions, gt.rotation_y)


def _flatten(matrices: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    starts = np.concatenate([[0], np.cumsum([m.size for m in matrices])]).astype(np.int64)
    flat = np.concatenate([m.ravel() for m in matrices]) if matrices else np.zeros(0)
    return np.ascontiguousarray(flat, np.float64), starts


@dataclass
class KittiResult:
    """KITTI AP in percent: ``ap[metric][class][difficulty] = {"R40": .., "R11": ..}``; PR curves per cell.

    ``aos[class][difficulty] = {"R40": .., "R11": ..}``: average orientation similarity (percent) of
    the 2D image boxes (computed when ``"bbox"`` is evaluated, as by the official tool).
    """

    ap: dict[str, dict[str, dict[str, dict[str, float]]]]
    precision: dict[tuple[str, str, str], np.ndarray] = field(repr=False, default_factory=dict)
    min_overlap: dict[str, float] = field(default_factory=dict)
    aos: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-friendly form (``aos`` only when it was computed)."""
        out: dict = {"ap": self.ap, "min_overlap": self.min_overlap}
        if self.aos:
            out["aos"] = self.aos
        return out


def _curves(flat: _Flat, overlaps: tuple, dontcare: tuple, class_name: str, difficulty: int,
            min_overlap: float, use_dontcare: bool) -> tuple[np.ndarray, np.ndarray]:
    """(41,) monotone precision and (41,) monotone orientation similarity at the sampled recall
    positions (zeros beyond the reached recall).

    Orientation similarity at a threshold is the summed ``(1 + cos(alpha_gt - alpha_det)) / 2`` of
    the true positives over ``tp + fp`` (the official ``aos``); like precision it is made monotone
    by the maximum over higher recalls.
    """
    ignored_gt, ignored_det = flat.ignore_flags(class_name, difficulty)
    n_gt = int(np.sum(ignored_gt == 0))
    precision = np.zeros(N_SAMPLE_POINTS)
    similarity = np.zeros(N_SAMPLE_POINTS)
    if n_gt == 0:
        return precision, similarity
    args = (*overlaps, flat.gt_start, flat.dt_start, *dontcare, ignored_gt, ignored_det, flat.dt_score,
            flat.gt_alpha, flat.dt_alpha, min_overlap)
    tp_scores, _ = _dataset_statistics(*args, np.zeros(0), True, use_dontcare)
    thresholds = _thresholds(tp_scores, n_gt)
    if len(thresholds) == 0:
        return precision, similarity
    _, counts = _dataset_statistics(*args, thresholds, False, use_dontcare)
    tp, fp = counts[:, 0], counts[:, 1]
    for out, value in ((precision, tp / (tp + fp)), (similarity, counts[:, 3] / (tp + fp))):
        out[:len(value)] = np.maximum.accumulate(value[::-1])[::-1]
    return precision, similarity


def _average(curve: np.ndarray) -> dict[str, float]:
    """R40 (positions 1..40) and R11 (positions 0, 4, ..., 40) averages of a 41-point curve, in percent."""
    return {"R40": float(np.sum(curve[1:]) / 40 * 100), "R11": float(np.sum(curve[0:N_SAMPLE_POINTS:4]) / 11 * 100)}


def evaluate_kitti(ground_truth: Sequence[KittiLabels], detections: Sequence[KittiLabels],
                   classes: Sequence[str] = CLASSES, metrics: Sequence[str] = METRICS,
                   min_overlap: dict[str, float] | None = None) -> KittiResult:
    """KITTI AP|R40 and AP|R11 (percent) of ``detections`` against ``ground_truth``, image by image,
    and AOS|R40, AOS|R11 of the 2D boxes when ``"bbox"`` is among ``metrics``.

    Raises:
        ValueError: different numbers of images, an unknown metric, or a class without min overlap.
    """
    if len(ground_truth) != len(detections):
        raise ValueError(f"KITTI: {len(detections)} prediction files for {len(ground_truth)} ground-truth files")
    min_overlap = dict(MIN_OVERLAP if min_overlap is None else min_overlap)
    for metric in metrics:
        if metric not in METRICS:
            raise ValueError(f"KITTI: unknown metric {metric!r}; expected one of {METRICS}")
    for name in classes:
        if name not in min_overlap:
            raise ValueError(f"KITTI: no minimum overlap for class {name!r}")
    ap: dict = {}
    aos: dict = {}
    precision: dict = {}
    flat = _Flat.build(ground_truth, detections)
    for metric in metrics:
        overlaps = _flatten([_overlaps(g, d, metric) for g, d in zip(ground_truth, detections)])
        use_dontcare = metric == "bbox"
        dc_matrices = [image_iou(d.bbox, g.bbox[g.name == "DontCare"], criterion=0) if use_dontcare
                       else np.zeros((len(d), 0)) for g, d in zip(ground_truth, detections)]
        dontcare = (*_flatten(dc_matrices), np.array([m.shape[1] for m in dc_matrices], np.int64))
        ap[metric] = {}
        for name in classes:
            ap[metric][name] = {}
            for k, difficulty in enumerate(DIFFICULTIES):
                curve, similarity = _curves(flat, overlaps, dontcare, name, k, min_overlap[name], use_dontcare)
                precision[(metric, name, difficulty)] = curve
                ap[metric][name][difficulty] = _average(curve)
                if metric == "bbox":
                    aos.setdefault(name, {})[difficulty] = _average(similarity)
    return KittiResult(ap, precision, {n: min_overlap[n] for n in classes}, aos)
