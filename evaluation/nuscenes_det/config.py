"""Configuration of the nuScenes detection evaluation (the official ``detection_cvpr_2019`` preset)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sensors.classes import DETECTION_CLASSES

#: True-positive metrics in the devkit's order, with their units.
TP_METRICS: tuple[str, ...] = ("trans_err", "scale_err", "orient_err", "vel_err", "attr_err")
TP_METRIC_UNITS: dict[str, str] = {
    "trans_err": "m", "scale_err": "1-IoU", "orient_err": "rad", "vel_err": "m/s", "attr_err": "1-acc",
}
#: Short names used in reports (ATE, ASE, AOE, AVE, AAE).
TP_METRIC_SHORT: dict[str, str] = {
    "trans_err": "ATE", "scale_err": "ASE", "orient_err": "AOE", "vel_err": "AVE", "attr_err": "AAE",
}
#: TP metrics that are not defined for a class (their error is NaN and skipped in class means).
UNDEFINED_TP_METRICS: dict[str, tuple[str, ...]] = {
    "traffic_cone": ("attr_err", "vel_err", "orient_err"),
    "barrier": ("attr_err", "vel_err"),
}
#: Classes whose orientation is only defined up to 180 degrees (AOE uses period pi).
HALF_TURN_SYMMETRIC: tuple[str, ...] = ("barrier",)
#: Number of recall positions of the interpolated PR and TP curves (0 to 1 in steps of 0.01).
N_RECALL_POINTS = 101

_CVPR_2019_RANGE = {
    "car": 50.0, "truck": 50.0, "bus": 50.0, "trailer": 50.0, "construction_vehicle": 50.0,
    "pedestrian": 40.0, "motorcycle": 40.0, "bicycle": 40.0, "traffic_cone": 30.0, "barrier": 30.0,
}


@dataclass(frozen=True)
class DetectionConfig:
    """Settings of the nuScenes detection metric.

    Attributes:
        class_range: class -> maximum BEV distance from the ego car (metres) of evaluated boxes.
        dist_ths: centre-distance matching thresholds in metres (BEV, global frame).
        dist_th_tp: the threshold at which TP errors are measured (must be in ``dist_ths``).
        min_recall: recalls at or below this are excluded from AP and TP errors.
        min_precision: precision below this counts as 0 in AP (AP is rescaled by 1 - min_precision).
        max_boxes_per_sample: submissions with more boxes for one sample are rejected.
        mean_ap_weight: weight of mAP in NDS (the 5 TP scores have weight 1 each).
    """

    class_range: dict[str, float] = field(default_factory=lambda: dict(_CVPR_2019_RANGE))
    dist_ths: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    dist_th_tp: float = 2.0
    min_recall: float = 0.1
    min_precision: float = 0.1
    max_boxes_per_sample: int = 500
    mean_ap_weight: float = 5.0

    def __post_init__(self) -> None:
        if set(self.class_range) != set(DETECTION_CLASSES):
            raise ValueError(f"class_range must have exactly the classes {DETECTION_CLASSES}")
        if self.dist_th_tp not in self.dist_ths:
            raise ValueError(f"dist_th_tp {self.dist_th_tp} is not one of dist_ths {self.dist_ths}")
        if not 0 <= self.min_precision < 1 or not 0 <= self.min_recall <= 1:
            raise ValueError("min_precision must be in [0, 1) and min_recall in [0, 1]")

    @property
    def class_names(self) -> tuple[str, ...]:
        """Evaluated classes, in :data:`sensors.classes.DETECTION_CLASSES` order."""
        return DETECTION_CLASSES

    def to_dict(self) -> dict:
        """JSON-friendly form, with the devkit's field names."""
        return {
            "class_range": dict(self.class_range), "dist_fcn": "center_distance", "dist_ths": list(self.dist_ths),
            "dist_th_tp": self.dist_th_tp, "min_recall": self.min_recall, "min_precision": self.min_precision,
            "max_boxes_per_sample": self.max_boxes_per_sample, "mean_ap_weight": self.mean_ap_weight,
        }


def detection_cvpr_2019() -> DetectionConfig:
    """The official nuScenes detection configuration ``detection_cvpr_2019``."""
    return DetectionConfig()
