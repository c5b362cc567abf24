"""A folder of ``.pcd`` files (what PCL and Autoware tools dump) as LiDAR-only frames.

Read with open3d's tensor IO (``open3d.t.io.read_point_cloud``), which keeps every field:
intensity and per-point time follow the same names and rules as PointCloud2
(:mod:`sensors.ros.pointcloud`); other fields (``ring``...) are ignored by the data model.
The points are taken as given in the ego frame (``lidar_to_ego`` and ``ego_to_global`` are the
identity: a PCD file carries neither calibration nor ego motion).

Timestamps come from the file names: an integer name is read as nanoseconds, microseconds,
milliseconds or seconds since the epoch by its size (> 1e17, > 1e14, > 1e11, > 1e8), a decimal
name as seconds; any other name (``000042.pcd``) gives the file's rank at :data:`DEFAULT_RATE_HZ`
from time 0. Files are replayed in time order.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sensors.frame import Frame, Lidar
from sensors.ros.pointcloud import (
    INTENSITY_FIELDS,
    TIME_FIELDS,
    scale_intensity,
    time_offsets,
)
from sensors.ros.summary import ReplaySummary

#: Frame rate assumed for files whose names are no timestamps.
DEFAULT_RATE_HZ = 10.0


def is_pcd_folder(path: Path) -> bool:
    """A folder holding ``.pcd`` files and no rosbag2 ``metadata.yaml``."""
    return path.is_dir() and not (path / "metadata.yaml").exists() and any(path.glob("*.pcd"))


def stamp_from_name(stem: str) -> int | None:
    """Nanoseconds since the epoch encoded in a file name, or None (rule in the module docstring)."""
    if re.fullmatch(r"\d+", stem):
        value = int(stem)
        for limit, scale in ((1e17, 1), (1e14, 1_000), (1e11, 1_000_000), (1e8, 1_000_000_000)):
            if value > limit:
                return value * scale
        return None
    if re.fullmatch(r"\d+\.\d+", stem) and float(stem) > 1e8:
        seconds, fraction = stem.split(".")
        return int(seconds) * 1_000_000_000 + int((fraction + "000000000")[:9])
    return None


class PcdFolder:
    """The ``.pcd`` files of a folder in time order (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        files = sorted(self.path.glob("*.pcd"))
        stamps = [stamp_from_name(f.stem) for f in files]
        if files and all(s is not None for s in stamps):
            pairs = sorted(zip(stamps, files))
        else:
            period = round(1e9 / DEFAULT_RATE_HZ)
            pairs = [(i * period, f) for i, f in enumerate(files)]
        self.files: list[tuple[int, Path]] = [(int(s), f) for s, f in pairs]

    def frames(self, summary: ReplaySummary, scene: str) -> Iterator[Frame]:
        """LiDAR-only frames; unreadable files are counted in ``summary`` and skipped."""
        import open3d as o3d

        for stamp, file in self.files:
            summary.messages["pcd"] += 1
            try:
                cloud = o3d.t.io.read_point_cloud(str(file))
                points = self._points(cloud, stamp)
            except (RuntimeError, ValueError) as error:
                summary.count_unusable("PCD file does not read", f"{file.name}: {error}")
                continue
            if points is None:
                summary.count_unusable("PCD file does not read", f"{file.name}: no points (empty or unreadable)")
                continue
            summary.frames += 1
            token = hashlib.md5(f"{scene}/{stamp}".encode()).hexdigest()
            yield Frame(token, scene, stamp // 1000, np.eye(4), Lidar(points, np.eye(4), stamp // 1000))

    @staticmethod
    def _points(cloud: Any, stamp: int) -> np.ndarray | None:
        if "positions" not in cloud.point or len(cloud.point["positions"]) == 0:
            return None
        xyz = cloud.point["positions"].numpy().astype(np.float64)
        finite = np.all(np.isfinite(xyz), axis=1)

        def column(names: tuple[str, ...]) -> np.ndarray | None:
            name = next((n for n in names if n in cloud.point), None)
            return None if name is None else cloud.point[name].numpy()[:, 0][finite]

        intensity = column(INTENSITY_FIELDS)
        times = column(TIME_FIELDS)
        xyz = xyz[finite]
        return np.column_stack([
            xyz,
            np.zeros(len(xyz), np.float32) if intensity is None else scale_intensity(intensity),
            np.zeros(len(xyz)) if times is None else time_offsets(times, stamp, times.dtype.kind in "iu"),
        ]).astype(np.float32)

    def inspect(self, fits: list) -> Any:
        from sensors.ros.recording import RecordingInfo, TopicReport

        duration = (self.files[-1][0] - self.files[0][0]) * 1e-9 if self.files else 0.0
        rate = (len(self.files) - 1) / duration if duration > 0 else 0.0
        topics = [TopicReport("*.pcd", "PCD file", len(self.files), rate, "lidar", None)]
        return RecordingInfo(self.path, "folder of .pcd files", duration, topics, "pcd", fits,
                             ["LiDAR only; points taken in the ego frame; no cameras, calibration or ego motion"])
