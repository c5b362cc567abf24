"""Precision/recall and true-positive error curves, AP, TP errors and NDS (devkit-exact formulas).

Curves are sampled at 101 recall positions (0, 0.01, ..., 1). TP errors at a recall position are
the cumulative mean of the errors of all matches with at least that position's confidence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from evaluation.nuscenes_det.config import N_RECALL_POINTS, TP_METRICS, DetectionConfig


@dataclass
class MetricCurves:
    """Curves of one class at one distance threshold, each (101,) over ``recall``.

    ``confidence`` is the score threshold reaching each recall (0 beyond the highest recall reached);
    ``errors`` maps a TP metric name to its cumulative-mean error curve.
    """

    recall: np.ndarray
    precision: np.ndarray
    confidence: np.ndarray
    errors: dict[str, np.ndarray]

    @classmethod
    def no_predictions(cls) -> MetricCurves:
        """Curves of a class without ground truth or without any match: precision 0, errors 1."""
        ones = np.ones(N_RECALL_POINTS)
        return cls(np.linspace(0, 1, N_RECALL_POINTS), np.zeros(N_RECALL_POINTS), np.zeros(N_RECALL_POINTS),
                   {m: ones.copy() for m in TP_METRICS})

    @property
    def max_recall_index(self) -> int:
        """Index of the highest recall reached (last position with non-zero confidence), 0 if none."""
        nonzero = np.flatnonzero(self.confidence)
        return int(nonzero[-1]) if len(nonzero) else 0


def cumulative_mean(values: np.ndarray) -> np.ndarray:
    """Running mean down axis 0 ignoring NaN; an all-NaN column gives ones (the error counts as maximal)."""
    values = np.asarray(values, np.float64)
    nan = np.isnan(values)
    sums = np.cumsum(np.where(nan, 0.0, values), axis=0)
    counts = np.cumsum(~nan, axis=0)
    out = np.divide(sums, counts, out=np.zeros_like(sums), where=counts != 0)
    out[..., nan.all(axis=0)] = 1.0
    return out


def build_curves(is_tp: np.ndarray, scores: np.ndarray, n_gt: int, match_errors: dict[str, np.ndarray]) -> MetricCurves:
    """Interpolated curves from predictions in visiting order.

    Args:
        is_tp: (M,) bool, prediction matched, in decreasing-score visiting order.
        scores: (M,) scores in that order.
        n_gt: number of evaluated ground-truth boxes of the class (> 0).
        match_errors: TP metric -> (K,) raw errors of the K matches, in visiting order.
    """
    if not is_tp.any():
        return MetricCurves.no_predictions()
    tp = np.cumsum(is_tp).astype(float)
    fp = np.cumsum(~is_tp).astype(float)
    precision = tp / (fp + tp)
    recall = tp / float(n_gt)
    recall_points = np.linspace(0, 1, N_RECALL_POINTS)
    precision = np.interp(recall_points, recall, precision, right=0)
    confidence = np.interp(recall_points, recall, scores, right=0)
    match_conf = scores[is_tp][::-1]
    names = list(match_errors)
    means = cumulative_mean(np.stack([match_errors[n] for n in names], axis=1))[::-1]
    errors = {name: np.interp(confidence[::-1], match_conf, means[:, k])[::-1] for k, name in enumerate(names)}
    return MetricCurves(recall_points, precision, confidence, errors)


def average_precision(curves: MetricCurves, min_recall: float, min_precision: float) -> float:
    """AP: mean over recalls above ``min_recall`` of precision minus ``min_precision`` (clipped at 0), rescaled."""
    precision = curves.precision[round(100 * min_recall) + 1:] - min_precision
    precision[precision < 0] = 0
    return float(np.mean(precision)) / (1.0 - min_precision)


def tp_error(curves: MetricCurves, min_recall: float, metric: str) -> float:
    """Mean of a TP error curve from just above ``min_recall`` to the highest recall reached (1 if none)."""
    first = round(100 * min_recall) + 1
    last = curves.max_recall_index
    if last < first:
        return 1.0
    return float(np.mean(curves.errors[metric][first:last + 1]))


@dataclass
class DetectionResult:
    """nuScenes detection metrics.

    Attributes:
        config: the configuration used.
        label_aps: class -> distance threshold (m) -> AP in [0, 1].
        label_tp_errors: class -> TP metric -> error (NaN where undefined for the class).
        curves: (class, distance threshold) -> :class:`MetricCurves`.
        counts: class -> {"gt": evaluated GT boxes, "pred": evaluated predictions}.
    """

    config: DetectionConfig
    label_aps: dict[str, dict[float, float]]
    label_tp_errors: dict[str, dict[str, float]]
    curves: dict[tuple[str, float], MetricCurves] = field(repr=False)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def mean_dist_aps(self) -> dict[str, float]:
        """Class -> AP averaged over distance thresholds."""
        return {name: float(np.mean(list(aps.values()))) for name, aps in self.label_aps.items()}

    @property
    def mean_ap(self) -> float:
        """mAP: mean over classes and distance thresholds."""
        return float(np.mean(list(self.mean_dist_aps.values())))

    @property
    def tp_errors(self) -> dict[str, float]:
        """TP metric -> mean error over the classes where it is defined (mATE, mASE, ...)."""
        out = {}
        for metric in TP_METRICS:
            values = np.array([self.label_tp_errors[c][metric] for c in self.config.class_names])
            out[metric] = float(np.mean(values[~np.isnan(values)])) if (~np.isnan(values)).any() else math.nan
        return out

    @property
    def tp_scores(self) -> dict[str, float]:
        """TP metric -> max(0, 1 - mean error)."""
        return {metric: max(0.0, 1.0 - err) for metric, err in self.tp_errors.items()}

    @property
    def nd_score(self) -> float:
        """NDS = (w mAP + sum of TP scores) / (w + 5), w = ``mean_ap_weight``."""
        w = self.config.mean_ap_weight
        return float(w * self.mean_ap + np.sum(list(self.tp_scores.values()))) / float(w + len(TP_METRICS))

    def to_dict(self) -> dict:
        """JSON-friendly summary with the devkit's key names (NaN becomes None)."""
        def clean(v: float) -> float | None:
            return None if isinstance(v, float) and math.isnan(v) else v

        return {
            "label_aps": {c: {str(t): ap for t, ap in aps.items()} for c, aps in self.label_aps.items()},
            "mean_dist_aps": self.mean_dist_aps,
            "mean_ap": self.mean_ap,
            "label_tp_errors": {c: {m: clean(e) for m, e in errs.items()} for c, errs in self.label_tp_errors.items()},
            "tp_errors": {m: clean(e) for m, e in self.tp_errors.items()},
            "tp_scores": self.tp_scores,
            "nd_score": self.nd_score,
            "counts": self.counts,
            "cfg": self.config.to_dict(),
        }
