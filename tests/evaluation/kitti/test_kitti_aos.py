"""KITTI AOS (average orientation similarity): hand-computed cases and an independent re-implementation
of the official formula (Geiger et al. 2012; the official tool's ``compute_statistics`` / ``eval_class``).

The re-implementation below is written for this test only: plain Python loops over images, ground
truth and detections, for one class whose ground truth all passes the difficulty filter.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.kitti.evaluate import evaluate_kitti
from evaluation.kitti.labels import KittiLabels


def _labels(boxes, alphas, scores=None, name="Car") -> KittiLabels:
    rows = []
    for k, (box, alpha) in enumerate(zip(boxes, alphas)):
        row = [name, "0", "0", repr(float(alpha)), *(repr(float(v)) for v in box),
               "1.5", "1.6", "4.0", "0", "1.6", str(10.0 + k), "0"]
        if scores is not None:
            row.append(repr(float(scores[k])))
        rows.append(row)
    return KittiLabels.from_rows(rows)


def _grid_boxes(n: int) -> np.ndarray:
    """n disjoint 2D boxes 60 px tall (easy for every difficulty)."""
    return np.array([[100.0 * (i % 10), 100.0 * (i // 10), 100.0 * (i % 10) + 80, 100.0 * (i // 10) + 60]
                     for i in range(n)]).reshape(n, 4)


def _aos(gt_alpha, dt_alpha, scores, n=None):
    boxes = _grid_boxes(len(gt_alpha))
    result = evaluate_kitti([_labels(boxes, gt_alpha)], [_labels(boxes, dt_alpha, scores)], classes=("Car",),
                            metrics=("bbox",))
    return result.ap["bbox"]["Car"], result.aos["Car"]


def test_exact_alphas_give_aos_equal_to_ap():
    gt_alpha = np.linspace(-3, 3, 50)
    ap, aos = _aos(gt_alpha, gt_alpha, np.linspace(1, 0.5, 50))
    for difficulty in ("easy", "moderate", "hard"):
        assert aos[difficulty] == pytest.approx(ap[difficulty], abs=1e-12)
        assert ap[difficulty]["R40"] == pytest.approx(100.0)


def test_alphas_flipped_by_pi_give_zero_aos():
    gt_alpha = np.linspace(-3, 3, 50)
    ap, aos = _aos(gt_alpha, gt_alpha + np.pi, np.linspace(1, 0.5, 50))
    assert ap["moderate"]["R40"] == pytest.approx(100.0)
    assert aos["moderate"]["R40"] == pytest.approx(0.0, abs=1e-12)
    assert aos["moderate"]["R11"] == pytest.approx(0.0, abs=1e-12)


def test_mixed_orientation_errors_hand_computed():
    # 40 cars all found, no false positive: at the k-th threshold (k+1 detections kept, by score)
    # the orientation similarity is the mean of (1 + cos(error)) / 2 of those detections.
    errors = np.array([0.0, np.pi / 2, np.pi, np.pi / 3] * 10)
    similarity = (1 + np.cos(errors)) / 2  # 1, 0.5, 0, 0.75, ...
    gt_alpha = np.zeros(40)
    ap, aos = _aos(gt_alpha, errors, np.linspace(1, 0.5, 40))
    running = np.cumsum(similarity) / np.arange(1, 41)  # 40 thresholds (one per object)
    monotone = np.array([running[i:].max() for i in range(40)])
    curve = np.concatenate([monotone, [0.0]])  # recall position 40 is not reached (official quirk)
    assert aos["moderate"]["R40"] == pytest.approx(curve[1:].sum() / 40 * 100, abs=1e-12)
    assert aos["moderate"]["R11"] == pytest.approx(curve[0::4].sum() / 11 * 100, abs=1e-12)
    assert ap["moderate"]["R40"] == pytest.approx(97.5)


def test_false_positive_counts_as_zero_similarity():
    # two cars (scores 0.9: exact alpha, 0.8: off by pi/2) and a false positive at 0.85.
    # thresholds 0.9, 0.8: AOS curve 1, then (1 + 0.5) / 3; precision 1, then 2/3.
    gt = _labels(_grid_boxes(2), [0.0, 0.0])
    boxes = np.concatenate([_grid_boxes(2), [[900.0, 900.0, 980.0, 960.0]]])
    dt = _labels(boxes, [0.0, np.pi / 2, 0.0], [0.9, 0.8, 0.85])
    result = evaluate_kitti([gt], [dt], classes=("Car",), metrics=("bbox",))
    assert result.aos["Car"]["easy"]["R40"] == pytest.approx(0.5 / 40 * 100)  # position 1 only
    assert result.aos["Car"]["easy"]["R11"] == pytest.approx(1 / 11 * 100)  # position 0 only
    assert result.ap["bbox"]["Car"]["easy"]["R40"] == pytest.approx((2 / 3) / 40 * 100)


def test_aos_only_with_the_bbox_metric_and_in_the_dict():
    gt = _labels(_grid_boxes(3), [0.0] * 3)
    dt = _labels(_grid_boxes(3), [0.0] * 3, [0.9, 0.8, 0.7])
    assert evaluate_kitti([gt], [dt], metrics=("bev", "3d")).aos == {}
    out = evaluate_kitti([gt], [dt]).to_dict()
    assert set(out["aos"]) == {"Car", "Pedestrian", "Cyclist"}
    assert set(out["aos"]["Car"]["hard"]) == {"R40", "R11"}


# ---- independent re-implementation of the official formula --------------------------------------

def _iou(a, b) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _reference_thresholds(tp_scores, n_gt):
    scores = sorted(tp_scores, reverse=True)
    chosen, current = [], 0.0
    for i, score in enumerate(scores):
        left = (i + 1) / n_gt
        right = (i + 2) / n_gt if i < len(scores) - 1 else left
        if i < len(scores) - 1 and right - current < current - left:
            continue
        chosen.append(score)
        current += 1 / 40
    return chosen


def _reference_ap_aos(images, min_overlap=0.7):
    """images: list of (gt boxes, gt alphas, det boxes, det alphas, det scores). Returns (AP, AOS) R40/R11 dicts."""
    n_gt = sum(len(img[0]) for img in images)
    tp_scores = []
    for gt_boxes, _, dt_boxes, _, dt_scores in images:  # first pass: highest-scoring free detection
        taken = set()
        for g in gt_boxes:
            best = None
            for j, d in enumerate(dt_boxes):
                if j not in taken and _iou(d, g) > min_overlap and (best is None or dt_scores[j] > dt_scores[best]):
                    best = j
            if best is not None:
                taken.add(best)
                tp_scores.append(dt_scores[best])
    precision, similarity = [], []
    for t in _reference_thresholds(tp_scores, n_gt):
        tp = fp = 0
        sim = 0.0
        for gt_boxes, gt_alpha, dt_boxes, dt_alpha, dt_scores in images:  # best-overlapping free detection
            kept = [j for j in range(len(dt_boxes)) if dt_scores[j] >= t]
            taken = set()
            for i, g in enumerate(gt_boxes):
                best, best_overlap = None, min_overlap
                for j in kept:
                    overlap = _iou(dt_boxes[j], g)
                    if j not in taken and overlap > best_overlap:
                        best, best_overlap = j, overlap
                if best is not None:
                    taken.add(best)
                    tp += 1
                    sim += (1 + math.cos(gt_alpha[i] - dt_alpha[best])) / 2
            fp += len(kept) - len(taken)
        precision.append(tp / (tp + fp))
        similarity.append(sim / (tp + fp))

    def average(values):
        curve = [max(values[i:]) for i in range(len(values))] + [0.0] * (41 - len(values))
        return {"R40": sum(curve[1:]) / 40 * 100, "R11": sum(curve[0::4]) / 11 * 100}

    return average(precision), average(similarity)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_an_independent_reimplementation(seed):
    rng = np.random.default_rng(seed)
    images, gts, dts = [], [], []
    for _ in range(12):
        n = int(rng.integers(0, 6))
        gt_boxes = _grid_boxes(n)
        gt_alpha = rng.uniform(-np.pi, np.pi, n)
        found = rng.random(n) < 0.8
        jitter = rng.normal(0, 6, (n, 4))  # some matches fall below 0.7 IoU
        dt_boxes = list((gt_boxes + jitter)[found])
        dt_alpha = list((gt_alpha + rng.normal(0, 1.0, n))[found])
        for _ in range(int(rng.integers(0, 3))):  # false positives, some on top of ground truth
            x, y = rng.uniform(0, 900), rng.uniform(0, 400)
            dt_boxes.append(np.array([x, y, x + 80, y + 60]))
            dt_alpha.append(rng.uniform(-np.pi, np.pi))
        dt_boxes = np.array(dt_boxes).reshape(-1, 4)
        # 2D height stays above 40 px so every detection takes part in every difficulty
        dt_boxes[:, 3] = np.maximum(dt_boxes[:, 3], dt_boxes[:, 1] + 45)
        scores = rng.random(len(dt_boxes))
        images.append((list(gt_boxes), list(gt_alpha), list(dt_boxes), list(dt_alpha), list(scores)))
        gts.append(_labels(gt_boxes, gt_alpha))
        dts.append(_labels(dt_boxes, dt_alpha, scores))
    ap_ref, aos_ref = _reference_ap_aos(images)
    result = evaluate_kitti(gts, dts, classes=("Car",), metrics=("bbox",))
    assert 0 < aos_ref["R40"] < ap_ref["R40"]
    for difficulty in ("easy", "moderate", "hard"):
        for key in ("R40", "R11"):
            assert result.ap["bbox"]["Car"][difficulty][key] == pytest.approx(ap_ref[key], abs=1e-9)
            assert result.aos["Car"][difficulty][key] == pytest.approx(aos_ref[key], abs=1e-9)
