"""BEV map segmentation IoU with a threshold sweep (the BEVFusion protocol).

For every threshold ``t`` in the sweep a cell is predicted positive when its probability is
``>= t``. Intersections and unions are **summed over the whole dataset** per class and
threshold; a class's IoU is the best one over the sweep (its threshold is reported), and mIoU is
the mean of these over the classes that have any ground truth or prediction (classes with an
empty union everywhere are NaN and left out). Only cells inside the evaluated region count.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensors.classes import MAP_CLASSES
from sensors.frame import BevGrid

#: BEVFusion thresholds: 0.35 to 0.65 in steps of 0.05.
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65)


def evaluated_region(grid: BevGrid, x_range: tuple[float, float] = (-50.0, 50.0),
                     y_range: tuple[float, float] = (-50.0, 50.0)) -> np.ndarray:
    """(X, Y) bool mask of the cells of ``grid`` whose centre lies in the ego-frame ranges (metres, half-open)."""
    xs, ys = grid.cell_centers()
    inside_x = (xs >= x_range[0]) & (xs < x_range[1])
    inside_y = (ys >= y_range[0]) & (ys < y_range[1])
    return inside_x[:, None] & inside_y[None, :]


@dataclass
class SegmentationResult:
    """Per-class IoU of the sweep.

    Attributes:
        classes: class names, in channel order.
        thresholds: (T,) the sweep.
        iou: (T, C) dataset IoU per threshold and class (NaN where the union is empty).
        best_iou: class -> best IoU over the sweep.
        best_threshold: class -> the threshold that gives it.
        miou: mean of ``best_iou`` over classes with a defined IoU.
    """

    classes: tuple[str, ...]
    thresholds: np.ndarray
    iou: np.ndarray
    best_iou: dict[str, float]
    best_threshold: dict[str, float]
    miou: float

    def to_dict(self) -> dict:
        """JSON-friendly form (NaN becomes None)."""
        def clean(v: float) -> float | None:
            return None if np.isnan(v) else float(v)

        return {
            "miou": clean(self.miou),
            "iou": {c: clean(v) for c, v in self.best_iou.items()},
            "threshold": {c: clean(v) for c, v in self.best_threshold.items()},
            "iou_per_threshold": {f"{t:.2f}": {c: clean(v) for c, v in zip(self.classes, row)}
                                  for t, row in zip(self.thresholds, self.iou)},
        }


class BevSegmentationMetric:
    """Accumulates intersections and unions over samples; :meth:`result` gives IoU and mIoU.

    Args:
        classes: channel names (default :data:`sensors.classes.MAP_CLASSES`).
        thresholds: probability thresholds of the sweep.
        region: optional (X, Y) bool mask of evaluated cells (see :func:`evaluated_region`).
    """

    def __init__(self, classes: tuple[str, ...] = MAP_CLASSES, thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS,
                 region: np.ndarray | None = None) -> None:
        self.classes = tuple(classes)
        self.thresholds = np.asarray(thresholds, np.float64)
        self.region = None if region is None else np.asarray(region, bool)
        self.intersection = np.zeros((len(self.thresholds), len(self.classes)), np.int64)
        self.union = np.zeros_like(self.intersection)

    def update(self, probabilities: np.ndarray, target: np.ndarray) -> None:
        """Add one sample: ``probabilities`` (C, X, Y) in [0, 1] and ``target`` (C, X, Y) bool."""
        probabilities = np.asarray(probabilities)
        target = np.asarray(target, bool)
        expected = (len(self.classes),) + target.shape[1:]
        if probabilities.shape != target.shape or target.shape[0] != len(self.classes):
            raise ValueError(f"BEV segmentation: prediction {probabilities.shape} and target {target.shape} must both be "
                             f"{expected} (C = {len(self.classes)} classes)")
        if not np.all(np.isfinite(probabilities)):
            raise ValueError("BEV segmentation: probabilities contain NaN or infinite values")
        if self.region is not None:
            if self.region.shape != target.shape[1:]:
                raise ValueError(f"BEV segmentation: region {self.region.shape} != grid {target.shape[1:]}")
            probabilities = probabilities[:, self.region]
            target = target[:, self.region]
        else:
            probabilities = probabilities.reshape(len(self.classes), -1)
            target = target.reshape(len(self.classes), -1)
        predicted = probabilities[None] >= self.thresholds[:, None, None]
        self.intersection += np.count_nonzero(predicted & target[None], axis=2)
        self.union += np.count_nonzero(predicted | target[None], axis=2)

    def result(self) -> SegmentationResult:
        """IoU per threshold and class, best per class, mIoU."""
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(self.union > 0, self.intersection / np.maximum(self.union, 1), np.nan)
        best_iou, best_threshold = {}, {}
        for c, name in enumerate(self.classes):
            column = iou[:, c]
            if np.isnan(column).all():
                best_iou[name], best_threshold[name] = float("nan"), float("nan")
            else:
                k = int(np.nanargmax(column))
                best_iou[name], best_threshold[name] = float(column[k]), float(self.thresholds[k])
        values = np.array(list(best_iou.values()))
        miou = float(np.mean(values[~np.isnan(values)])) if (~np.isnan(values)).any() else float("nan")
        return SegmentationResult(self.classes, self.thresholds, iou, best_iou, best_threshold, miou)
