"""PointCloud2 decoding of layouts packed field by field with struct, and encoding checked by
unpacking the bytes with struct."""
from __future__ import annotations

import struct

import numpy as np
import pytest
from ros_drive import (
    AUTOWARE,
    BIG_ENDIAN_F64,
    INTENSITY,
    LIDAR_POINTS,
    OUSTER,
    POINT_TIMES,
    VELODYNE,
    CloudLayout,
    pointcloud_dict,
    ros1_store,
    ros2_store,
    to_rosbags,
)

from sensors.errors import CorruptDataError, InvalidValueError
from sensors.ros.pointcloud import decode_pointcloud2, encode_pointcloud2, time_offsets
from sensors.ros.types import typestore

T_NS = 1_700_000_123_456_789_012
PC2 = "sensor_msgs/msg/PointCloud2"


def through_cdr(message_dict: dict, ros1: bool = False):
    """The message serialized and deserialized by rosbags (ROS 2 CDR or ROS 1)."""
    store = ros1_store() if ros1 else ros2_store()
    msg = to_rosbags(store, PC2, message_dict)
    if ros1:
        return store.deserialize_ros1(store.serialize_ros1(msg, PC2), PC2)
    return store.deserialize_cdr(store.serialize_cdr(msg, PC2), PC2)


@pytest.mark.parametrize("layout", [VELODYNE, AUTOWARE, BIG_ENDIAN_F64, OUSTER], ids=["velodyne", "autoware",
                                                                                     "bigendian_f64_absolute", "ouster_organized"])
@pytest.mark.parametrize("ros1", [False, True], ids=["ros2", "ros1"])
def test_decode_driver_layouts(layout: CloudLayout, ros1: bool) -> None:
    cloud = decode_pointcloud2(through_cdr(pointcloud_dict(layout, T_NS, "lidar"), ros1))
    np.testing.assert_allclose(cloud.xyz, LIDAR_POINTS, atol=1e-6)
    np.testing.assert_allclose(cloud.intensity, INTENSITY, atol=1e-4)
    # Absolute float64 seconds near 1.7e9 keep ~0.2 us; relative fields are exact to float32.
    np.testing.assert_allclose(cloud.time_offset, POINT_TIMES, atol=1e-6)
    assert cloud.stamp_ns == T_NS and cloud.frame_id == "lidar"
    assert cloud.dropped == (2 if layout.organized else 0)  # 2 x 3 organized cloud, 4 valid points
    assert cloud.time_field == layout.time_name


def test_extra_fields_are_kept_by_name() -> None:
    cloud = decode_pointcloud2(through_cdr(pointcloud_dict(OUSTER, T_NS, "os_lidar")))
    assert set(cloud.extra) == {"reflectivity", "ring"}
    np.testing.assert_array_equal(cloud.extra["ring"], [7, 7, 7, 7])


def _one_field_cloud(name: str, code: str, datatype: int, values, stamp_ns: int = T_NS):
    """x, y, z float32 and one more field, little-endian, packed with struct."""
    size = struct.calcsize("<" + code)
    step = 12 + size
    data = b"".join(struct.pack("<fff" + code, float(i), 0.0, 0.0, v) for i, v in enumerate(values))
    fields = [{"name": n, "offset": 4 * i, "datatype": 7, "count": 1} for i, n in enumerate("xyz")]
    fields.append({"name": name, "offset": 12, "datatype": datatype, "count": 1})
    return through_cdr({"header": {"stamp": {"sec": stamp_ns // 10**9, "nanosec": stamp_ns % 10**9}, "frame_id": "l"},
                        "height": 1, "width": len(values), "fields": fields, "is_bigendian": False,
                        "point_step": step, "row_step": step * len(values), "data": data, "is_dense": True})


@pytest.mark.parametrize("code, datatype, values, expected", [
    ("B", 2, [0, 17, 255], [0, 17, 255]),                 # uint8 as is
    ("H", 4, [0, 300, 65535], [0, 255, 255]),             # uint16 clipped
    ("f", 7, [0.0, 0.5, 1.0], [0.0, 127.5, 255.0]),       # float in [0, 1]: scaled by 255
    ("f", 7, [0.0, 0.5, 3.0], [0.0, 0.5, 3.0]),           # float beyond 1: taken as 0..255
    ("d", 8, [-5.0, 100.0, 1000.0], [0.0, 100.0, 255.0]),  # clipped
])
def test_intensity_rule(code: str, datatype: int, values, expected) -> None:
    cloud = decode_pointcloud2(_one_field_cloud("intensity", code, datatype, values))
    np.testing.assert_allclose(cloud.intensity, expected, atol=1e-4)


def test_missing_intensity_and_time_are_zero() -> None:
    cloud = decode_pointcloud2(_one_field_cloud("ring", "H", 4, [1, 2, 3]))
    np.testing.assert_array_equal(cloud.intensity, 0)
    np.testing.assert_array_equal(cloud.time_offset, 0)
    assert cloud.time_field is None


@pytest.mark.parametrize("name, code, datatype, values, expected", [
    ("t", "I", 6, [0, 50_000_000, 99_000_000], [0.0, 0.05, 0.099]),              # Ouster: relative ns
    ("time", "f", 7, [-0.1, -0.05, 0.0], [-0.1, -0.05, 0.0]),                    # Velodyne: relative s
    ("time_stamp", "I", 6, [0, 1000, 2000], [0.0, 1e-6, 2e-6]),                  # Autoware: relative ns
    ("timestamp", "d", 8, [T_NS * 1e-9, T_NS * 1e-9 + 0.05], [0.0, 0.05]),       # Hesai: absolute s
])
def test_time_rule(name, code, datatype, values, expected) -> None:
    cloud = decode_pointcloud2(_one_field_cloud(name, code, datatype, values))
    np.testing.assert_allclose(cloud.time_offset, expected, atol=2e-7)
    assert cloud.time_field == name


def test_time_unit_override_and_absolute_integer_times() -> None:
    absolute_ns = np.array([T_NS, T_NS + 25_000_000, T_NS - 1_000], np.uint64)  # exact integer arithmetic
    np.testing.assert_allclose(time_offsets(absolute_ns, T_NS, True), [0.0, 0.025, -1e-6], atol=1e-12)
    np.testing.assert_allclose(time_offsets(np.array([0, 1500]), T_NS, True, time_unit="us"), [0.0, 0.0015])
    absolute_us = np.array([T_NS // 1000, T_NS // 1000 + 20_000], np.int64)
    np.testing.assert_allclose(time_offsets(absolute_us, T_NS, True), [-0.000000012, 0.019999988], atol=1e-12)
    with pytest.raises(ValueError, match="time_unit"):
        time_offsets(np.array([1]), T_NS, True, time_unit="minutes")


def test_layout_errors_name_the_field() -> None:
    msg = _one_field_cloud("intensity", "f", 7, [1.0, 2.0])
    msg.fields[3].offset = 14  # reaches past point_step 16
    with pytest.raises(CorruptDataError, match="'intensity'.*past point_step"):
        decode_pointcloud2(msg)
    msg = _one_field_cloud("intensity", "f", 7, [1.0, 2.0])
    msg.data = msg.data[:-3]
    with pytest.raises(CorruptDataError, match="expected height"):
        decode_pointcloud2(msg)
    msg = _one_field_cloud("intensity", "f", 7, [1.0, 2.0])
    msg.fields[3].datatype = 42
    with pytest.raises(CorruptDataError, match="unknown datatype 42"):
        decode_pointcloud2(msg)
    msg = _one_field_cloud("intensity", "f", 7, [1.0, 2.0])
    msg.fields = msg.fields[1:]
    with pytest.raises(InvalidValueError, match="no x field"):
        decode_pointcloud2(msg)


@pytest.mark.parametrize("distro", ["humble", "noetic"])
def test_encode_bytes_unpacked_with_struct(distro: str) -> None:
    store = typestore(distro)
    xyz = np.array([[1.0, 2.0, 3.0], [-4.5, 0.25, 9.0]])
    msg = encode_pointcloud2(store, xyz, T_NS, "lidar", intensity=np.array([12.0, 250.0]),
                             time_offset=np.array([0.0, 0.0421]), time_field="t", time_dtype="u4")
    names = [(f.name, f.offset, f.datatype) for f in msg.fields]
    assert names == [("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("intensity", 12, 7), ("t", 16, 6)]
    assert msg.point_step == 20 and msg.row_step == 40 and msg.height == 1 and msg.width == 2
    rows = [struct.unpack_from("<ffffI", bytes(msg.data), 20 * i) for i in range(2)]
    assert rows[0] == (1.0, 2.0, 3.0, 12.0, 0) and rows[1] == (-4.5, 0.25, 9.0, 250.0, 42_100_000)
    # and back through the decoder, after the store's own serialization
    raw = store.serialize_ros1(msg, PC2) if distro == "noetic" else store.serialize_cdr(msg, PC2)
    back = store.deserialize_ros1(raw, PC2) if distro == "noetic" else store.deserialize_cdr(raw, PC2)
    cloud = decode_pointcloud2(back)
    np.testing.assert_allclose(cloud.xyz, xyz)
    np.testing.assert_allclose(cloud.time_offset, [0.0, 0.0421])


def test_encode_refuses_negative_times_in_unsigned_field() -> None:
    with pytest.raises(ValueError, match="negative time offsets"):
        encode_pointcloud2(typestore(), np.zeros((1, 3)), T_NS, "l", time_offset=np.array([-0.1]), time_dtype="u4")
