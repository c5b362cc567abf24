"""Greedy centre-distance matching of the nuScenes detection metric (numba, CPU).

Predictions are visited by decreasing score; each takes the closest (BEV centre distance, strict
``<`` so the first of equally close boxes wins) not yet matched ground-truth box of its sample,
if that distance is strictly below the threshold.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _greedy_match(pred_sample: np.ndarray, pred_xy: np.ndarray, gt_start: np.ndarray, gt_end: np.ndarray,
                  gt_xy: np.ndarray, dist_th: float) -> tuple[np.ndarray, np.ndarray]:
    match = np.full(len(pred_sample), -1, np.int64)
    dist = np.full(len(pred_sample), np.inf)
    taken = np.zeros(len(gt_xy), np.bool_)
    for p in range(len(pred_sample)):
        s = pred_sample[p]
        best = np.inf
        best_j = -1
        for j in range(gt_start[s], gt_end[s]):
            if taken[j]:
                continue
            dx = pred_xy[p, 0] - gt_xy[j, 0]
            dy = pred_xy[p, 1] - gt_xy[j, 1]
            d = np.sqrt(dx * dx + dy * dy)
            if d < best:
                best = d
                best_j = j
        if best < dist_th:
            taken[best_j] = True
            match[p] = best_j
            dist[p] = best
    return match, dist


def greedy_match(pred_sample: np.ndarray, pred_xy: np.ndarray, gt_sample: np.ndarray, gt_xy: np.ndarray,
                 n_samples: int, dist_th: float) -> tuple[np.ndarray, np.ndarray]:
    """Match predictions (already in visiting order) to ground truth of one class.

    Args:
        pred_sample: (M,) sample index of each prediction, in visiting (decreasing score) order.
        pred_xy: (M, 2) prediction centres, metres, global frame.
        gt_sample: (G,) sample index of each ground-truth box, **sorted** (stable: table order kept).
        gt_xy: (G, 2) ground-truth centres.
        n_samples: number of samples (sample indices are below it).
        dist_th: matching threshold in metres (a match needs distance < dist_th).

    Returns:
        match: (M,) index into the ground truth of each prediction's match, -1 for a false positive.
        dist: (M,) centre distance to the match, inf for a false positive.
    """
    bounds = np.searchsorted(gt_sample, np.arange(n_samples + 1))
    return _greedy_match(np.ascontiguousarray(pred_sample, np.int64), np.ascontiguousarray(pred_xy, np.float64),
                         bounds[:-1].astype(np.int64), bounds[1:].astype(np.int64),
                         np.ascontiguousarray(gt_xy, np.float64), float(dist_th))
