"""``sensor_msgs/PointCloud2`` <-> numpy, for the layouts real LiDAR drivers publish.

Decoding reads the fields by name through a numpy structured dtype built from the message's
``fields`` (any order, any offsets, padding, ``point_step`` larger than the fields,
``row_step`` larger than ``width * point_step``, big- or little-endian, every ``PointField``
datatype). Points whose x, y or z is not finite (the NaN holes of organized clouds,
``is_dense: false``) are dropped.

Intensity (the data model stores 0..255, as nuScenes): the first field named ``intensity``,
``i`` or ``reflectivity``. An 8-bit integer field is taken as is; a floating-point field whose
values all lie in [0, 1] is scaled by 255 (drivers that normalise); anything else is clipped
to [0, 255]. No such field: 0.

Per-point time: the first field named ``t``, ``time``, ``timestamp``, ``time_stamp`` or
``time_offset``. Converted to seconds relative to the header stamp by this rule:

1. Absolute: if the median value, read as seconds, microseconds or nanoseconds since the epoch,
   lies within :data:`ABSOLUTE_WINDOW_S` of the header stamp, it is that (Hesai, Livox).
2. Otherwise relative to the header stamp: integer fields in nanoseconds (Ouster ``t``,
   Autoware ``time_stamp``), floating-point fields in seconds (Velodyne ``time``).

``time_unit`` overrides rule 2 for drivers that differ. No time field: offsets are 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rosbags.typesys.store import Typestore

from sensors.errors import CorruptDataError, InvalidValueError
from sensors.ros.types import header, stamp_to_ns

#: PointField datatype constant -> numpy type character (sensor_msgs/PointField).
POINTFIELD_TYPES: dict[int, str] = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}
#: numpy dtype -> PointField datatype constant.
NUMPY_TO_POINTFIELD: dict[np.dtype, int] = {np.dtype(v): k for k, v in POINTFIELD_TYPES.items()}
INTENSITY_FIELDS = ("intensity", "i", "reflectivity")
TIME_FIELDS = ("t", "time", "timestamp", "time_stamp", "time_offset")
#: A time field is absolute when it lies this close (seconds) to the header stamp.
ABSOLUTE_WINDOW_S = 10.0
TIME_UNITS: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


@dataclass
class CloudPoints:
    """A decoded point cloud in its sensor frame.

    Attributes:
        xyz: (N, 3) float64 metres in the ``frame_id`` frame.
        intensity: (N,) float32 in 0..255.
        time_offset: (N,) float64 seconds relative to ``stamp_ns`` (0 without a time field).
        stamp_ns: header stamp, nanoseconds since the epoch.
        frame_id: the header's frame.
        extra: other numeric fields by name, (N,) or (N, count) (e.g. ``ring``).
        dropped: points dropped because x, y or z was not finite.
        time_field: name of the field the offsets came from, or None.
    """

    xyz: np.ndarray
    intensity: np.ndarray
    time_offset: np.ndarray
    stamp_ns: int
    frame_id: str
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    dropped: int = 0
    time_field: str | None = None

    def __len__(self) -> int:
        return len(self.xyz)


def cloud_dtype(fields: Any, point_step: int, big_endian: bool) -> np.dtype:
    """Structured numpy dtype (itemsize ``point_step``) of a PointCloud2's ``fields``.

    Raises:
        CorruptDataError: an unknown datatype or a field reaching past ``point_step``.
    """
    order = ">" if big_endian else "<"
    names, formats, offsets = [], [], []
    for f in fields:
        if f.datatype not in POINTFIELD_TYPES:
            raise CorruptDataError(None, f"PointCloud2 field {f.name!r}: unknown datatype {f.datatype}")
        base = np.dtype(order + POINTFIELD_TYPES[f.datatype])
        count = max(int(f.count), 1)
        if f.offset + base.itemsize * count > point_step:
            raise CorruptDataError(None, f"PointCloud2 field {f.name!r} at offset {f.offset} reaches past point_step {point_step}")
        if f.name in names:
            continue  # duplicate field names: the first one wins, as in the PCL conversion
        names.append(f.name)
        formats.append(base if count == 1 else (base, (count,)))
        offsets.append(int(f.offset))
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": int(point_step)})


def structured_points(msg: Any) -> np.ndarray:
    """All points of a PointCloud2 as a structured array (height * width,), rows in order.

    Raises:
        CorruptDataError: ``data`` shorter than ``height * row_step`` or inconsistent steps.
    """
    height, width, step, row_step = int(msg.height), int(msg.width), int(msg.point_step), int(msg.row_step)
    dtype = cloud_dtype(msg.fields, step, bool(msg.is_bigendian))
    data = np.frombuffer(memoryview(msg.data).cast("B"), dtype=np.uint8)
    if height * width == 0:
        return np.zeros(0, dtype)
    if row_step < width * step:
        raise CorruptDataError(None, f"PointCloud2 row_step {row_step} < width {width} * point_step {step}")
    if data.size < height * row_step:
        raise CorruptDataError(None, f"PointCloud2 data has {data.size} bytes, expected height {height} * row_step {row_step}")
    rows = data[: height * row_step].reshape(height, row_step)[:, : width * step]
    return np.ascontiguousarray(rows).reshape(-1).view(dtype)


def scale_intensity(values: np.ndarray) -> np.ndarray:
    """Intensity values of a field -> float32 0..255 (the module's rule: floats all within
    [0, 1] are scaled by 255, everything is clipped to [0, 255], NaN becomes 0)."""
    scaled = values.astype(np.float64)
    if values.dtype.kind == "f" and scaled.size and np.nanmax(scaled) <= 1.0 and np.nanmin(scaled) >= 0.0:
        scaled = scaled * 255.0
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 255.0).astype(np.float32)


def _intensity(points: np.ndarray) -> np.ndarray:
    name = next((n for n in INTENSITY_FIELDS if n in points.dtype.names), None)
    if name is None:
        return np.zeros(len(points), np.float32)
    return scale_intensity(_column(points, name))


def _column(points: np.ndarray, name: str) -> np.ndarray:
    column = points[name]
    return column[:, 0] if column.ndim == 2 else column


def time_offsets(values: np.ndarray, stamp_ns: int, is_integer: bool, time_unit: str | None = None) -> np.ndarray:
    """Per-point times -> seconds relative to ``stamp_ns`` (the module's rule).

    Args:
        values: (N,) raw values of the time field.
        stamp_ns: header stamp in nanoseconds.
        is_integer: the field has an integer datatype.
        time_unit: ``s``, ``ms``, ``us`` or ``ns`` for relative times; None: ns for integer
            fields, s for floating-point ones.
    """
    if time_unit is not None and time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {tuple(TIME_UNITS)}, got {time_unit!r}")
    if values.size == 0:
        return np.zeros(0)
    stamp_s = stamp_ns * 1e-9
    median = float(np.median(values.astype(np.float64)))
    for unit in ("s", "us", "ns"):
        if abs(median * TIME_UNITS[unit] - stamp_s) <= ABSOLUTE_WINDOW_S:
            if is_integer:  # exact integer arithmetic before going to float seconds
                scale = {"s": 1_000_000_000, "us": 1000, "ns": 1}[unit]
                return (values.astype(np.int64) * scale - stamp_ns).astype(np.float64) * 1e-9
            return values.astype(np.float64) * TIME_UNITS[unit] - stamp_s
    unit = time_unit or ("ns" if is_integer else "s")
    return values.astype(np.float64) * TIME_UNITS[unit]


def decode_pointcloud2(msg: Any, time_unit: str | None = None) -> CloudPoints:
    """Decode a ``sensor_msgs/PointCloud2`` (ROS 1 or ROS 2, rosbags or rclpy object).

    Args:
        msg: the message.
        time_unit: unit of a relative per-point time field (None: the module's rule).

    Returns:
        The finite points with intensity and time offsets (see the module docstring).

    Raises:
        CorruptDataError: the byte layout does not match the fields.
        InvalidValueError: no x, y, z fields.
    """
    points = structured_points(msg)
    names = points.dtype.names or ()
    missing = [n for n in ("x", "y", "z") if n not in names]
    if missing:
        raise InvalidValueError(None, f"PointCloud2 has no {'/'.join(missing)} field (fields: {list(names)})")
    xyz = np.column_stack([_column(points, n).astype(np.float64) for n in ("x", "y", "z")]) if len(points) else np.zeros((0, 3))
    finite = np.all(np.isfinite(xyz), axis=1)
    points, xyz = points[finite], xyz[finite]
    stamp_ns = stamp_to_ns(msg.header.stamp)
    time_name = next((n for n in TIME_FIELDS if n in names), None)
    if time_name is None:
        offsets = np.zeros(len(points))
    else:
        kind = points.dtype[time_name].base.kind
        offsets = time_offsets(_column(points, time_name), stamp_ns, kind in "iu", time_unit)
    used = {"x", "y", "z", time_name, next((n for n in INTENSITY_FIELDS if n in names), None)}
    extra = {n: points[n].copy() for n in names if n not in used}
    return CloudPoints(xyz, _intensity(points), offsets, stamp_ns, str(msg.header.frame_id), extra,
                       int((~finite).sum()), time_name)


def encode_pointcloud2(
    store: Typestore, xyz: np.ndarray, stamp_ns: int, frame_id: str, *,
    intensity: np.ndarray | None = None, time_offset: np.ndarray | None = None,
    time_field: str = "t", time_dtype: str = "u4", intensity_dtype: str = "f4",
) -> Any:
    """A dense, little-endian ``sensor_msgs/PointCloud2`` of ``store``: x, y, z float32, then
    ``intensity`` and the per-point time field if given, packed without padding.

    Args:
        store: the type store (ROS 2 or ROS 1) whose message class to build.
        xyz: (N, 3) metres in ``frame_id``.
        stamp_ns: header stamp, nanoseconds.
        frame_id: sensor frame.
        intensity: (N,) 0..255, stored as ``intensity_dtype``.
        time_offset: (N,) seconds relative to ``stamp_ns``; stored as ``time_dtype``: an integer
            type holds nanoseconds (rounded), a float type seconds.
        time_field: name of the time field.

    Raises:
        ValueError: negative ``time_offset`` with an unsigned ``time_dtype``.
    """
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    columns: list[tuple[str, np.dtype, np.ndarray]] = [(n, np.dtype("<f4"), xyz[:, i]) for i, n in enumerate("xyz")]
    if intensity is not None:
        columns.append(("intensity", np.dtype("<" + intensity_dtype), np.asarray(intensity)))
    if time_offset is not None:
        dtype = np.dtype("<" + time_dtype)
        offsets = np.asarray(time_offset, dtype=np.float64)
        if dtype.kind == "u" and offsets.size and offsets.min() < 0:
            raise ValueError(f"negative time offsets cannot be stored in the unsigned field {time_field!r}")
        columns.append((time_field, dtype, np.round(offsets * 1e9) if dtype.kind in "iu" else offsets))
    dtype = np.dtype([(name, dt) for name, dt, _ in columns])
    packed = np.zeros(len(xyz), dtype)
    for name, _, values in columns:
        packed[name] = values
    types = store.types
    point_field = types["sensor_msgs/msg/PointField"]
    fields = [point_field(name=name, offset=int(dtype.fields[name][1]), datatype=NUMPY_TO_POINTFIELD[dt.newbyteorder("=")], count=1)
              for name, dt, _ in columns]
    return types["sensor_msgs/msg/PointCloud2"](
        header=header(store, stamp_ns, frame_id), height=1, width=len(xyz), fields=fields, is_bigendian=False,
        point_step=dtype.itemsize, row_step=dtype.itemsize * len(xyz), data=packed.view(np.uint8).copy(), is_dense=True,
    )
