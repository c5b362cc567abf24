"""Frames -> a rosbag2 recording (``perception simulate --format rosbag2``), with ``rosbags``.

Topics (the ``sim`` profile, ``configs/replay/sim.yaml``; nuScenes channel names):

* ``/LIDAR_TOP`` ``sensor_msgs/PointCloud2`` in frame ``LIDAR_TOP``: x, y, z, intensity
  (float32, 0..255) and ``time`` (float32 seconds relative to the header stamp); one message per
  sweep, non-key sweeps (``Frame.sweeps``) included, at the sweep's own time.
* ``/CAM_*/image_rect_compressed`` ``sensor_msgs/CompressedImage`` (JPEG or PNG) and
  ``/CAM_*/camera_info`` ``sensor_msgs/CameraInfo`` (rectified pinhole: ``P = [K | 0]``), frame
  ``CAM_*`` (optical: x right, y down, z forward), stamped at each camera's own time; the cabin
  camera as ``/CAM_CABIN/...``.
* ``/tf_static`` (transient local): ``base_link`` -> each sensor frame (the calibration);
  ``/tf``: ``map`` -> ``base_link`` at every sweep and camera time.
* ``/ground_truth/boxes`` ``vision_msgs/Detection3DArray`` in ``base_link`` at the key LiDAR time;
  ``/ground_truth/map/<layer>`` ``nav_msgs/OccupancyGrid`` per BEV map layer, the same.

Log time equals the header stamp; messages are written in time order. The bag is written to a
temporary folder and renamed when complete; ``metadata.yaml`` is written by rosbags' Writer.
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import StoragePlugin, Writer

from sensors.atomic import atomic_dir
from sensors.classes import MAP_CLASSES
from sensors.frame import Camera, Frame
from sensors.geometry import invert_transform, sensor_to_reference_ego
from sensors.ros.detections import encode_detection3d_array
from sensors.ros.grid import encode_layer
from sensors.ros.image import encode_camera_info, encode_compressed_image
from sensors.ros.pointcloud import encode_pointcloud2
from sensors.ros.tf import StampedTransform, TfBuffer, tf_message, transform_to_msg
from sensors.ros.types import typestore

LIDAR_TOPIC, LIDAR_FRAME = "/LIDAR_TOP", "LIDAR_TOP"
TF_TOPIC, TF_STATIC_TOPIC = "/tf", "/tf_static"
BOXES_TOPIC = "/ground_truth/boxes"
MAP_TOPIC = "/ground_truth/map"
MAP_FRAME, BASE_FRAME = "map", "base_link"
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}

_ZERO = QosTime(0, 0)
#: /tf_static is latched (transient local), as tf2's static broadcaster offers it.
STATIC_QOS = Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, _ZERO, _ZERO,
                 QosLiveliness.AUTOMATIC, _ZERO, False)


def image_topic(camera: str) -> str:
    return f"/{camera}/image_rect_compressed"


def info_topic(camera: str) -> str:
    return f"/{camera}/camera_info"


class _PoseTrack:
    """Ego poses known to the writer (frames and sweeps) for cameras fired at other times."""

    def __init__(self) -> None:
        self.buffer = TfBuffer(cache_s=1e9, max_gap_s=1e9)

    def add(self, stamp_ns: int, pose: np.ndarray) -> None:
        self.buffer.add(StampedTransform(MAP_FRAME, BASE_FRAME, stamp_ns, pose), static=False)

    def at(self, stamp_ns: int) -> np.ndarray | None:
        return self.buffer.lookup(MAP_FRAME, BASE_FRAME, stamp_ns)


def write_rosbag2(frames: Iterable[Frame], out: str | Path, *, storage: str = "mcap", image_format: str = "jpeg",
                  distro: str = "humble") -> Path:
    """Write frames (e.g. a simulated drive) as a rosbag2 (topics in the module docstring).

    Args:
        frames: frames in time order, each with LiDAR; cameras, cabin and boxes when present.
        out: the bag folder to create; replaced if it already is a rosbag2 folder.
        storage: ``mcap`` or ``sqlite3``.
        image_format: ``jpeg`` or ``png`` (lossless) for the camera images.
        distro: ``humble`` or ``jazzy``: whose message definitions to store.

    A camera's ego pose at its own time is ``Camera.ego_to_global`` (the simulator sets it);
    without one it is interpolated between the poses of the frames and sweeps (the frame's pose
    outside them).

    Returns:
        ``out``.

    Raises:
        ValueError: an unknown storage, image format or distribution; a frame without LiDAR.
        FileExistsError: ``out`` exists and is not a rosbag2 folder.
    """
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {tuple(STORAGES)}, got {storage!r}")
    if image_format not in ("jpeg", "png"):
        raise ValueError(f"image_format must be jpeg or png, got {image_format!r}")
    out = Path(out)
    check_replaceable(out)
    store = typestore(distro)
    with atomic_dir(out) as bag, Writer(bag, version=Writer.VERSION_LATEST, storage_plugin=STORAGES[storage]) as writer:
        _write(writer, store, frames, image_format)
    return out


def check_replaceable(out: Path) -> None:
    """Refuse to write a rosbag2 over ``out`` unless it is missing, an empty folder or a rosbag2 folder.

    Raises:
        FileExistsError: ``out`` holds something else (one line naming it).
    """
    if out.exists() and not (out.is_dir() and ((out / "metadata.yaml").exists() or not any(out.iterdir()))):
        raise FileExistsError(f"{out}: exists and is not a rosbag2 folder; refusing to replace it")


def _capture_pose(camera: Camera, frame: Frame, poses: _PoseTrack) -> np.ndarray:
    """Ego pose at the camera's capture time: its own, or interpolated; the frame's when the
    camera fired at the frame's time or nothing better is known."""
    if camera.ego_to_global is not None:
        return camera.ego_to_global
    if camera.timestamp == frame.timestamp:
        return frame.ego_to_global
    pose = poses.at(camera.timestamp * 1000)
    return frame.ego_to_global if pose is None else pose


def _write(writer: Writer, store: Any, frames: Iterable[Frame], image_format: str) -> None:
    connections: dict[str, Any] = {}
    order = itertools.count()
    queue: list[tuple[int, int, str, Any]] = []  # (stamp ns, tie-break, topic, message)

    def emit(topic: str, msgtype: str, stamp_ns: int, msg: Any, static: bool = False) -> None:
        if topic not in connections:
            connections[topic] = writer.add_connection(topic, msgtype, typestore=store,
                                                       offered_qos_profiles=[STATIC_QOS] if static else [])
        heapq.heappush(queue, (stamp_ns, next(order), topic, msg))

    def drain(before_ns: int | None) -> None:
        while queue and (before_ns is None or queue[0][0] < before_ns):
            stamp, _, topic, msg = heapq.heappop(queue)
            writer.write(connections[topic], stamp, store.serialize_cdr(msg, msg.__msgtype__))

    poses = _PoseTrack()
    static_done = False
    for frame in frames:
        if frame.lidar is None:
            raise ValueError(f"frame {frame.token}: no LiDAR; a drive needs a LiDAR per frame")
        sweeps = [(s.timestamp * 1000, s.points, s.ego_to_global) for s in frame.sweeps]
        sweeps.append((frame.timestamp * 1000, frame.lidar.points, frame.ego_to_global))
        drain(min(s[0] for s in sweeps))
        for stamp, _, pose in sweeps:
            poses.add(stamp, pose)
        cameras = [*frame.cameras.values(), *([frame.cabin] if frame.cabin is not None else [])]

        # cam_to_ego is in the ego frame at the LiDAR time; /tf_static holds the mounting in the ego
        # frame at the camera's own time: the same motion compensation towards the camera's pose.
        calibrations = {c.name: sensor_to_reference_ego(c.cam_to_ego, frame.ego_to_global, _capture_pose(c, frame, poses))
                        for c in cameras}
        if not static_done:
            # the first message of the bag, as a recorder subscribed to the transient-local topic logs
            # it: a replay must have the calibration before the first sweep (which precedes the keyframe)
            stamp = min([s[0] for s in sweeps] + [c.timestamp * 1000 for c in cameras])
            statics = [transform_to_msg(store, BASE_FRAME, LIDAR_FRAME, frame.lidar.lidar_to_ego, stamp)]
            statics += [transform_to_msg(store, BASE_FRAME, name, calibration, stamp) for name, calibration in calibrations.items()]
            emit(TF_STATIC_TOPIC, "tf2_msgs/msg/TFMessage", stamp, tf_message(store, statics), static=True)
            static_done = True
        ego_to_lidar = invert_transform(frame.lidar.lidar_to_ego)
        for stamp, points, pose in sweeps:
            emit(TF_TOPIC, "tf2_msgs/msg/TFMessage", stamp,
                 tf_message(store, [transform_to_msg(store, MAP_FRAME, BASE_FRAME, pose, stamp)]))
            xyz = points[:, :3].astype(np.float64) @ ego_to_lidar[:3, :3].T + ego_to_lidar[:3, 3]
            emit(LIDAR_TOPIC, "sensor_msgs/msg/PointCloud2", stamp, encode_pointcloud2(
                store, xyz, stamp, LIDAR_FRAME, intensity=points[:, 3], time_offset=points[:, 4],
                time_field="time", time_dtype="f4"))
        for camera in cameras:
            stamp = camera.timestamp * 1000
            if camera.timestamp != frame.timestamp:
                emit(TF_TOPIC, "tf2_msgs/msg/TFMessage", stamp,
                     tf_message(store, [transform_to_msg(store, MAP_FRAME, BASE_FRAME,
                                                        _capture_pose(camera, frame, poses), stamp)]))
            emit(image_topic(camera.name), "sensor_msgs/msg/CompressedImage", stamp,
                 encode_compressed_image(store, camera.image, stamp, camera.name, image_format))
            emit(info_topic(camera.name), "sensor_msgs/msg/CameraInfo", stamp,
                 encode_camera_info(store, camera.intrinsics, camera.image.shape[:2], stamp, camera.name))
        if frame.annotations is not None and frame.annotations.boxes is not None:
            stamp = frame.timestamp * 1000
            emit(BOXES_TOPIC, "vision_msgs/msg/Detection3DArray", stamp,
                 encode_detection3d_array(store, frame.annotations.boxes, stamp, BASE_FRAME))
        if frame.annotations is not None and frame.annotations.bev_map is not None:
            stamp = frame.timestamp * 1000
            bev = frame.annotations.bev_map
            for layer, values in zip(MAP_CLASSES, bev.layers):
                emit(f"{MAP_TOPIC}/{layer}", "nav_msgs/msg/OccupancyGrid", stamp,
                     encode_layer(store, values, bev.grid, stamp, BASE_FRAME))
    drain(None)
