"""KITTI object-detection layout: reader (:class:`KittiDataset`) and writer (:func:`write_kitti`).

Frame conventions (see ``docs/datasets.md``): KITTI's ego frame is the velodyne frame moved
down to the ground by :data:`VELODYNE_HEIGHT` metres; the left colour camera ``image_2`` is
``CAM_FRONT``.
"""
from sensors.kitti.annotate import boxes_to_objects
from sensors.kitti.calib import VELODYNE_HEIGHT, KittiCalib, read_calib
from sensors.kitti.labels import KittiObject, format_kitti_labels, read_kitti_labels
from sensors.kitti.reader import KittiDataset
from sensors.kitti.writer import write_kitti

__all__ = [
    "VELODYNE_HEIGHT", "KittiCalib", "KittiDataset", "KittiObject", "boxes_to_objects", "format_kitti_labels",
    "read_calib", "read_kitti_labels", "write_kitti",
]
