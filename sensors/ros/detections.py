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
from sensors.geometry import quaternion_to_matrix, yaw_to_quaternion
from sensors.ros.types import header


def _class_index(class_id: str) -> int | None:
    name = NUSCENES_CATEGORY_TO_CLASS.get(class_id, class_id)
    if name in DETECTION_CLASSES:
        return DETECTION_CLASSES.index(name)
    if class_id.isdigit() and int(class_id) < len(DETECTION_CLASSES):
        return int(class_id)
    return None


def decode_detections(msg: Any) -> tuple[Boxes3D, int]:
    """Boxes of a ``vision_msgs/Detection3DArray`` in its ``header.frame_id`` frame.

    The best hypothesis of each detection gives class and score.

    Returns:
        (boxes, skipped): the boxes and the number of detections skipped for an unknown class,
        no hypothesis, a non-positive size or a non-finite pose.
    """
    centers, sizes, yaws, labels, scores, tokens = [], [], [], [], [], []
    skipped = 0
    for detection in msg.detections:
        results = list(detection.results)
        if not results:
            skipped += 1
            continue
        best = max(results, key=lambda r: float(r.hypothesis.score))
        label = _class_index(str(best.hypothesis.class_id))
        p, q, s = detection.bbox.center.position, detection.bbox.center.orientation, detection.bbox.size
        center, size = np.array([p.x, p.y, p.z], float), np.array([s.x, s.y, s.z], float)
        quaternion = np.array([q.w, q.x, q.y, q.z], float)
        if label is None or not np.all(np.isfinite(center)) or not np.all(size > 0) or not np.all(np.isfinite(quaternion)) \
                or np.linalg.norm(quaternion) < 1e-9:
            skipped += 1
            continue
        heading = quaternion_to_matrix(quaternion)[:, 0]
        centers.append(center)
        sizes.append(size)
        yaws.append(np.arctan2(heading[1], heading[0]))
        labels.append(label)
        scores.append(float(np.clip(best.hypothesis.score, 0.0, 1.0)))
        tokens.append(str(detection.id))
    if not centers:
        return Boxes3D.empty(), skipped
    n = len(centers)
    return Boxes3D(np.array(centers), np.array(sizes), np.array(yaws), np.full((n, 2), np.nan), np.array(labels),
                   np.array(scores), token=tokens), skipped


def _vector(types: Any, values: np.ndarray) -> Any:
    x, y, z = (float(v) for v in values)
    return types["geometry_msgs/msg/Vector3"](x=x, y=y, z=z)


def encode_detections(store: Typestore, boxes: Boxes3D, stamp_ns: int, frame_id: str) -> Any:
    """A ``vision_msgs/Detection3DArray`` of ``boxes`` (expressed in ``frame_id``)."""
    types = store.types
    header_msg = header(store, stamp_ns, frame_id)
    pose_cls, point_cls, quat_cls = (types[f"geometry_msgs/msg/{n}"] for n in ("Pose", "Point", "Quaternion"))
    detections = []
    tokens = boxes.token or [""] * len(boxes.center)
    for i in range(len(boxes.center)):
        w, x, y, z = yaw_to_quaternion(float(boxes.yaw[i]))
        cx, cy, cz = (float(v) for v in boxes.center[i])
        pose = pose_cls(position=point_cls(x=cx, y=cy, z=cz), orientation=quat_cls(x=x, y=y, z=z, w=w))
        hypothesis = types["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=types["vision_msgs/msg/ObjectHypothesis"](class_id=DETECTION_CLASSES[int(boxes.label[i])],
                                                                 score=float(boxes.score[i])),
            pose=types["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)))
        detections.append(types["vision_msgs/msg/Detection3D"](
            header=header_msg, results=[hypothesis],
            bbox=types["vision_msgs/msg/BoundingBox3D"](center=pose, size=_vector(types, boxes.size[i])),
            id=str(tokens[i])))
    return types["vision_msgs/msg/Detection3DArray"](header=header_msg, detections=detections)
