"""Record types of the nuScenes JSON tables that the detection ground truth reads (only the fields it uses).

Units as in nuScenes: translations in metres (global frame), sizes width, length, height in metres,
rotations quaternions ``(w, x, y, z)``, timestamps in microseconds. Fields not listed are skipped
while decoding. The records hold only strings, numbers and their tuples or lists, so they are
created untracked by the garbage collector (``gc=False``), which saves its passes over millions of
records.
"""
from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import msgspec

from evaluation.nuscenes_det.json_records import read_records


class Scene(msgspec.Struct, gc=False):
    token: str
    name: str


class Sample(msgspec.Struct, gc=False):
    token: str
    timestamp: int
    scene_token: str


class SampleData(msgspec.Struct, gc=False):
    sample_token: str
    calibrated_sensor_token: str
    ego_pose_token: str
    is_key_frame: bool = False


class EgoPose(msgspec.Struct, gc=False):
    token: str
    translation: tuple[float, float, float]


class CalibratedSensor(msgspec.Struct, gc=False):
    token: str
    sensor_token: str


class Sensor(msgspec.Struct, gc=False):
    token: str
    channel: str


class Named(msgspec.Struct, gc=False):
    """A ``category`` or ``attribute`` record."""

    token: str
    name: str


class Instance(msgspec.Struct, gc=False):
    token: str
    category_token: str


class SampleAnnotation(msgspec.Struct, gc=False):
    token: str
    sample_token: str
    instance_token: str
    attribute_tokens: tuple[str, ...]
    translation: tuple[float, float, float]
    size: tuple[float, float, float]
    rotation: tuple[float, float, float, float]
    prev: str
    next: str
    num_lidar_pts: int = 0
    num_radar_pts: int = 0


R = TypeVar("R", bound=msgspec.Struct)


def read_table(folder: Path, name: str, record: type[R]) -> list[R]:
    """The records of ``folder/<name>.json``.

    Raises:
        ValueError: the table is missing, not valid JSON, or a record lacks a field or has one of
            the wrong type (the message names the file and the field path).
    """
    return read_records(folder / f"{name}.json", list[record], missing="nuScenes table missing")
