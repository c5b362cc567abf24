"""The nuScenes box-velocity rule, used by the dataset reader and the detection evaluation alike.

An annotation's velocity is the centre difference over its neighbouring annotations of the same
instance (previous and next; the annotation itself stands in for a missing one) divided by their
time difference, as the devkit's ``box_velocity``; it is unknown (NaN) without any neighbour or
when the time difference exceeds :data:`MAX_TIME_DIFF_S` (twice that with both neighbours).
"""
from __future__ import annotations

import numpy as np

#: Largest time gap (s) between neighbouring annotations used for velocity (devkit default).
MAX_TIME_DIFF_S = 1.5


def box_velocity(first: np.ndarray, last: np.ndarray, time_diff_s: np.ndarray, has_prev: np.ndarray,
                 has_next: np.ndarray) -> np.ndarray:
    """Velocities (N, D) in units of the positions per second; NaN where the rule gives none.

    Args:
        first, last: (N, D) positions of the previous and next annotations (the annotation itself
            where there is no such neighbour), metres.
        time_diff_s: (N,) time of ``last`` minus time of ``first``, seconds.
        has_prev, has_next: (N,) bool, which neighbours exist.
    """
    time_diff_s = np.asarray(time_diff_s, np.float64)
    max_diff = np.where(has_prev & has_next, 2 * MAX_TIME_DIFF_S, MAX_TIME_DIFF_S)
    valid = (has_prev | has_next) & (time_diff_s <= max_diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        velocity = (np.asarray(last, np.float64) - np.asarray(first, np.float64)) / time_diff_s[:, None]
    velocity[~valid] = np.nan
    return velocity
