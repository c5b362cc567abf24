"""Dense depth metrics on valid ground-truth pixels (Eigen et al. / KITTI depth protocol).

A pixel is valid when its ground-truth depth is in ``(min_depth, max_depth]`` (0 marks unknown
depth); predictions are clipped to ``[min_depth, max_depth]``. Metrics: AbsRel, SqRel (m), RMSE
(m), RMSE log, and the accuracies delta < 1.25, 1.25^2, 1.25^3.

Two averages are reported: ``per_image`` (metrics computed per image, then averaged over images:
the usual KITTI/Eigen practice) and ``pixels`` (all valid pixels of the dataset pooled, so dense
images weigh more). The per-distance-bin breakdown pools pixels (a bin is often empty in one image).
"""
from __future__ import annotations

import numpy as np

METRICS: tuple[str, ...] = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta1", "delta2", "delta3")
#: Sums kept per group: count, |d|/gt, d^2/gt, d^2, (log p - log g)^2, and the three delta counts.
_N_SUMS = 8


def _sums(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    ratio = np.maximum(pred / gt, gt / pred)
    diff = pred - gt
    log_diff = np.log(pred) - np.log(gt)
    return np.array([
        len(gt), np.sum(np.abs(diff) / gt), np.sum(diff**2 / gt), np.sum(diff**2), np.sum(log_diff**2),
        np.sum(ratio < 1.25), np.sum(ratio < 1.25**2), np.sum(ratio < 1.25**3),
    ], np.float64)


def _metrics(sums: np.ndarray) -> dict[str, float]:
    n = sums[0]
    if n == 0:
        return {m: float("nan") for m in METRICS}
    return {
        "abs_rel": sums[1] / n, "sq_rel": sums[2] / n, "rmse": float(np.sqrt(sums[3] / n)),
        "rmse_log": float(np.sqrt(sums[4] / n)), "delta1": sums[5] / n, "delta2": sums[6] / n, "delta3": sums[7] / n,
    }


class DepthMetric:
    """Accumulates depth errors over images.

    Args:
        max_depth: range cap in metres (80 as for KITTI); farther ground truth is ignored.
        min_depth: ground truth at or below this (metres) is invalid; predictions are clipped to it.
        bin_edges: distance-bin edges in metres for the breakdown, increasing.
    """

    def __init__(self, max_depth: float = 80.0, min_depth: float = 1e-3,
                 bin_edges: tuple[float, ...] = (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0)) -> None:
        if not 0 <= min_depth < max_depth:
            raise ValueError(f"depth range must satisfy 0 <= min_depth < max_depth, got {min_depth}, {max_depth}")
        if len(bin_edges) < 2 or np.any(np.diff(bin_edges) <= 0):
            raise ValueError(f"bin_edges must be at least 2 increasing values, got {bin_edges}")
        self.max_depth, self.min_depth = float(max_depth), float(min_depth)
        self.bin_edges = np.asarray(bin_edges, np.float64)
        self.total = np.zeros(_N_SUMS)
        self.bins = np.zeros((len(self.bin_edges) - 1, _N_SUMS))
        self.per_image: list[dict[str, float]] = []

    def update(self, prediction: np.ndarray, ground_truth: np.ndarray) -> None:
        """Add one image: predicted and ground-truth depth (H, W) in metres (ground truth 0 = unknown)."""
        prediction = np.asarray(prediction, np.float64)
        ground_truth = np.asarray(ground_truth, np.float64)
        if prediction.shape != ground_truth.shape:
            raise ValueError(f"depth: prediction {prediction.shape} and ground truth {ground_truth.shape} differ")
        if not np.all(np.isfinite(prediction)):
            raise ValueError("depth: prediction contains NaN or infinite values")
        valid = np.isfinite(ground_truth) & (ground_truth > self.min_depth) & (ground_truth <= self.max_depth)
        gt = ground_truth[valid]
        pred = np.clip(prediction[valid], self.min_depth, self.max_depth)
        if len(gt) == 0:
            return
        sums = _sums(pred, gt)
        self.total += sums
        self.per_image.append(_metrics(sums))
        which = np.searchsorted(self.bin_edges, gt, side="left") - 1  # bin k holds (edge_k, edge_k+1]
        for k in range(len(self.bins)):
            inside = which == k
            if inside.any():
                self.bins[k] += _sums(pred[inside], gt[inside])

    def result(self) -> dict:
        """``{"per_image": metrics, "pixels": metrics, "bins": [{"range_m": [lo, hi], "pixels": n, **metrics}], "images": n}``."""
        per_image = {m: float(np.mean([img[m] for img in self.per_image])) if self.per_image else float("nan")
                     for m in METRICS}
        bins = [
            {"range_m": [float(lo), float(hi)], "pixels": int(s[0]), **_metrics(s)}
            for lo, hi, s in zip(self.bin_edges[:-1], self.bin_edges[1:], self.bins)
        ]
        return {"images": len(self.per_image), "per_image": per_image, "pixels": _metrics(self.total), "bins": bins}
