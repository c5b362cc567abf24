"""A small synthetic drive, written by foreign writers, with every value known in closed form.

The ego moves at constant speed along a straight line while turning at a constant yaw rate
(translation and yaw linear in time, so interpolating /tf is exact). The LiDAR (10 Hz) sees the
same few points in its own frame; each camera (12 Hz, its own phase) sends a tiny image whose
pixels encode its index. Messages are built as plain dicts with ROS 2 field names and converted
to rosbags objects by :func:`to_rosbags` (ROS 1 names where they differ), or given to the
``mcap_ros2`` writer as they are. PointCloud2 bytes are packed field by field with ``struct``.
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image
from scipy.spatial.transform import Rotation

T0_NS = 1_700_000_000_000_000_000
SPEED = np.array([6.0, 0.5, 0.0])  # m/s in the map frame
YAW_RATE = 0.3  # rad/s
LIDAR_HZ, CAMERA_HZ, TF_HZ = 10.0, 12.0, 50.0
IMAGE_HW = (6, 8)
#: LiDAR points in the LiDAR frame, with intensity 0..255 and time offsets (s) in the sweep.
LIDAR_POINTS = np.array([[10.0, 0.0, 0.0], [0.0, 5.0, -1.0], [-3.0, -4.0, 0.5], [1.5, 2.5, 3.5]])
INTENSITY = np.array([0.0, 17.0, 128.0, 255.0])
POINT_TIMES = np.array([0.0, 0.025, 0.05, 0.075])


def rot_z(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rigid(rotation: np.ndarray, translation) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rotation, translation
    return out


def ego_pose(t_ns: int) -> np.ndarray:
    """ego_to_global (4, 4) at an absolute time in nanoseconds."""
    dt = (t_ns - T0_NS) * 1e-9
    return rigid(rot_z(YAW_RATE * dt), SPEED * dt + np.array([100.0, -20.0, 0.0]))


#: Optical axes (x right, y down, z forward) in ego axes for a camera looking along +x.
OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
LIDAR_TO_EGO = rigid(rot_z(-np.pi / 2), [0.9, 0.0, 1.8])
CALIBRATION = {  # camera frame -> ego (base_link)
    "front": rigid(OPTICAL, [1.7, 0.0, 1.5]),
    "back": rigid(rot_z(np.pi) @ OPTICAL, [0.0, 0.0, 1.6]),
}
INTRINSICS = {"front": np.array([[7.0, 0.0, 4.0], [0.0, 7.5, 3.0], [0.0, 0.0, 1.0]]),
              "back": np.array([[5.0, 0.0, 3.5], [0.0, 5.0, 2.5], [0.0, 0.0, 1.0]])}
PHASE_S = {"front": 0.013, "back": 0.047}


def lidar_times(count: int) -> list[int]:
    return [T0_NS + round(i / LIDAR_HZ * 1e9) for i in range(count)]


def camera_times(camera: str, duration_s: float) -> list[int]:
    n = int(duration_s * CAMERA_HZ) + 1
    return [T0_NS + round((PHASE_S[camera] + k / CAMERA_HZ) * 1e9) for k in range(n)]


def camera_image(camera: str, index: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB whose pixels encode the camera and image index."""
    h, w = IMAGE_HW
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 0] = index % 256
    image[..., 1] = 100 if camera == "front" else 200
    image[..., 2] = np.arange(w, dtype=np.uint8)[None, :] * 9
    return image


def png_bytes(image: np.ndarray) -> bytes:
    """PNG bytes written by Pillow (not OpenCV, the library the reader uses)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def stamp(t_ns: int) -> dict:
    return {"sec": t_ns // 1_000_000_000, "nanosec": t_ns % 1_000_000_000}


def header(t_ns: int, frame_id: str) -> dict:
    return {"stamp": stamp(t_ns), "frame_id": frame_id}


def transform_dict(parent: str, child: str, matrix: np.ndarray, t_ns: int) -> dict:
    """A TransformStamped dict; the quaternion comes from scipy (x, y, z, w)."""
    x, y, z = (float(v) for v in matrix[:3, 3])
    qx, qy, qz, qw = (float(v) for v in Rotation.from_matrix(matrix[:3, :3]).as_quat())
    return {"header": header(t_ns, parent), "child_frame_id": child,
            "transform": {"translation": {"x": x, "y": y, "z": z}, "rotation": {"x": qx, "y": qy, "z": qz, "w": qw}}}


@dataclass
class CloudLayout:
    """A PointCloud2 layout: fields (name, offset, datatype, struct code), point_step, endianness,
    and how the drive's values are stored."""

    fields: list[tuple[str, int, int, str]]
    point_step: int
    big_endian: bool = False
    intensity_scale: float = 1.0  # stored = intensity * scale
    time_name: str | None = None
    time_scale: float = 1.0  # stored = (offset [+ stamp if absolute]) * scale
    time_absolute: bool = False
    organized: tuple[int, int] | None = None  # (height, width) with NaN points filling
    row_padding: int = 0
    extra: dict[str, list] = field(default_factory=dict)


#: Velodyne driver (ROS 1): x y z intensity f4, ring u2, time f4 seconds relative; step 22 -> 32.
VELODYNE = CloudLayout([("x", 0, 7, "f"), ("y", 4, 7, "f"), ("z", 8, 7, "f"), ("intensity", 12, 7, "f"),
                        ("ring", 16, 4, "H"), ("time", 18, 7, "f")], 32, time_name="time")
#: Autoware PointXYZIRCAEDT-like: x y z f4, intensity u1, return_type u1, channel u2, ...,
#: time_stamp u4 nanoseconds relative.
AUTOWARE = CloudLayout([("x", 0, 7, "f"), ("y", 4, 7, "f"), ("z", 8, 7, "f"), ("intensity", 12, 2, "B"),
                        ("return_type", 13, 2, "B"), ("channel", 14, 4, "H"), ("azimuth", 16, 7, "f"),
                        ("elevation", 20, 7, "f"), ("distance", 24, 7, "f"), ("time_stamp", 28, 6, "I")], 32,
                       time_name="time_stamp", time_scale=1e9)
#: Big-endian, fields out of order, float64 coordinates, intensity 0..1, absolute float64 time.
BIG_ENDIAN_F64 = CloudLayout([("timestamp", 0, 8, "d"), ("intensity", 8, 7, "f"), ("z", 16, 8, "d"),
                              ("x", 24, 8, "d"), ("y", 32, 8, "d")], 48, big_endian=True, intensity_scale=1 / 255,
                             time_name="timestamp", time_absolute=True)
#: Ouster-like organized cloud (height 2) with NaN holes, t u4 ns, padded rows.
OUSTER = CloudLayout([("x", 0, 7, "f"), ("y", 4, 7, "f"), ("z", 8, 7, "f"), ("intensity", 16, 7, "f"),
                      ("t", 20, 6, "I"), ("reflectivity", 24, 4, "H"), ("ring", 26, 4, "H")], 48,
                     time_name="t", time_scale=1e9, organized=(2, 3), row_padding=8)


def cloud_bytes(layout: CloudLayout, points: np.ndarray, intensity: np.ndarray, times: np.ndarray, t_ns: int
                ) -> tuple[bytes, int, int, int]:
    """(data, height, width, row_step) with every value packed by ``struct`` at its offset."""
    order = ">" if layout.big_endian else "<"
    n = len(points)
    height, width = layout.organized or (1, n)
    slots = height * width
    assert slots >= n
    rows = []
    for r in range(height):
        row = bytearray()
        for c in range(width):
            i = r * width + c
            record = bytearray(layout.point_step)
            valid = i < n
            values = {"x": points[i, 0] if valid else np.nan, "y": points[i, 1] if valid else np.nan,
                      "z": points[i, 2] if valid else np.nan,
                      "intensity": (intensity[i] if valid else 0.0) * layout.intensity_scale}
            if layout.time_name:
                offset = times[i] if valid else 0.0
                values[layout.time_name] = ((t_ns * 1e-9 if layout.time_absolute else 0.0) + offset) * layout.time_scale
            for name, off, _, code in layout.fields:
                value = values.get(name, 7)
                if code in "BHI":
                    value = round(value)
                struct.pack_into(order + code, record, off, value)
            row += record
        row += bytes(layout.row_padding)
        rows.append(bytes(row))
    row_step = width * layout.point_step + layout.row_padding
    return b"".join(rows), height, width, row_step


def pointcloud_dict(layout: CloudLayout, t_ns: int, frame_id: str) -> dict:
    data, height, width, row_step = cloud_bytes(layout, LIDAR_POINTS, INTENSITY, POINT_TIMES, t_ns)
    return {"header": header(t_ns, frame_id), "height": height, "width": width,
            "fields": [{"name": n, "offset": o, "datatype": d, "count": 1} for n, o, d, _ in layout.fields],
            "is_bigendian": layout.big_endian, "point_step": layout.point_step, "row_step": row_step,
            "data": data, "is_dense": layout.organized is None}


def camera_info_dict(camera: str, t_ns: int, frame_id: str) -> dict:
    k = INTRINSICS[camera]
    return {"header": header(t_ns, frame_id), "height": IMAGE_HW[0], "width": IMAGE_HW[1],
            "distortion_model": "plumb_bob", "d": [0.0] * 5, "k": list(k.reshape(-1)), "r": list(np.eye(3).reshape(-1)),
            "p": list(np.hstack([k, np.zeros((3, 1))]).reshape(-1)), "binning_x": 0, "binning_y": 0,
            "roi": {"x_offset": 0, "y_offset": 0, "height": 0, "width": 0, "do_rectify": False}}


def compressed_dict(image: np.ndarray, t_ns: int, frame_id: str) -> dict:
    return {"header": header(t_ns, frame_id), "format": "png", "data": png_bytes(image)}


def raw_bgr_dict(image: np.ndarray, t_ns: int, frame_id: str, padding: int = 4) -> dict:
    h, w, _ = image.shape
    rows = np.zeros((h, w * 3 + padding), np.uint8)
    rows[:, : w * 3] = image[:, :, ::-1].reshape(h, w * 3)
    return {"header": header(t_ns, frame_id), "height": h, "width": w, "encoding": "bgr8", "is_bigendian": 0,
            "step": w * 3 + padding, "data": rows.tobytes()}


def to_rosbags(store: Any, msgtype: str, value: Any) -> Any:
    """A rosbags message object of ``msgtype`` from a dict with ROS 2 field names (ROS 1 stores:
    upper-case CameraInfo matrices, ``seq`` 0)."""
    from rosbags.typesys.base import Nodetype

    _, fields = store.fielddefs[msgtype]
    kwargs = {}
    for name, (node, detail) in fields:
        raw = value.get(name, value.get(name.lower(), 0 if name == "seq" else None))
        kwargs[name] = _convert(store, node, detail, raw, Nodetype)
    return store.types[msgtype](**kwargs)


def _convert(store: Any, node: Any, detail: Any, raw: Any, nodetype: Any) -> Any:
    if node == nodetype.NAME:
        return to_rosbags(store, detail, raw)
    if node in (nodetype.SEQUENCE, nodetype.ARRAY):
        inner, inner_detail = detail[0]
        if inner == nodetype.BASE and inner_detail[0] in ("uint8", "int8", "float64", "float32"):
            dtype = {"uint8": np.uint8, "int8": np.int8, "float64": np.float64, "float32": np.float32}[inner_detail[0]]
            return np.frombuffer(raw, dtype) if isinstance(raw, bytes) else np.asarray(raw, dtype)
        return [_convert(store, inner, inner_detail, item, nodetype) for item in raw]
    return raw


@dataclass
class DriveSpec:
    """What to write: topics, layout, frames, and the faults to inject."""

    lidar_topic: str = "/LIDAR_TOP"
    lidar_frame: str = "lidar"
    layout: CloudLayout = field(default_factory=lambda: VELODYNE)
    cameras: dict[str, tuple[str, str, str]] = field(default_factory=lambda: {
        "front": ("/CAM_FRONT/image_rect_compressed", "/CAM_FRONT/camera_info", "cam_front_optical"),
        "back": ("/CAM_BACK/image_rect_compressed", "/CAM_BACK/camera_info", "cam_back_optical")})
    image_kind: str = "compressed"  # or "bgr8"
    lidar_count: int = 6
    map_frame: str = "map"
    base_frame: str = "base_link"
    static_cameras: tuple[str, ...] = ("front", "back")  # cameras with a /tf_static entry
    info_cameras: tuple[str, ...] = ("front", "back")  # cameras whose CameraInfo is sent
    stop_camera_after_s: dict[str, float] = field(default_factory=dict)
    corrupt_images: set[tuple[str, int]] = field(default_factory=set)  # (camera, index)


def drive_messages(spec: DriveSpec) -> list[tuple[str, str, int, dict]]:
    """(topic, msgtype, log time ns, message dict) of the drive, in log-time order."""
    out: list[tuple[str, str, int, dict]] = []
    lidar = lidar_times(spec.lidar_count)
    end = lidar[-1] + 200_000_000
    statics = [] if spec.lidar_frame == spec.base_frame else [
        transform_dict(spec.base_frame, spec.lidar_frame, LIDAR_TO_EGO, T0_NS)]
    statics += [transform_dict(spec.base_frame, spec.cameras[c][2], CALIBRATION[c], T0_NS) for c in spec.static_cameras]
    out.append(("/tf_static", "tf2_msgs/msg/TFMessage", T0_NS - 1, {"transforms": statics}))
    t = T0_NS - 100_000_000
    while t <= end:
        out.append(("/tf", "tf2_msgs/msg/TFMessage", t, {"transforms": [transform_dict(spec.map_frame, spec.base_frame, ego_pose(t), t)]}))
        t += int(1e9 / TF_HZ)
    for t in lidar:
        out.append((spec.lidar_topic, "sensor_msgs/msg/PointCloud2", t, pointcloud_dict(spec.layout, t, spec.lidar_frame)))
    for camera, (image_topic, info_topic, frame_id) in spec.cameras.items():
        for index, t in enumerate(camera_times(camera, (end - T0_NS) * 1e-9)):
            if t > end or (t - T0_NS) * 1e-9 > spec.stop_camera_after_s.get(camera, np.inf):
                continue
            image = camera_image(camera, index)
            if spec.image_kind == "compressed":
                message, msgtype = compressed_dict(image, t, frame_id), "sensor_msgs/msg/CompressedImage"
                if (camera, index) in spec.corrupt_images:
                    message["data"] = message["data"][: len(message["data"]) // 3]
            else:
                message, msgtype = raw_bgr_dict(image, t, frame_id), "sensor_msgs/msg/Image"
            out.append((image_topic, msgtype, t, message))
            if camera in spec.info_cameras:
                out.append((info_topic, "sensor_msgs/msg/CameraInfo", t, camera_info_dict(camera, t, frame_id)))
    out.sort(key=lambda item: item[2])
    return out


def ros2_store() -> Any:
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_HUMBLE)


def ros1_store() -> Any:
    """rosbags' Noetic store with tf2_msgs/TFMessage registered from its .msg text."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS1_NOETIC)
    store.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms", "tf2_msgs/msg/TFMessage"))
    return store


def write_ros1_bag(path, messages) -> None:
    """A ROS 1 bag through rosbags' ROS 1 writer."""
    from rosbags.rosbag1 import Writer

    store = ros1_store()
    with Writer(path) as writer:
        connections = {}
        for topic, msgtype, t, message in messages:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(connections[topic], t, store.serialize_ros1(to_rosbags(store, msgtype, message), msgtype))


def write_mcap_ros2(path, messages, chunk_size: int = 1024 * 1024) -> None:
    """A single-file MCAP through the mcap_ros2 writer (its own CDR encoder, zstd chunks); the
    definitions are rosbags' ROS 2 Humble ones in the concatenated .msg form."""
    from mcap_ros2.writer import Writer

    store = ros2_store()
    with open(path, "wb") as stream:
        writer = Writer(stream, chunk_size=chunk_size)
        schemas = {}
        for topic, msgtype, t, message in messages:
            if msgtype not in schemas:
                schemas[msgtype] = writer.register_msgdef(msgtype,
                                                          store.generate_msgdef(msgtype, ros_version=2)[0])
            writer.write_message(topic, schemas[msgtype], message, log_time=t, publish_time=t)
        writer.finish()


def write_rosbag2(path, messages, storage: str = "sqlite3", store: Any = None) -> None:
    """A rosbag2 through rosbags' rosbag2 writer."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = store or ros2_store()
    plugin = StoragePlugin.SQLITE3 if storage == "sqlite3" else StoragePlugin.MCAP
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        connections = {}
        for topic, msgtype, t, message in messages:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(connections[topic], t, store.serialize_cdr(to_rosbags(store, msgtype, message), msgtype))


NAMES = {"front": "CAM_FRONT", "back": "CAM_BACK"}


def expected_camera(camera: str, lidar_ns: int, tolerance_s: float = 0.12, stop_after_s: float = np.inf):
    """(index, stamp) of the image nearest to the LiDAR stamp within the tolerance, by brute force."""
    best = None
    for index, t in enumerate(camera_times(camera, 10.0)):
        if (t - lidar_times(1)[0]) * 1e-9 > stop_after_s:
            continue
        gap = abs(t - lidar_ns)
        if gap <= tolerance_s * 1e9 and (best is None or gap <= best[2]):
            best = (index, t, gap)
    return None if best is None else best[:2]


def check_frames(frames, spec: DriveSpec, lidar_to_ego: np.ndarray, raw_names=NAMES, stamps=None) -> None:
    """Every frame against the closed-form drive: LiDAR stamps (all by default), ego pose, points,
    the image each camera should contribute (or its absence) and its placement."""
    stamps = lidar_times(spec.lidar_count) if stamps is None else stamps
    assert [f.timestamp for f in frames] == [t // 1000 for t in stamps]
    for frame, t in zip(frames, stamps):
        np.testing.assert_allclose(frame.ego_to_global, ego_pose(t), atol=1e-9)
        ego_points = LIDAR_POINTS @ lidar_to_ego[:3, :3].T + lidar_to_ego[:3, 3]
        np.testing.assert_allclose(frame.lidar.points[:, :3], ego_points, atol=1e-5)
        np.testing.assert_allclose(frame.lidar.points[:, 3], INTENSITY, atol=1e-4)
        np.testing.assert_allclose(frame.lidar.points[:, 4], POINT_TIMES, atol=1e-6)
        np.testing.assert_allclose(frame.lidar.lidar_to_ego, lidar_to_ego, atol=1e-9)
        for camera, name in raw_names.items():
            found = expected_camera(camera, t, stop_after_s=spec.stop_camera_after_s.get(camera, np.inf))
            if found is None or (camera, found[0]) in spec.corrupt_images:
                assert name not in frame.cameras
                continue
            index, t_cam = found
            cam = frame.cameras[name]
            assert cam.timestamp == t_cam // 1000
            np.testing.assert_array_equal(cam.image, camera_image(camera, index))
            np.testing.assert_allclose(cam.intrinsics, INTRINSICS[camera], atol=1e-12)
            # The camera in the ego frame at the LiDAR time, by the chain written out here.
            chain = np.linalg.inv(ego_pose(t)) @ ego_pose(t_cam) @ CALIBRATION[camera]
            np.testing.assert_allclose(cam.cam_to_ego, chain, atol=1e-6)
