"""Driver-monitoring metrics: per-frame classification, gaze confusion, head-pose error, event detection."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sensors.classes import GAZE_ZONES

#: Event kinds of the temporal monitor.
EVENT_KINDS: tuple[str, ...] = ("long_distraction", "short_distraction", "microsleep", "sleep", "unresponsive")


def binary_metrics(predicted: Sequence[bool] | np.ndarray, target: Sequence[bool] | np.ndarray) -> dict[str, float]:
    """Per-frame accuracy, precision, recall and F1 of a binary label (positive = True).

    Precision/recall/F1 are 0 when undefined (no predicted / no true positives), as scikit-learn's
    ``zero_division=0``.
    """
    p = np.asarray(predicted, bool).reshape(-1)
    t = np.asarray(target, bool).reshape(-1)
    if p.shape != t.shape or len(t) == 0:
        raise ValueError(f"binary metrics need equally long, non-empty label arrays, got {p.shape} and {t.shape}")
    tp = int(np.sum(p & t))
    fp = int(np.sum(p & ~t))
    fn = int(np.sum(~p & t))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": float(np.mean(p == t)), "precision": precision, "recall": recall, "f1": f1, "frames": len(t)}


def confusion_matrix(predicted: Sequence[int] | np.ndarray, target: Sequence[int] | np.ndarray,
                     n_classes: int = len(GAZE_ZONES)) -> np.ndarray:
    """(K, K) int64 counts, rows = ground-truth class, columns = predicted class."""
    p = np.asarray(predicted, np.int64).reshape(-1)
    t = np.asarray(target, np.int64).reshape(-1)
    if p.shape != t.shape:
        raise ValueError(f"confusion matrix: {len(p)} predictions for {len(t)} targets")
    for name, labels in (("predicted", p), ("target", t)):
        if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(f"confusion matrix: {name} label outside [0, {n_classes})")
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def head_pose_mae(predicted_deg: np.ndarray, target_deg: np.ndarray) -> dict[str, float]:
    """Mean absolute error in degrees per axis (yaw, pitch, roll) of (N, 3) angles, differences wrapped to [-180, 180)."""
    p = np.asarray(predicted_deg, np.float64).reshape(-1, 3)
    t = np.asarray(target_deg, np.float64).reshape(-1, 3)
    if p.shape != t.shape or len(t) == 0:
        raise ValueError(f"head pose: prediction {p.shape} and target {t.shape} must be equal (N, 3), N > 0")
    err = np.abs(np.mod(p - t + 180.0, 360.0) - 180.0).mean(axis=0)
    return {"yaw": float(err[0]), "pitch": float(err[1]), "roll": float(err[2]), "mean": float(err.mean())}


@dataclass(frozen=True)
class Event:
    """A monitor event: ``kind`` (one of :data:`EVENT_KINDS`) from ``start_s`` to ``end_s`` (seconds)."""

    kind: str
    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}; expected one of {EVENT_KINDS}")
        if not (np.isfinite(self.start_s) and np.isfinite(self.end_s)) or self.end_s < self.start_s:
            raise ValueError(f"event {self.kind}: needs finite start_s <= end_s, got {self.start_s}, {self.end_s}")


def _overlap(a: Event, b: Event) -> bool:
    return a.start_s <= b.end_s and b.start_s <= a.end_s


def event_metrics(predicted: Sequence[Event | tuple], target: Sequence[Event | tuple],
                  duration_s: float | Mapping[str, float]) -> dict:
    """Event-level detection quality per kind and over all kinds.

    A predicted event is a true alert when it overlaps (closed intervals) a ground-truth event of
    the same kind; a ground-truth event is detected when some prediction of its kind overlaps it,
    and its detection delay is the start of the earliest such prediction minus its own start
    (seconds, negative when early). False alerts per hour = unmatched predictions / duration * 3600.

    Args:
        duration_s: seconds of recording the events come from; or kind -> seconds when kinds were
            observed over different spans (a dataset that labels the eyes in some recordings and
            the gaze in others): only those kinds are scored, and the all-kinds false-alert rate
            is the sum of the per-kind rates.

    Returns:
        ``{kind: {"precision", "recall", "mean_delay_s", "false_alerts_per_hour", "predicted", "target",
        "duration_s"}, "all": {...}}``; precision/recall are NaN without predictions/targets, the
        delay NaN without detections.
    """
    durations = dict(duration_s) if isinstance(duration_s, Mapping) else dict.fromkeys(EVENT_KINDS, duration_s)
    for kind, seconds in durations.items():
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}; expected one of {EVENT_KINDS}")
        if not seconds > 0:
            raise ValueError(f"event metrics need a positive recording duration, got {seconds} for {kind}")
    if not durations:
        raise ValueError("event metrics need at least one event kind with a recording duration")
    preds = [e if isinstance(e, Event) else Event(*e) for e in predicted]
    gts = [e if isinstance(e, Event) else Event(*e) for e in target]
    out: dict[str, dict] = {}
    totals = {"true_alerts": 0, "predicted": 0, "detected": 0, "target": 0, "delays": [], "rate": 0.0}
    for kind in (k for k in EVENT_KINDS if k in durations):
        p = [e for e in preds if e.kind == kind]
        g = [e for e in gts if e.kind == kind]
        true_alerts = sum(any(_overlap(a, b) for b in g) for a in p)
        delays = []
        for b in g:
            starts = [a.start_s for a in p if _overlap(a, b)]
            if starts:
                delays.append(min(starts) - b.start_s)
        rate = (len(p) - true_alerts) / durations[kind] * 3600.0
        out[kind] = {
            "precision": true_alerts / len(p) if p else float("nan"),
            "recall": len(delays) / len(g) if g else float("nan"),
            "mean_delay_s": float(np.mean(delays)) if delays else float("nan"),
            "false_alerts_per_hour": rate, "predicted": len(p), "target": len(g), "duration_s": float(durations[kind]),
        }
        totals["true_alerts"] += true_alerts
        totals["predicted"] += len(p)
        totals["detected"] += len(delays)
        totals["target"] += len(g)
        totals["delays"] += delays
        totals["rate"] += rate
    out["all"] = {
        "precision": totals["true_alerts"] / totals["predicted"] if totals["predicted"] else float("nan"),
        "recall": totals["detected"] / totals["target"] if totals["target"] else float("nan"),
        "mean_delay_s": float(np.mean(totals["delays"])) if totals["delays"] else float("nan"),
        "false_alerts_per_hour": totals["rate"],
        "predicted": totals["predicted"], "target": totals["target"], "duration_s": float(max(durations.values())),
    }
    return out


def frame_metrics(eye_closed_pred: np.ndarray, eye_closed_gt: np.ndarray, phone_pred: np.ndarray,
                  phone_gt: np.ndarray, gaze_pred: np.ndarray, gaze_gt: np.ndarray, head_pose_pred_deg: np.ndarray,
                  head_pose_gt_deg: np.ndarray, off_road_pred: np.ndarray | None = None,
                  off_road_gt: np.ndarray | None = None) -> dict:
    """All per-frame driver metrics in one dict: eye state (positive = closed), phone, gaze zone,
    head pose and, when given, looking off the road (positive = off road).

    Each pair holds the frames labelled for that quantity only (a dataset may label some and not
    others); a pair with no frame is left out of the result.
    """
    out: dict = {}
    if len(np.asarray(eye_closed_gt).reshape(-1)):
        out["eye_closed"] = binary_metrics(eye_closed_pred, eye_closed_gt)
    if len(np.asarray(phone_gt).reshape(-1)):
        out["phone"] = binary_metrics(phone_pred, phone_gt)
    if len(np.asarray(gaze_gt).reshape(-1)):
        confusion = confusion_matrix(gaze_pred, gaze_gt)
        out["gaze"] = {"accuracy": float(np.trace(confusion) / max(confusion.sum(), 1)), "zones": list(GAZE_ZONES),
                       "confusion": confusion.tolist()}
    if off_road_gt is not None and len(np.asarray(off_road_gt).reshape(-1)):
        out["off_road"] = binary_metrics(off_road_pred, off_road_gt)
    if len(np.asarray(head_pose_gt_deg).reshape(-1)):
        out["head_pose_mae_deg"] = head_pose_mae(head_pose_pred_deg, head_pose_gt_deg)
    return out
