"""The rank-by-rank vectorised greedy matcher equals the plain sequential greedy loop."""
from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.nuscenes_det.matching import greedy_match


def _sequential(pred_sample, pred_xy, gt_sample, gt_xy, dist_th):
    """The devkit's loop: visit predictions in order, take the closest free box of the sample (first on ties)."""
    taken, match, dist = set(), [], []
    for s, (x, y) in zip(pred_sample, pred_xy):
        best, best_j = math.inf, -1
        for j in np.flatnonzero(gt_sample == s):
            if j in taken:
                continue
            d = math.sqrt((x - gt_xy[j, 0]) ** 2 + (y - gt_xy[j, 1]) ** 2)
            if d < best:
                best, best_j = d, j
        if best < dist_th:
            taken.add(best_j)
            match.append(best_j)
            dist.append(best)
        else:
            match.append(-1)
            dist.append(math.inf)
    return np.array(match), np.array(dist)


@pytest.mark.parametrize("seed", range(6))
def test_equals_sequential_greedy(seed):
    rng = np.random.default_rng(seed)
    n_samples, n_gt, n_pred = 7, int(rng.integers(0, 40)), int(rng.integers(0, 80))
    gt_sample = np.sort(rng.integers(0, n_samples, n_gt))
    # Integer coordinates make equal distances (ties) frequent.
    gt_xy = rng.integers(-4, 5, (n_gt, 2)).astype(float)
    pred_sample = rng.integers(0, n_samples, n_pred)
    pred_xy = rng.integers(-4, 5, (n_pred, 2)) + rng.choice([0.0, 0.5], (n_pred, 2))
    ths = (0.5, 1.0, 2.0, 4.0)
    match, dist = greedy_match(pred_sample, pred_xy, gt_sample, gt_xy, n_samples, ths)
    assert match.shape == dist.shape == (len(ths), n_pred)
    for t, th in enumerate(ths):
        ref_match, ref_dist = _sequential(pred_sample, pred_xy, gt_sample, gt_xy, th)
        np.testing.assert_array_equal(match[t], ref_match)
        np.testing.assert_array_equal(dist[t], ref_dist)


def test_first_of_equally_close_boxes_wins_and_boxes_are_taken_once():
    # Two boxes at distance 1 from the first prediction: it takes box 0; the second prediction gets box 1.
    match, dist = greedy_match(np.array([0, 0, 0]), np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]),
                               np.array([0, 0]), np.array([[1.0, 0.0], [-1.0, 0.0]]), 1, [2.0, 1.0])
    np.testing.assert_array_equal(match, [[0, 1, -1], [-1, -1, -1]])  # at 1.0 m, distance 1 is not < 1
    np.testing.assert_array_equal(dist[0], [1.0, 1.0, np.inf])
