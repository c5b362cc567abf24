"""Topic profiles: which topics of a recording carry which sensor (small YAML files).

A profile names the LiDAR topic, each camera's image and CameraInfo topics (by the data
model's camera name), the cabin camera, the TF topics and frames, and ground-truth topics. The
shipped ones live in ``configs/replay/``; :func:`choose_profile` picks the one that fits a
recording best. Format (``configs/replay/nuscenes.yaml`` is an example)::

    name: nuscenes
    description: one line
    lidar: /LIDAR_TOP
    cameras:
      CAM_FRONT: {image: /CAM_FRONT/image_rect_compressed, info: /CAM_FRONT/camera_info}
    cabin: {image: ..., info: ...}          # optional
    tf: /tf                                  # default /tf
    tf_static: /tf_static                    # default /tf_static
    frames: {map: map, base: base_link}      # defaults
    ground_truth: {boxes: /ground_truth/boxes, map: /ground_truth/map}   # optional
    lidar_time_unit: ns                      # optional, see sensors.ros.pointcloud

A camera entry may set ``rectified: false`` for raw images (intrinsics from ``K`` instead of
``P``). ``ground_truth.map`` is a topic prefix: one ``nav_msgs/OccupancyGrid`` per BEV map layer
on ``<prefix>/<layer>`` (:mod:`sensors.ros.grid`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sensors.classes import MAP_CLASSES
from sensors.errors import (
    CorruptDataError,
    InvalidValueError,
    MissingDataError,
    yaml_problem,
)

#: Folder of the shipped profiles.
PROFILE_DIR = Path(__file__).resolve().parents[2] / "configs" / "replay"

POINTCLOUD = "sensor_msgs/msg/PointCloud2"
IMAGE_TYPES = ("sensor_msgs/msg/CompressedImage", "sensor_msgs/msg/Image")
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
TF_TYPES = ("tf2_msgs/msg/TFMessage", "tf/msg/tfMessage")
DETECTIONS = "vision_msgs/msg/Detection3DArray"
OCCUPANCY = "nav_msgs/msg/OccupancyGrid"


@dataclass(frozen=True)
class CameraTopics:
    """Image topic (CompressedImage or Image), CameraInfo topic, and whether the image is
    rectified (intrinsics from ``P``) or raw (from ``K``)."""

    image: str
    info: str
    rectified: bool = True


@dataclass(frozen=True)
class Profile:
    """Where each sensor of a recording is (see the module docstring)."""

    name: str
    lidar: str
    cameras: dict[str, CameraTopics] = field(default_factory=dict)
    cabin: CameraTopics | None = None
    tf: str = "/tf"
    tf_static: str = "/tf_static"
    map_frame: str = "map"
    base_frame: str = "base_link"
    boxes: str | None = None
    bev_map: str | None = None
    lidar_time_unit: str | None = None
    description: str = ""

    def expected_types(self) -> dict[str, tuple[str, ...]]:
        """topic -> accepted message types, for every topic the profile names."""
        out: dict[str, tuple[str, ...]] = {self.lidar: (POINTCLOUD,), self.tf: TF_TYPES, self.tf_static: TF_TYPES}
        for camera in [*self.cameras.values(), *([self.cabin] if self.cabin else [])]:
            out[camera.image] = IMAGE_TYPES
            out[camera.info] = (CAMERA_INFO,)
        if self.boxes:
            out[self.boxes] = (DETECTIONS,)
        for topic in self.map_topics().values():
            out[topic] = (OCCUPANCY,)
        return out

    def map_topics(self) -> dict[str, str]:
        """BEV map layer -> its OccupancyGrid topic (``<bev_map>/<layer>``); empty without a map."""
        if not self.bev_map:
            return {}
        return {layer: f"{self.bev_map.rstrip('/')}/{layer}" for layer in MAP_CLASSES}


def _camera(spec: Any, where: str) -> CameraTopics:
    if not isinstance(spec, dict) or not isinstance(spec.get("image"), str) or not isinstance(spec.get("info"), str):
        raise InvalidValueError(where, "a camera needs {image: <topic>, info: <topic>}")
    return CameraTopics(spec["image"], spec["info"], bool(spec.get("rectified", True)))


def profile_from_dict(spec: dict[str, Any], source: str = "profile") -> Profile:
    """A :class:`Profile` from its YAML mapping.

    Raises:
        InvalidValueError: a missing LiDAR topic, a malformed camera entry or an unknown key.
    """
    known = {"name", "description", "lidar", "cameras", "cabin", "tf", "tf_static", "frames", "ground_truth",
             "lidar_time_unit"}
    if not isinstance(spec, dict):
        raise InvalidValueError(source, "a profile is a YAML mapping")
    if unknown := sorted(set(spec) - known):
        raise InvalidValueError(source, f"unknown keys {unknown} (known: {sorted(known)})")
    if not isinstance(spec.get("lidar"), str):
        raise InvalidValueError(source, "a profile needs 'lidar: <PointCloud2 topic>'")
    cameras = spec.get("cameras") or {}
    if not isinstance(cameras, dict):
        raise InvalidValueError(source, "'cameras' maps camera names to {image, info}")
    frames = spec.get("frames") or {}
    truth = spec.get("ground_truth") or {}
    return Profile(
        name=str(spec.get("name", Path(source).stem)), lidar=spec["lidar"],
        cameras={str(n): _camera(c, f"{source}: camera {n}") for n, c in cameras.items()},
        cabin=_camera(spec["cabin"], f"{source}: cabin") if spec.get("cabin") else None,
        tf=spec.get("tf", "/tf"), tf_static=spec.get("tf_static", "/tf_static"),
        map_frame=frames.get("map", "map"), base_frame=frames.get("base", "base_link"),
        boxes=truth.get("boxes"), bev_map=truth.get("map"), lidar_time_unit=spec.get("lidar_time_unit"),
        description=str(spec.get("description", "")),
    )


def load_profile(name_or_path: str | Path) -> Profile:
    """A shipped profile by name (``sim``, ``nuscenes``, ``autoware``) or a profile YAML file.

    Raises:
        MissingDataError: no such profile.
        CorruptDataError: the YAML does not parse.
        InvalidValueError: see :func:`profile_from_dict`.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))
        raise MissingDataError(path, f"no such replay profile (shipped: {names}, or a YAML file path)")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise CorruptDataError(path, f"profile YAML does not parse: {yaml_problem(error)}") from None
    return profile_from_dict(spec, str(path))


def shipped_profiles() -> list[Profile]:
    """The profiles in ``configs/replay/``, by name."""
    return [load_profile(p) for p in sorted(PROFILE_DIR.glob("*.yaml"))]


@dataclass(frozen=True)
class ProfileFit:
    """How well a profile fits a recording: topics it names that are present with a right type
    (``matched``), absent (``absent``), or present with another type (``wrong_type``)."""

    profile: Profile
    matched: tuple[str, ...]
    absent: tuple[str, ...]
    wrong_type: tuple[str, ...]

    @property
    def usable(self) -> bool:
        """The LiDAR topic is present as a PointCloud2 (frames are triggered by it)."""
        return self.profile.lidar in self.matched

    @property
    def score(self) -> tuple[int, int, int]:
        return (int(self.usable), len(self.matched), -len(self.absent) - len(self.wrong_type))


def fit_profile(profile: Profile, topics: dict[str, str]) -> ProfileFit:
    """Compare a profile with a recording's ``topics`` (topic -> message type)."""
    matched, absent, wrong = [], [], []
    for topic, accepted in profile.expected_types().items():
        if topic not in topics:
            absent.append(topic)
        elif topics[topic] in accepted:
            matched.append(topic)
        else:
            wrong.append(topic)
    return ProfileFit(profile, tuple(matched), tuple(absent), tuple(wrong))


def choose_profile(topics: dict[str, str], profiles: list[Profile] | None = None) -> list[ProfileFit]:
    """Fits of every profile (shipped ones by default), best first: usable (LiDAR present), then
    most topics matched, then fewest named topics missing."""
    fits = [fit_profile(p, topics) for p in (shipped_profiles() if profiles is None else profiles)]
    return sorted(fits, key=lambda f: f.score, reverse=True)
