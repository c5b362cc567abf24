"""Names shared by the nuScenes writer and reader: channels, table files and our extra tables.

The official devkit loads exactly :data:`TABLES` from ``<root>/<version>/``. Our extras (data the
real dataset lacks) live in other files beside them, which the devkit never opens (the BEV map is
not an extra: it comes from the map expansion, :mod:`sensors.nuscenes.map_expansion`):

* ``<version>/depth.json``: rows ``{sample_data_token, filename}``; 16-bit PNGs at 1/256 m under
  ``depth/<channel>/``, one per camera sample_data.
* ``<version>/driver_label.json``: rows ``{sample_data_token, eye_openness, eye_state, gaze_zone,
  head_pose, phone}`` keyed by the ``CAM_CABIN`` sample_data token (names, not indices; head pose
  yaw, pitch, roll in degrees).
"""
from __future__ import annotations

from typing import Final

#: The 13 tables of nuScenes v1.0 that the devkit requires.
TABLES: Final[tuple[str, ...]] = (
    "attribute", "calibrated_sensor", "category", "ego_pose", "instance", "log", "map", "sample",
    "sample_annotation", "sample_data", "scene", "sensor", "visibility",
)

LIDAR_CHANNEL: Final = "LIDAR_TOP"
#: Driver-facing camera, stored as an extra camera channel (not in the real dataset).
CABIN_CHANNEL: Final = "CAM_CABIN"

DEPTH_TABLE: Final = "depth"
DRIVER_TABLE: Final = "driver_label"

#: nuScenes visibility levels (token, level, description) as in the real ``visibility.json``.
VISIBILITY: Final[tuple[tuple[str, str, str], ...]] = (
    ("1", "v0-40", "visibility of whole object is between 0 and 40%"),
    ("2", "v40-60", "visibility of whole object is between 40 and 60%"),
    ("3", "v60-80", "visibility of whole object is between 60 and 80%"),
    ("4", "v80-100", "visibility of whole object is between 80 and 100%"),
)
