"""ROS 2 wire compatibility without ROS: the IDL structs of sensors.ros.idl, filled field by field
and serialized by Cyclone DDS, give the same bytes as rosbags' CDR serializer for the same message
(what rmw_cyclonedds and rmw_fastrtps put on the wire)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("cyclonedds")

from perception.node import outputs as out
from perception.replay.ros_sink import depth_image, marker_array
from sensors.boxes import Boxes3D
from sensors.frame import BevGrid
from sensors.ros.detections import encode_detection3d_array
from sensors.ros.grid import encode_probability_layer
from sensors.ros.idl import dds_topic_name, dds_type_name, from_idl, idl_type, to_idl
from sensors.ros.image import encode_camera_info, encode_compressed_image
from sensors.ros.pointcloud import encode_pointcloud2
from sensors.ros.tf import tf_message, transform_to_msg
from sensors.ros.types import header, typestore

STORE = typestore("humble")


def fill(cls, msg):
    """An IDL struct of class ``cls`` with the values of the rosbags message ``msg``, field by field
    (nested messages: the struct of their ROS type)."""
    values = {}
    for f in dataclasses.fields(cls):
        value = getattr(msg, f.name)
        if hasattr(value, "__msgtype__"):
            values[f.name] = fill(idl_type(value.__msgtype__), value)
        elif isinstance(value, np.ndarray):
            values[f.name] = value.tobytes() if f.type is bytes else value.tolist()
        elif isinstance(value, list) and value and hasattr(value[0], "__msgtype__"):
            values[f.name] = [fill(idl_type(v.__msgtype__), v) for v in value]
        else:
            values[f.name] = value
    return cls(**values)


def boxes() -> Boxes3D:
    return Boxes3D(np.array([[10.0, -2.0, 0.9], [4.5, 3.0, 1.1]]), np.array([[4.6, 1.9, 1.7], [0.7, 0.6, 1.8]]),
                   np.array([0.3, -2.0]), np.array([[2.0, 0.5], [np.nan, np.nan]]), np.array([0, 5]),
                   np.array([0.9, 0.45]))


def messages():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    k = np.array([[100.0, 0, 8], [0, 100.0, 6], [0, 0, 1]])
    yield "sensor_msgs/msg/PointCloud2", encode_pointcloud2(
        STORE, rng.normal(size=(50, 3)), 1_700_000_000_123_456_789, "lidar", intensity=rng.uniform(0, 255, 50),
        time_offset=rng.uniform(0, 0.1, 50))
    yield "sensor_msgs/msg/CompressedImage", encode_compressed_image(STORE, image, 5, "cam")
    yield "sensor_msgs/msg/CameraInfo", encode_camera_info(STORE, k, (12, 16), 5, "cam")
    yield "sensor_msgs/msg/Image", depth_image(STORE, rng.uniform(1, 60, (6, 9)).astype(np.float32), 7, "cam")
    yield "tf2_msgs/msg/TFMessage", tf_message(STORE, [transform_to_msg(STORE, "base_link", "lidar", np.eye(4), 9)])
    yield "vision_msgs/msg/Detection3DArray", encode_detection3d_array(STORE, boxes(), 11, "lidar")
    yield "visualization_msgs/msg/MarkerArray", marker_array(STORE, boxes(), 11, "lidar")
    yield "autoware_perception_msgs/msg/DetectedObjects", out.detected_objects(STORE, boxes(), 11, "lidar")
    yield "nav_msgs/msg/OccupancyGrid", encode_probability_layer(STORE, rng.uniform(0, 1, (5, 4)),
                                                                 BevGrid(-2, 3, -1, 3, 1.0), 11, "base_link")
    state = {"eye_closed_p": 0.2, "eyes_closed": False, "perclos": 0.1, "gaze_zone": "road",
             "gaze_p": {"road": 0.7, "left_mirror": 0.3}, "off_road": False, "head_yaw_deg": 3.0,
             "head_pitch_deg": -1.0, "head_roll_deg": 0.5, "phone_p": 0.6, "active_events": ["microsleep"]}
    yield "perception_msgs/msg/DriverState", out.driver_state(STORE, state, ["short_distraction"], 13, "cabin")
    yield "std_msgs/msg/Float64", out.float64(STORE, 12.5)
    t = STORE.types
    status = t["diagnostic_msgs/msg/DiagnosticStatus"](level=1, name="n: inputs", message="m", hardware_id="h",
                                                       values=[t["diagnostic_msgs/msg/KeyValue"](key="a", value="1")])
    yield "diagnostic_msgs/msg/DiagnosticArray", t["diagnostic_msgs/msg/DiagnosticArray"](
        header=header(STORE, 15, ""), status=[status])


@pytest.mark.parametrize("msgtype, msg", list(messages()), ids=[m for m, _ in messages()])
def test_idl_bytes_equal_rosbags_cdr(msgtype, msg):
    cls = idl_type(msgtype)
    expected = bytes(STORE.serialize_cdr(msg, msgtype))
    assert expected[:4] == b"\x00\x01\x00\x00"  # CDR little-endian encapsulation, as ROS 2 sends
    assert fill(cls, msg).serialize(use_version_2=False) == expected
    # And back: what the node receives over DDS is the message rosbags reads.
    again = from_idl(to_idl(msg, msgtype), msgtype)
    assert bytes(STORE.serialize_cdr(again, msgtype)) == expected


def test_ros2_names_on_the_wire():
    assert idl_type("sensor_msgs/msg/PointCloud2").__idl_typename__ == "sensor_msgs::msg::dds_::PointCloud2_"
    assert dds_type_name("autoware_perception_msgs/msg/DetectedObjects") == \
        "autoware_perception_msgs::msg::dds_::DetectedObjects_"
    assert dds_topic_name("/perception/detections") == "rt/perception/detections"
    with pytest.raises(ValueError, match="absolute"):
        dds_topic_name("perception/detections")
    # Fields in .msg order.
    assert [f.name for f in dataclasses.fields(idl_type("sensor_msgs/msg/PointCloud2"))] == [
        "header", "height", "width", "fields", "is_bigendian", "point_step", "row_step", "data", "is_dense"]
