"""Greedy centre-distance matching of the nuScenes detection metric (numpy, vectorised over samples).

Predictions are visited by decreasing score; each takes the closest (BEV centre distance, strict
``<`` so the first of equally close boxes wins) not yet matched ground-truth box of its sample,
if that distance is strictly below the threshold.

Only predictions of the same sample compete for a box, so the greedy pass is run rank by rank:
step k matches, for every sample and every threshold at once, the sample's k-th prediction in
visiting order. The number of steps is the largest prediction count of one sample (at most 500),
and no compiled kernel is needed (no start-up cost).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _rank_in_sample(pred_sample: np.ndarray) -> np.ndarray:
    """(M,) position of each prediction among the predictions of its sample, in the given order."""
    order = np.argsort(pred_sample, kind="stable")
    sorted_sample = pred_sample[order]
    rank = np.empty(len(pred_sample), np.int64)
    rank[order] = np.arange(len(pred_sample)) - np.searchsorted(sorted_sample, sorted_sample)
    return rank


def greedy_match(pred_sample: np.ndarray, pred_xy: np.ndarray, gt_sample: np.ndarray, gt_xy: np.ndarray,
                 n_samples: int, dist_ths: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Match predictions (already in visiting order) to ground truth of one class, for each threshold.

    Args:
        pred_sample: (M,) sample index of each prediction, in visiting (decreasing score) order.
        pred_xy: (M, 2) prediction centres, metres, global frame.
        gt_sample: (G,) sample index of each ground-truth box, **sorted** (stable: table order kept).
        gt_xy: (G, 2) ground-truth centres.
        n_samples: number of samples (sample indices are below it).
        dist_ths: (T,) matching thresholds in metres (a match needs distance < threshold).

    Returns:
        match: (T, M) index into the ground truth of each prediction's match, -1 for a false positive.
        dist: (T, M) centre distance to the match, inf for a false positive.
    """
    ths = np.asarray(dist_ths, np.float64).reshape(-1)
    pred_sample = np.asarray(pred_sample, np.int64)
    pred_xy, gt_xy = np.asarray(pred_xy, np.float64), np.asarray(gt_xy, np.float64)
    match = np.full((len(ths), len(pred_sample)), -1, np.int64)
    dist = np.full((len(ths), len(pred_sample)), np.inf)
    if len(pred_sample) == 0 or len(gt_sample) == 0:
        return match, dist
    bounds = np.searchsorted(gt_sample, np.arange(n_samples + 1))
    start, count = bounds[:-1], np.diff(bounds)
    slots = np.arange(count.max())
    rank = _rank_in_sample(pred_sample)
    by_rank = np.argsort(rank, kind="stable")
    rank_bounds = np.searchsorted(rank[by_rank], np.arange(rank.max() + 2))
    taken = np.zeros((len(ths), n_samples, len(slots)), bool)
    for k in range(rank.max() + 1):
        p = by_rank[rank_bounds[k]:rank_bounds[k + 1]]  # one prediction per sample
        s = pred_sample[p]
        valid = slots < count[s][:, None]  # (n, slots)
        gt_index = np.where(valid, start[s][:, None] + slots, 0)
        dx = pred_xy[p, 0][:, None] - gt_xy[gt_index, 0]
        dy = pred_xy[p, 1][:, None] - gt_xy[gt_index, 1]
        d = np.where(valid, np.sqrt(dx * dx + dy * dy), np.inf)
        d = np.where(taken[:, s, :], np.inf, d[None])  # (T, n, slots)
        best_slot = np.argmin(d, axis=2)  # first of equally close boxes
        best = np.take_along_axis(d, best_slot[..., None], axis=2)[..., 0]
        t_i, n_i = np.nonzero(best < ths[:, None])
        taken[t_i, s[n_i], best_slot[t_i, n_i]] = True
        match[t_i, p[n_i]] = start[s[n_i]] + best_slot[t_i, n_i]
        dist[t_i, p[n_i]] = best[t_i, n_i]
    return match, dist
