"""Replay predictions as ROS 2 messages in a rosbag2 (``--ros-out``), for users who replay into ROS tools.

Topics (:data:`ROS_TOPICS`), all stamped with the recorded sensor time:

* ``/perception/detections``: ``vision_msgs/msg/Detection3DArray`` in ``base_link`` (the LiDAR time),
  encoded by :func:`sensors.ros.detections.encode_detection3d_array` (the ground-truth convention of the
  simulated bags: centre of volume, size = length, width, height, class name and score);
* ``/perception/markers``: ``visualization_msgs/msg/MarkerArray``: a ``DELETEALL`` marker, then per
  box a ``CUBE`` (class colour, alpha 0.5) and a ``TEXT_VIEW_FACING`` label (class, score, index);
* ``/perception/<camera>/depth``: ``sensor_msgs/msg/Image``, encoding ``32FC1``, metres along the
  optical axis at the model's input size, in the camera's frame at the camera's time.

Written with ``rosbags`` (MCAP storage, ROS 2 Humble types with ``vision_msgs`` registered by
:func:`sensors.ros.types.typestore`) into a temporary folder renamed to the target when complete.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys.store import Typestore

from perception.model.prediction import Prediction
from perception.replay.messages import EGO_FRAME, box_label, class_color
from sensors.atomic import atomic_dir
from sensors.boxes import Boxes3D
from sensors.frame import Frame
from sensors.ros.detections import encode_detection3d_array
from sensors.ros.types import box_pose, header, typestore
from sensors.ros.writer import check_replaceable

ROS_TOPICS: dict[str, str] = {
    "detections": "/perception/detections",
    "markers": "/perception/markers",
    "depth": "/perception/{camera}/depth",
}
_MSGTYPES = {"detections": "vision_msgs/msg/Detection3DArray", "markers": "visualization_msgs/msg/MarkerArray",
             "depth": "sensor_msgs/msg/Image"}


class RosBagSink:
    """Writes each frame's predictions into an open ``rosbags`` rosbag2 writer (see the module doc)."""

    def __init__(self, writer: Writer, distro: str = "humble") -> None:
        self.writer = writer
        self.store = typestore(distro)
        self._connections: dict[str, Any] = {}

    def _write(self, kind: str, msg: Any, stamp_ns: int, camera: str = "") -> None:
        topic = ROS_TOPICS[kind].format(camera=camera)
        if topic not in self._connections:
            self._connections[topic] = self.writer.add_connection(topic, _MSGTYPES[kind], typestore=self.store)
        self.writer.write(self._connections[topic], stamp_ns, self.store.serialize_cdr(msg, _MSGTYPES[kind]))

    def write(self, frame: Frame, prediction: Prediction) -> None:
        """Detections and markers of ``prediction.boxes`` at the LiDAR time, depth per camera."""
        t = frame.timestamp * 1000
        if prediction.boxes is not None:
            self._write("detections", encode_detection3d_array(self.store, prediction.boxes, t, EGO_FRAME), t)
            self._write("markers", self.markers(prediction.boxes, t), t)
        for name, depth in (prediction.depth or {}).items():
            camera = frame.cameras.get(name)
            if camera is not None:
                stamp_ns = camera.timestamp * 1000
                self._write("depth", self.depth_image(depth, stamp_ns, name), stamp_ns, name)

    def markers(self, boxes: Boxes3D, stamp_ns: int) -> Any:
        """``visualization_msgs/msg/MarkerArray`` of ``boxes`` (ego frame) at ``stamp_ns``."""
        return marker_array(self.store, boxes, stamp_ns, EGO_FRAME)

    def depth_image(self, depth: np.ndarray, stamp_ns: int, frame_id: str) -> Any:
        """``sensor_msgs/msg/Image`` ``32FC1`` of an (H, W) depth map in metres (:func:`depth_image`)."""
        return depth_image(self.store, depth, stamp_ns, frame_id)


def marker_array(store: Typestore, boxes: Boxes3D, stamp_ns: int, frame_id: str) -> Any:
    """``visualization_msgs/msg/MarkerArray`` of ``boxes`` (expressed in ``frame_id``) at ``stamp_ns``:
    a ``DELETEALL`` marker, then per box a ``CUBE`` (class colour, alpha 0.5) and a
    ``TEXT_VIEW_FACING`` label (class, score, index) 0.5 m above it."""
    types = store.types
    marker_cls = types["visualization_msgs/msg/Marker"]
    head = header(store, stamp_ns, frame_id)
    markers = [_marker(store, head, "detections", 0, marker_cls.DELETEALL, marker_cls.DELETEALL, np.zeros(3), 0.0,
                       np.zeros(3), (0, 0, 0), "")]
    for i in range(len(boxes)):
        rgb = class_color(boxes.label[i])
        markers.append(_marker(store, head, "detections", i, marker_cls.CUBE, marker_cls.ADD, boxes.center[i],
                               float(boxes.yaw[i]), boxes.size[i], rgb, "", alpha=0.5))
        above = boxes.center[i] + np.array([0.0, 0.0, boxes.size[i, 2] / 2 + 0.5])
        markers.append(_marker(store, head, "labels", i, marker_cls.TEXT_VIEW_FACING, marker_cls.ADD, above, 0.0,
                               np.array([0.0, 0.0, 0.8]), rgb, box_label(boxes, i)))
    return types["visualization_msgs/msg/MarkerArray"](markers=markers)


def _marker(store: Typestore, head: Any, ns: str, index: int, kind: int, action: int, center: np.ndarray, yaw: float,
            scale: np.ndarray, rgb: tuple[int, int, int], text: str, alpha: float = 1.0) -> Any:
    t = store.types
    return t["visualization_msgs/msg/Marker"](
        header=head, ns=ns, id=int(index), type=int(kind), action=int(action), pose=box_pose(store, center, yaw),
        scale=t["geometry_msgs/msg/Vector3"](x=float(scale[0]), y=float(scale[1]), z=float(scale[2])),
        color=t["std_msgs/msg/ColorRGBA"](r=rgb[0] / 255.0, g=rgb[1] / 255.0, b=rgb[2] / 255.0, a=float(alpha)),
        lifetime=t["builtin_interfaces/msg/Duration"](sec=0, nanosec=0), frame_locked=False, points=[], colors=[],
        texture_resource="", texture=t["sensor_msgs/msg/CompressedImage"](
            header=head, format="", data=np.zeros(0, np.uint8)),
        uv_coordinates=[], text=text, mesh_resource="",
        mesh_file=t["visualization_msgs/msg/MeshFile"](filename="", data=np.zeros(0, np.uint8)),
        mesh_use_embedded_materials=False)


def depth_image(store: Typestore, depth: np.ndarray, stamp_ns: int, frame_id: str) -> Any:
    """``sensor_msgs/msg/Image`` ``32FC1`` (little-endian) of an (H, W) depth map in metres."""
    d = np.ascontiguousarray(depth, dtype="<f4")
    h, w = d.shape
    return store.types["sensor_msgs/msg/Image"](
        header=header(store, stamp_ns, frame_id), height=h, width=w, encoding="32FC1", is_bigendian=0,
        step=4 * w, data=d.view(np.uint8).reshape(-1))


@contextmanager
def ros_bag_output(path: Path) -> Iterator[RosBagSink]:
    """A :class:`RosBagSink` writing a rosbag2 (MCAP storage) that appears at ``path`` only when the
    ``with`` block ends normally (it replaces an earlier bag there); on an exception nothing is left.

    Raises:
        FileExistsError: ``path`` holds something that is not a rosbag2 (it is left alone).
    """
    check_replaceable(Path(path))
    with atomic_dir(path) as bag, Writer(bag, version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin.MCAP) as writer:
        yield RosBagSink(writer)
