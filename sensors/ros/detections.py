"""``vision_msgs/Detection3DArray`` <-> :class:`sensors.boxes.Boxes3D`.

One ``Detection3D`` per box: ``bbox.center`` is the centre of volume with the yaw quaternion,
``bbox.size`` is (length, width, height) (x, y, z extent in the box frame, as the data model),
one hypothesis whose ``class_id`` is the detection class name and ``score`` the box score, and
``id`` the box token (track or instance id). vision_msgs has no velocity: decoded boxes have NaN
velocity. A ``class_id`` is read as a detection class name, a nuScenes category name or a class
index; other classes are skipped and counted.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from rosbags.typesys.store import Typestore

from sensors.boxes import Boxes3D
from sensors.classes import DETECTION_CLASSES, NUSCENES_CATEGORY_TO_CLASS
from sensors.geometry import quaternion_to_yaw
from sensors.ros.types import box_pose, header


def _class_index(class_id: str) -> int | None:
    name = NUSCENES_CATEGORY_TO_CLASS.get(class_id, class_id)
    if name in DETECTION_CLASSES:
        return DETECTION_CLASSES.index(name)
    if class_id.isdigit() and int(class_id) < len(DETECTION_CLASSES):
        return int(class_id)
    return None


def decode_detection3d_array(msg: Any) -> tuple[Boxes3D, int]:
    """Boxes of a ``vision_msgs/Detection3DArray`` in its ``header.frame_id`` frame.

    The best hypothesis of each detection gives class and score; yaw is the heading of the box's
    x axis projected on the ground plane.

    Returns:
        (boxes, skipped): the boxes and the number of detections skipped for an unknown class,
        no hypothesis, a non-positive size or a non-finite or zero pose.
    """
    rows, labels, scores, tokens = [], [], [], []
    skipped = 0
    for detection in msg.detections:
        results = list(detection.results)
        label = None
        if results:
            best = max(results, key=lambda r: float(r.hypothesis.score))
            label = _class_index(str(best.hypothesis.class_id))
        if label is None:
            skipped += 1
            continue
        p, q, s = detection.bbox.center.position, detection.bbox.center.orientation, detection.bbox.size
        rows.append((p.x, p.y, p.z, s.x, s.y, s.z, q.w, q.x, q.y, q.z))
        labels.append(label)
        scores.append(float(best.hypothesis.score))
        tokens.append(str(detection.id))
    if not rows:
        return Boxes3D.empty(), skipped
    values = np.array(rows, dtype=np.float64)
    center, size, quaternion = values[:, :3], values[:, 3:6], values[:, 6:]
    norm = np.linalg.norm(quaternion, axis=1)
    good = np.all(np.isfinite(values), axis=1) & np.all(size > 0, axis=1) & (norm > 1e-9)
    skipped += int((~good).sum())
    n = int(good.sum())
    if n == 0:
        return Boxes3D.empty(), skipped
    yaw = np.asarray(quaternion_to_yaw(quaternion[good])).reshape(n)
    return Boxes3D(center[good], size[good], yaw, np.full((n, 2), np.nan), np.array(labels)[good],
                   np.clip(np.array(scores)[good], 0.0, 1.0), token=[t for t, g in zip(tokens, good) if g]), skipped


def _vector(types: Any, values: np.ndarray) -> Any:
    x, y, z = (float(v) for v in values)
    return types["geometry_msgs/msg/Vector3"](x=x, y=y, z=z)


def encode_detection3d_array(store: Typestore, boxes: Boxes3D, stamp_ns: int, frame_id: str) -> Any:
    """A ``vision_msgs/Detection3DArray`` of ``boxes`` (expressed in ``frame_id``)."""
    types = store.types
    header_msg = header(store, stamp_ns, frame_id)
    detections = []
    tokens = boxes.token or [""] * len(boxes.center)
    for i in range(len(boxes.center)):
        pose = box_pose(store, boxes.center[i], float(boxes.yaw[i]))
        hypothesis = types["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=types["vision_msgs/msg/ObjectHypothesis"](class_id=DETECTION_CLASSES[int(boxes.label[i])],
                                                                 score=float(boxes.score[i])),
            pose=types["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)))
        detections.append(types["vision_msgs/msg/Detection3D"](
            header=header_msg, results=[hypothesis],
            bbox=types["vision_msgs/msg/BoundingBox3D"](center=pose, size=_vector(types, boxes.size[i])),
            id=str(tokens[i])))
    return types["vision_msgs/msg/Detection3DArray"](header=header_msg, detections=detections)
