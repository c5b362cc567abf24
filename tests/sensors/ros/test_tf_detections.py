"""TF buffer and Detection3DArray conversions against values computed in the test."""
from __future__ import annotations

import numpy as np
import pytest
from ros_drive import ros2_store, to_rosbags, transform_dict
from scipy.spatial.transform import Rotation

from sensors.boxes import Boxes3D
from sensors.ros.detections import decode_detection3d_array, encode_detection3d_array
from sensors.ros.tf import (
    StampedTransform,
    TfBuffer,
    transform_from_msg,
    transform_to_msg,
)
from sensors.ros.types import typestore


def rigid(yaw: float, translation) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = Rotation.from_euler("z", yaw).as_matrix()
    out[:3, 3] = translation
    return out


def test_transform_message_round_trip_and_direction() -> None:
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_euler("xyz", [0.1, -0.4, 2.0]).as_matrix()
    matrix[:3, 3] = [1.0, -2.0, 3.5]
    parsed = transform_from_msg(to_rosbags(ros2_store(), "geometry_msgs/msg/TransformStamped",
                                           transform_dict("base_link", "cam", matrix, 42)))
    assert (parsed.parent, parsed.child, parsed.stamp_ns) == ("base_link", "cam", 42)
    np.testing.assert_allclose(parsed.matrix, matrix, atol=1e-12)
    back = transform_from_msg(transform_to_msg(typestore(), "base_link", "cam", matrix, 42))
    np.testing.assert_allclose(back.matrix, matrix, atol=1e-12)


def test_static_chain_and_inverse_lookup() -> None:
    tf = TfBuffer()
    a, b = rigid(0.5, [1, 2, 0]), rigid(-1.0, [0, 0, 1.5])
    tf.add(StampedTransform("base_link", "lidar_mount", 0, a), static=True)
    tf.add(StampedTransform("lidar_mount", "lidar", 0, b), static=True)
    np.testing.assert_allclose(tf.lookup("base_link", "lidar", 123), a @ b, atol=1e-12)
    np.testing.assert_allclose(tf.lookup("lidar", "base_link", 123), np.linalg.inv(a @ b), atol=1e-12)
    assert tf.lookup("base_link", "unknown_frame", 0) is None
    np.testing.assert_allclose(tf.lookup("/base_link", "lidar", 0), a @ b, atol=1e-12)  # ROS 1 leading slash


def test_dynamic_interpolation_is_exact_for_linear_motion_and_never_extrapolates() -> None:
    tf = TfBuffer(max_gap_s=1.0)
    t0, t1 = 1_000_000_000, 1_100_000_000
    tf.add(StampedTransform("map", "base_link", t1, rigid(0.4, [11.0, 2.0, 0.0])), static=False)
    tf.add(StampedTransform("map", "base_link", t0, rigid(0.0, [10.0, 0.0, 0.0])), static=False)  # out of order
    np.testing.assert_allclose(tf.lookup("map", "base_link", t0 + 25_000_000), rigid(0.1, [10.25, 0.5, 0.0]), atol=1e-12)
    np.testing.assert_allclose(tf.lookup("map", "base_link", t1), rigid(0.4, [11.0, 2.0, 0.0]), atol=1e-12)
    assert tf.lookup("map", "base_link", t1 + 1) is None and tf.lookup("map", "base_link", t0 - 1) is None
    # samples further apart than max_gap_s are not interpolated
    tf.add(StampedTransform("map", "base_link", t1 + 3_000_000_000, rigid(0.0, [0, 0, 0])), static=False)
    assert tf.lookup("map", "base_link", t1 + 1_000_000_000) is None


def test_bad_transforms_are_counted_not_raised() -> None:
    store = ros2_store()
    good = transform_dict("map", "base_link", np.eye(4), 5)
    zero = transform_dict("map", "base_link", np.eye(4), 6)
    zero["transform"]["rotation"] = {"x": 0.0, "y": 0.0, "z": 0.0, "w": 0.0}
    loop = transform_dict("base_link", "base_link", np.eye(4), 7)
    message = to_rosbags(store, "tf2_msgs/msg/TFMessage", {"transforms": [good, zero, loop]})
    tf = TfBuffer()
    assert tf.add_message(message, static=False) == 2
    np.testing.assert_array_equal(tf.lookup("map", "base_link", 5), np.eye(4))


def detection(class_id: str, score: float, center, yaw: float, size, ident: str) -> dict:
    qx, qy, qz, qw = Rotation.from_euler("z", yaw).as_quat()
    pose = {"position": dict(zip("xyz", center)), "orientation": {"x": qx, "y": qy, "z": qz, "w": qw}}
    return {"header": {"stamp": {"sec": 0, "nanosec": 0}, "frame_id": "base_link"},
            "results": [{"hypothesis": {"class_id": class_id, "score": score},
                         "pose": {"pose": pose, "covariance": np.zeros(36)}}],
            "bbox": {"center": pose, "size": dict(zip("xyz", size))}, "id": ident}


def test_detections_from_a_foreign_message() -> None:
    store = typestore()
    message = to_rosbags(store, "vision_msgs/msg/Detection3DArray", {
        "header": {"stamp": {"sec": 0, "nanosec": 0}, "frame_id": "base_link"},
        "detections": [detection("car", 0.9, [10, 2, 0.8], 0.3, [4.5, 1.9, 1.6], "a"),
                       detection("human.pedestrian.adult", 0.7, [5, -3, 0.9], -2.0, [0.7, 0.6, 1.8], "b"),
                       detection("unicorn", 0.5, [0, 0, 0], 0.0, [1, 1, 1], "c"),
                       detection("truck", 0.5, [0, 0, 0], 0.0, [0, 1, 1], "d")]})
    boxes, skipped = decode_detection3d_array(message)
    assert skipped == 2 and boxes.token == ["a", "b"]
    np.testing.assert_allclose(boxes.center, [[10, 2, 0.8], [5, -3, 0.9]])
    np.testing.assert_allclose(boxes.size, [[4.5, 1.9, 1.6], [0.7, 0.6, 1.8]])
    np.testing.assert_allclose(boxes.yaw, [0.3, -2.0], atol=1e-12)
    np.testing.assert_array_equal(boxes.label, [0, 5])  # car, pedestrian
    np.testing.assert_allclose(boxes.score, [0.9, 0.7])
    assert np.isnan(boxes.velocity).all()


@pytest.mark.parametrize("distro", ["humble", "jazzy"])
def test_detections_round_trip_through_cdr(distro: str) -> None:
    store = typestore(distro)
    boxes = Boxes3D(np.array([[1.0, 2.0, 0.5], [-8.0, 3.0, 1.0]]), np.array([[4.0, 2.0, 1.5], [0.5, 0.5, 1.0]]),
                    np.array([3.0, -0.5]), label=np.array([1, 8]), score=np.array([0.25, 1.0]), token=["x", "y"])
    msg = encode_detection3d_array(store, boxes, 99, "base_link")
    msg = store.deserialize_cdr(store.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)
    back, skipped = decode_detection3d_array(msg)
    assert skipped == 0 and back.token == ["x", "y"] and msg.header.frame_id == "base_link"
    np.testing.assert_allclose(back.center, boxes.center)
    np.testing.assert_allclose(back.size, boxes.size)
    np.testing.assert_allclose(back.yaw, boxes.yaw, atol=1e-12)
    np.testing.assert_array_equal(back.label, boxes.label)
    np.testing.assert_allclose(back.score, boxes.score)
