"""Class vocabularies shared by readers, the model and the evaluation (see docs/conventions.md)."""
from __future__ import annotations

from typing import Final

#: nuScenes detection classes, in the order used for label indices everywhere.
DETECTION_CLASSES: Final[tuple[str, ...]] = (
    "car", "truck", "bus", "trailer", "construction_vehicle",
    "pedestrian", "motorcycle", "bicycle", "traffic_cone", "barrier",
)

#: nuScenes attributes, in the order used for attribute indices (-1 means none).
ATTRIBUTES: Final[tuple[str, ...]] = (
    "vehicle.moving", "vehicle.stopped", "vehicle.parked",
    "cycle.with_rider", "cycle.without_rider",
    "pedestrian.moving", "pedestrian.standing", "pedestrian.sitting_lying_down",
)

#: KITTI object classes evaluated by the KITTI benchmark.
KITTI_CLASSES: Final[tuple[str, ...]] = ("Car", "Pedestrian", "Cyclist")

#: BEV map layers (BEVFusion protocol), in channel order of ``BevMap.layers``.
MAP_CLASSES: Final[tuple[str, ...]] = (
    "drivable_area", "ped_crossing", "walkway", "stop_line", "carpark_area", "divider",
)

#: Driver gaze zones, in label-index order.
GAZE_ZONES: Final[tuple[str, ...]] = (
    "road", "left_mirror", "right_mirror", "rear_mirror",
    "instrument_cluster", "infotainment", "lap_or_phone", "eyes_closed",
)

#: Eye states of the driver-monitoring head, in label-index order.
EYE_STATES: Final[tuple[str, ...]] = ("open", "closed")

#: nuScenes category name (``category.json``) -> detection class, per the official mapping.
NUSCENES_CATEGORY_TO_CLASS: Final[dict[str, str]] = {
    "vehicle.car": "car",
    "vehicle.truck": "truck",
    "vehicle.bus.bendy": "bus",
    "vehicle.bus.rigid": "bus",
    "vehicle.trailer": "trailer",
    "vehicle.construction": "construction_vehicle",
    "human.pedestrian.adult": "pedestrian",
    "human.pedestrian.child": "pedestrian",
    "human.pedestrian.construction_worker": "pedestrian",
    "human.pedestrian.police_officer": "pedestrian",
    "vehicle.motorcycle": "motorcycle",
    "vehicle.bicycle": "bicycle",
    "movable_object.trafficcone": "traffic_cone",
    "movable_object.barrier": "barrier",
}

#: Detection class -> the nuScenes category the writers emit for it.
CLASS_TO_NUSCENES_CATEGORY: Final[dict[str, str]] = {
    "car": "vehicle.car",
    "truck": "vehicle.truck",
    "bus": "vehicle.bus.rigid",
    "trailer": "vehicle.trailer",
    "construction_vehicle": "vehicle.construction",
    "pedestrian": "human.pedestrian.adult",
    "motorcycle": "vehicle.motorcycle",
    "bicycle": "vehicle.bicycle",
    "traffic_cone": "movable_object.trafficcone",
    "barrier": "movable_object.barrier",
}

#: Detection class -> KITTI class (None: not a KITTI class). Cyclists are riders on bikes;
#: the simulator's bicycles and motorcycles carry riders, so both map to Cyclist.
CLASS_TO_KITTI: Final[dict[str, str | None]] = {
    "car": "Car", "truck": "Truck", "bus": "Misc", "trailer": "Misc",
    "construction_vehicle": "Misc", "pedestrian": "Pedestrian", "motorcycle": "Cyclist",
    "bicycle": "Cyclist", "traffic_cone": None, "barrier": None,
}

#: KITTI label type -> detection class used when reading KITTI. Types absent here (Van, Tram,
#: Misc, Person_sitting, DontCare) are kept out of ``Frame.annotations.boxes``; the KITTI
#: evaluation reads them from the label files itself (they are "ignore" regions there).
KITTI_TO_CLASS: Final[dict[str, str]] = {
    "Car": "car", "Truck": "truck", "Pedestrian": "pedestrian", "Cyclist": "bicycle",
}


def class_index(name: str) -> int:
    """Index of a detection class name in :data:`DETECTION_CLASSES` (ValueError if unknown)."""
    try:
        return DETECTION_CLASSES.index(name)
    except ValueError:
        raise ValueError(f"unknown detection class {name!r}; expected one of {DETECTION_CLASSES}") from None
