"""Messages in, frames out: :class:`FrameSynchronizer`, fed one message at a time.

Used by the bag replay (:mod:`sensors.ros.recording`) and meant for a live ROS node: it only
needs message objects with the standard fields (rosbags or rclpy).

Rules (docs/replay.md, "Synchronization"):

* Each LiDAR message triggers one frame at its header stamp ``t``.
* Each camera contributes the image whose stamp is nearest to ``t`` within ``tolerance_s``
  (ties: the later one), with the latest CameraInfo of that camera. No such image, no
  CameraInfo, no calibration transform or an image that does not decode: the camera is missing
  from that frame (counted in the summary), the rest of the frame is kept.
* A frame is built once the newest stamp seen (any sensor or /tf) passes
  ``t + tolerance_s + wait_s``, so that images stamped after the LiDAR and the /tf sample after
  ``t`` have arrived (``wait_s`` allows messages that arrive that late); :meth:`flush` builds the
  rest. Frames come out in LiDAR stamp order; a LiDAR message older than a frame already built
  is counted and dropped.
* Calibration from ``/tf_static`` (sensor frame -> ``base_link``), ego motion from ``/tf``
  (``map`` -> ``base_link``, interpolated). Each camera is placed in the ego frame at ``t`` with
  :func:`sensors.geometry.sensor_to_reference_ego` (docs/conventions.md, "Time"). Without an
  ego pose at both times the camera keeps its calibration (counted as ``ego_pose`` missing);
  without one at ``t``, ``Frame.ego_to_global`` is the identity.
* LiDAR points go from the cloud's frame to the ego frame at ``t``; column 4 is the per-point
  time relative to ``t`` (seconds). With ``sweeps`` > 1 the previous clouds are
  motion-compensated into the ego frame at ``t`` (offsets negative), as the nuScenes reader does.
* Ground-truth boxes stamped within ``annotation_tolerance_s`` of ``t`` go to
  ``Frame.annotations`` (transformed into the ego frame at ``t``), and so do the BEV map layers
  (OccupancyGrids in the ego frame, all layers or none).
"""
from __future__ import annotations

import bisect
import hashlib
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from sensors.boxes import Boxes3D
from sensors.classes import MAP_CLASSES
from sensors.errors import SensorDataError
from sensors.frame import CAMERA_NAMES, Annotations, BevMap, Camera, Frame, Lidar
from sensors.geometry import invert_transform, sensor_to_reference_ego
from sensors.ros.detections import decode_detection3d_array
from sensors.ros.grid import decode_layer
from sensors.ros.image import REDUCED_READ, camera_intrinsics, decode_any_image
from sensors.ros.pointcloud import decode_pointcloud2
from sensors.ros.profile import CameraTopics, Profile
from sensors.ros.summary import ReplaySummary
from sensors.ros.tf import TfBuffer
from sensors.ros.types import stamp_to_ns

CABIN = "cabin"
#: A camera whose last image is this much older than the last LiDAR message has stopped.
STOPPED_AFTER_S = 1.0


class _Timeline:
    """Messages of one topic sorted by stamp (ns), pruned from the old end."""

    def __init__(self) -> None:
        self.stamps: list[int] = []
        self.messages: list[Any] = []

    def add(self, stamp: int, msg: Any) -> None:
        i = bisect.bisect_right(self.stamps, stamp)
        self.stamps.insert(i, stamp)
        self.messages.insert(i, msg)

    def nearest(self, stamp: int, tolerance_ns: int) -> tuple[int, Any] | None:
        """(stamp, message) nearest to ``stamp`` within the tolerance; ties go to the later one."""
        i = bisect.bisect_left(self.stamps, stamp - tolerance_ns)
        best = None
        while i < len(self.stamps) and self.stamps[i] <= stamp + tolerance_ns:
            if best is None or abs(self.stamps[i] - stamp) <= abs(self.stamps[best] - stamp):
                best = i
            i += 1
        return None if best is None else (self.stamps[best], self.messages[best])

    def drop_before(self, stamp: int) -> None:
        i = bisect.bisect_left(self.stamps, stamp)
        if i:
            del self.stamps[:i], self.messages[:i]


class FrameSynchronizer:
    """Builds :class:`~sensors.frame.Frame` s from ROS messages (rules in the module docstring).

    Args:
        profile: which topic is which sensor.
        tolerance_s: largest |camera stamp - LiDAR stamp| for a camera to join a frame (0.12 s,
            Autoware's default).
        sweeps: LiDAR messages aggregated per frame (1: the triggering one only).
        scene: ``Frame.scene`` of the frames (e.g. the recording's name).
        wait_s: extra time (s) to wait for late messages before a frame is built.
        annotation_tolerance_s: largest |box stamp - LiDAR stamp| for ground truth to join.
        summary: counters to add to (a new :class:`ReplaySummary` by default).
        image_reduction: 1, 2, 4 or 8: decode images at 1/reduction of their size (JPEG decodes
            several times faster; intrinsics follow). For a model that resizes its inputs smaller.
    """

    def __init__(self, profile: Profile, tolerance_s: float = 0.12, *, sweeps: int = 1, scene: str = "recording",
                 wait_s: float = 0.1, annotation_tolerance_s: float = 0.001, summary: ReplaySummary | None = None,
                 image_reduction: int = 1) -> None:
        if tolerance_s < 0 or wait_s < 0 or annotation_tolerance_s < 0:
            raise ValueError("tolerance_s, wait_s and annotation_tolerance_s must be >= 0")
        if sweeps < 1:
            raise ValueError(f"sweeps must be >= 1, got {sweeps}")
        self.profile = profile
        self.tolerance_ns = round(tolerance_s * 1e9)
        self.wait_ns = round(wait_s * 1e9)
        self.annotation_tolerance_ns = round(annotation_tolerance_s * 1e9)
        if image_reduction not in REDUCED_READ:
            raise ValueError(f"image_reduction must be one of {tuple(REDUCED_READ)}, got {image_reduction}")
        self.sweeps = sweeps
        self.image_reduction = image_reduction
        self.scene = scene
        self.summary = summary if summary is not None else ReplaySummary()
        self.tf = TfBuffer()
        order = [n for n in CAMERA_NAMES if n in profile.cameras] + [n for n in profile.cameras if n not in CAMERA_NAMES]
        self._cameras: dict[str, CameraTopics] = {n: profile.cameras[n] for n in order}
        if profile.cabin is not None:
            self._cameras[CABIN] = profile.cabin
        self._routes: dict[str, tuple[str, str | None]] = {profile.lidar: ("lidar", None),
                                                            profile.tf: ("tf", None), profile.tf_static: ("tf_static", None)}
        for key, topics in self._cameras.items():
            self._routes[topics.image] = ("image", key)
            self._routes[topics.info] = ("info", key)
        if profile.boxes:
            self._routes[profile.boxes] = ("boxes", None)
        for layer, topic in profile.map_topics().items():
            self._routes[topic] = ("map", layer)
        self._pending = _Timeline()
        self._images = {key: _Timeline() for key in self._cameras}
        self._infos: dict[str, Any] = {}
        self._boxes = _Timeline()
        self._maps = {layer: _Timeline() for layer in profile.map_topics()}
        self._history: deque[tuple[int, np.ndarray, np.ndarray | None]] = deque(maxlen=max(sweeps - 1, 0))
        self._watermark: int | None = None
        self._last_built: int | None = None
        self._last_image: dict[str, int] = {}
        self._last_lidar: int | None = None

    @property
    def topics(self) -> set[str]:
        """Every topic this synchronizer consumes."""
        return set(self._routes)

    def add(self, topic: str, msg: Any, receive_time_ns: int | None = None) -> list[Frame]:
        """Feed one message; returns the frames it completes (often none), in time order.

        Args:
            topic: the topic the message came on; topics of no sensor are ignored.
            msg: the message object (rosbags or rclpy).
            receive_time_ns: when it was received (a bag's log time); stands in for a header
                stamp left at zero by the driver (counted in the notes).

        Never raises on bad sensor data: it is counted in :attr:`summary`.
        """
        route = self._routes.get(topic)
        if route is None:
            return []
        self.summary.messages[topic] += 1
        try:
            return self._route(topic, msg, receive_time_ns, *route)
        except (AttributeError, TypeError, ValueError) as error:
            self.summary.count_unusable("message without the fields of its type", f"{topic}: {error}")
            return []

    def _route(self, topic: str, msg: Any, receive_time_ns: int | None, kind: str, key: str | None) -> list[Frame]:
        """File one message by its role; returns the frames it completes."""
        if kind == "tf_static":
            self._count_bad_transforms(topic, self.tf.add_message(msg, static=True))
            return []
        if kind == "tf":
            self._count_bad_transforms(topic, self.tf.add_message(msg, static=False))
            stamps = [stamp_to_ns(t.header.stamp) for t in msg.transforms]
            return self._advance(max(stamps)) if stamps else []
        if kind == "info":
            self._infos[key] = msg
            return []
        stamp = stamp_to_ns(msg.header.stamp)
        if stamp == 0 and receive_time_ns is not None:
            self.summary.note(f"{topic}: header stamps are zero; the receive time is used")
            stamp = int(receive_time_ns)
        if kind == "boxes":
            self._boxes.add(stamp, msg)
            return []
        if kind == "map":
            self._maps[key].add(stamp, msg)
            return []
        if kind == "image":
            self._last_image[key] = max(stamp, self._last_image.get(key, stamp))
            if self._last_built is not None and stamp < self._last_built - self.tolerance_ns:
                self.summary.count_unusable("image older than every frame still to build",
                                            f"{topic} at {stamp} ns")
            else:
                self._images[key].add(stamp, msg)
            return self._advance(stamp)
        # LiDAR
        self._last_lidar = max(stamp, self._last_lidar or stamp)
        if self._last_built is not None and stamp <= self._last_built:
            self.summary.count_unusable("LiDAR message older than a frame already built", f"{topic} at {stamp} ns")
        elif stamp in self._pending.stamps:
            self.summary.count_unusable("LiDAR message with a duplicate stamp", f"{topic} at {stamp} ns")
        else:
            self._pending.add(stamp, msg)
        return self._advance(stamp)

    def flush(self) -> list[Frame]:
        """Build every pending frame (end of the recording) and note sensors that stopped."""
        frames = [self._build(stamp, msg) for stamp, msg in zip(self._pending.stamps, self._pending.messages)]
        self._pending = _Timeline()
        if self._last_lidar is not None:
            for key, topics in self._cameras.items():
                last = self._last_image.get(key)
                if last is None:
                    self.summary.note(f"{topics.image}: no image at all")
                elif last < self._last_lidar - int(STOPPED_AFTER_S * 1e9):
                    self.summary.note(f"{topics.image}: stopped publishing {(self._last_lidar - last) * 1e-9:.1f} s "
                                      "before the last LiDAR message")
        return frames

    # -- internals -----------------------------------------------------------------------------
    def _count_bad_transforms(self, topic: str, bad: int) -> None:
        if bad:
            self.summary.count_unusable("unusable transform (non-finite, zero rotation or self-parented)", topic, bad)

    def _advance(self, stamp: int) -> list[Frame]:
        """Move the watermark to ``stamp`` and build the frames it completes."""
        self._watermark = stamp if self._watermark is None else max(self._watermark, stamp)
        frames = []
        while self._pending.stamps and self._pending.stamps[0] + self.tolerance_ns + self.wait_ns <= self._watermark:
            lidar_stamp, msg = self._pending.stamps.pop(0), self._pending.messages.pop(0)
            frames.append(self._build(lidar_stamp, msg))
        horizon = self._watermark - self.tolerance_ns - self.wait_ns - int(STOPPED_AFTER_S * 1e9)
        if self._pending.stamps:
            horizon = min(horizon, self._pending.stamps[0] - self.tolerance_ns)
        for timeline in self._images.values():
            timeline.drop_before(horizon)
        self._boxes.drop_before(horizon)
        for timeline in self._maps.values():
            timeline.drop_before(horizon)
        return frames

    def _ego_pose(self, stamp: int) -> np.ndarray | None:
        return self.tf.lookup(self.profile.map_frame, self.profile.base_frame, stamp)

    def _build(self, stamp: int, msg: Any) -> Frame:
        self._last_built = stamp
        ego_to_global = self._ego_pose(stamp)
        if ego_to_global is None:
            self.summary.missing["ego_pose"] += 1
        lidar = self._guarded(self.profile.lidar, stamp, self._lidar, stamp, msg, ego_to_global)
        cameras: dict[str, Camera] = {}
        cabin = None
        for key, topics in self._cameras.items():
            camera = self._guarded(topics.image, stamp, self._camera, key, stamp, ego_to_global)
            if camera is None:
                self.summary.missing[key] += 1
            elif key == CABIN:
                cabin = camera
            else:
                cameras[key] = camera
        if lidar is None:
            self.summary.missing["lidar"] += 1
        boxes = self._guarded(self.profile.boxes or "", stamp, self._ground_truth, stamp)
        bev_map = self._guarded(self.profile.bev_map or "", stamp, self._ground_truth_map, stamp)
        self.summary.frames += 1
        token = hashlib.md5(f"{self.scene}/{stamp}".encode()).hexdigest()
        annotations = Annotations(boxes=boxes, bev_map=bev_map) if boxes is not None or bev_map is not None else None
        return Frame(token, self.scene, stamp // 1000, np.eye(4) if ego_to_global is None else ego_to_global,
                     lidar, cameras, cabin, annotations)

    def _guarded(self, topic: str, stamp: int, build: Callable[..., Any], *args: Any) -> Any:
        """``build(*args)``, or None when the message's values break the data model (counted):
        the last line of defence that keeps one bad message from ending a replay."""
        try:
            return build(*args)
        except (ValueError, TypeError, AttributeError, SensorDataError) as error:
            self.summary.count_unusable("values the data model refuses", f"{topic} for the frame at {stamp} ns: {error}")
            return None

    def _lidar(self, stamp: int, msg: Any, ego_to_global: np.ndarray | None) -> Lidar | None:
        topic = self.profile.lidar
        try:
            cloud = decode_pointcloud2(msg, self.profile.lidar_time_unit)
        except SensorDataError as error:
            self.summary.count_unusable("PointCloud2 does not decode", f"{topic} at {stamp} ns: {error.reason}")
            return None
        if cloud.dropped:
            self.summary.unusable["non-finite points dropped"] += cloud.dropped
            self.summary.examples.setdefault("non-finite points dropped", f"{topic} at {stamp} ns")
        lidar_to_ego = self.tf.lookup(self.profile.base_frame, cloud.frame_id, stamp)
        if lidar_to_ego is None:
            self.summary.count_unusable("no transform to the ego frame",
                                        f"{topic}: {self.profile.base_frame} <- {cloud.frame_id!r} at {stamp} ns")
            return None
        xyz = cloud.xyz @ lidar_to_ego[:3, :3].T + lidar_to_ego[:3, 3]
        points = np.column_stack([xyz, cloud.intensity, cloud.time_offset]).astype(np.float32)
        parts = [points]
        for old_stamp, old_points, old_pose in reversed(self._history):
            if old_pose is None or ego_to_global is None:
                continue
            to_now = invert_transform(ego_to_global) @ old_pose
            moved = old_points.copy()
            moved[:, :3] = old_points[:, :3].astype(np.float64) @ to_now[:3, :3].T + to_now[:3, 3]
            moved[:, 4] += (old_stamp - stamp) * 1e-9
            parts.append(moved)
        if self.sweeps > 1:
            self._history.append((stamp, points, ego_to_global))
        if not np.all(np.isfinite(points)):  # time offsets of a broken time field
            self.summary.count_unusable("non-finite per-point time", f"{topic} at {stamp} ns")
            return None
        return Lidar(np.concatenate(parts), lidar_to_ego, stamp // 1000)

    def _camera(self, key: str, lidar_stamp: int, ego_at_lidar: np.ndarray | None) -> Camera | None:
        topics = self._cameras[key]
        found = self._images[key].nearest(lidar_stamp, self.tolerance_ns)
        if found is None:
            return None
        image_stamp, msg = found
        info = self._infos.get(key)
        if info is None:
            self.summary.count_unusable("no CameraInfo", f"{topics.info} (for {topics.image} at {image_stamp} ns)")
            return None
        try:
            image = decode_any_image(msg, self.image_reduction)
        except SensorDataError as error:
            self.summary.count_unusable("image does not decode", f"{topics.image} at {image_stamp} ns: {error.reason}")
            return None
        try:
            intrinsics = camera_intrinsics(info, image.shape[:2], topics.rectified)
        except SensorDataError as error:
            self.summary.count_unusable("unusable CameraInfo", f"{topics.info}: {error.reason}")
            return None
        frame_id = str(info.header.frame_id or msg.header.frame_id)
        calibration = self.tf.lookup(self.profile.base_frame, frame_id, image_stamp)
        if calibration is None:
            self.summary.count_unusable("no transform to the ego frame",
                                        f"{topics.image}: {self.profile.base_frame} <- {frame_id!r} at {image_stamp} ns")
            return None
        ego_at_camera = self._ego_pose(image_stamp)
        if ego_at_camera is not None and ego_at_lidar is not None:
            cam_to_ego = sensor_to_reference_ego(calibration, ego_at_camera, ego_at_lidar)
        else:
            cam_to_ego = calibration
        name = "CAM_CABIN" if key == CABIN else key
        own_pose = ego_at_camera if image_stamp != lidar_stamp else None
        return Camera(name, image, intrinsics, cam_to_ego, image_stamp // 1000, ego_to_global=own_pose)

    def _ground_truth(self, stamp: int) -> Boxes3D | None:
        if not self.profile.boxes:
            return None
        found = self._boxes.nearest(stamp, self.annotation_tolerance_ns)
        if found is None:
            return None
        box_stamp, msg = found
        boxes, skipped = decode_detection3d_array(msg)
        if skipped:
            self.summary.count_unusable("ground-truth box with an unknown class or bad size", self.profile.boxes, skipped)
        frame_id = str(msg.header.frame_id)
        to_ego = self.tf.lookup(self.profile.base_frame, frame_id, box_stamp)
        if to_ego is None:
            self.summary.count_unusable("no transform to the ego frame", f"{self.profile.boxes}: {frame_id!r}")
            return None
        return boxes if np.allclose(to_ego, np.eye(4)) else boxes.transform(to_ego)

    def _ground_truth_map(self, stamp: int) -> BevMap | None:
        """The BEV map of the OccupancyGrid layers stamped within the annotation tolerance; all
        layers, on one grid, in the ego frame, or none."""
        if not self._maps:
            return None
        found = {layer: timeline.nearest(stamp, self.annotation_tolerance_ns) for layer, timeline in self._maps.items()}
        if all(f is None for f in found.values()):
            return None
        missing = [layer for layer, f in found.items() if f is None]
        if missing:
            self.summary.count_unusable("ground-truth map with missing layers", f"{self.profile.bev_map}: {missing}")
            return None
        layers, grids = [], set()
        for layer in MAP_CLASSES:
            msg = found[layer][1]
            if str(msg.header.frame_id).lstrip("/") != self.profile.base_frame:
                self.summary.count_unusable("ground-truth map not in the ego frame",
                                            f"{self.profile.bev_map}/{layer}: {msg.header.frame_id!r}")
                return None
            values, grid = decode_layer(msg)
            layers.append(values)
            grids.add(grid)
        if len(grids) != 1:
            self.summary.count_unusable("ground-truth map layers on different grids", str(self.profile.bev_map))
            return None
        return BevMap(np.stack(layers), grids.pop())
