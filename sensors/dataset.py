"""One entry point for every dataset layout: :func:`open_dataset`."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sensors.errors import MissingDataError, UnknownLayoutError
from sensors.frame import Frame

if TYPE_CHECKING:
    from sensors.ros.recording import Recording

NUSCENES_VERSIONS = ("v1.0-mini", "v1.0-trainval", "v1.0-test")


def detect_layout(root: Path) -> str:
    """Name of the layout of ``root``: ``"nuscenes"``, ``"kitti"``, ``"dmd"`` (``*_ann_*.json`` DMD
    annotations), ``"rosbag"`` (rosbag2 folder or ``.mcap``/``.db3`` file, ROS 1 ``.bag`` or folder of
    ``.bag`` files) or ``"pcd"`` (a folder of ``.pcd`` files)."""
    if not root.exists():
        raise MissingDataError(root, "dataset path does not exist")
    if root.is_file() and root.suffix in (".mcap", ".db3", ".bag"):
        return "rosbag"
    if root.is_dir() and (root / "metadata.yaml").exists():
        return "rosbag"
    if any((root / version).is_dir() for version in NUSCENES_VERSIONS):
        return "nuscenes"
    if any((root / part / "velodyne").is_dir() for part in ("training", "testing")) or (root / "velodyne").is_dir():
        return "kitti"
    if root.is_dir() and any(root.glob("*.bag")):
        return "rosbag"
    if root.is_dir() and any(root.glob("*.pcd")):
        return "pcd"
    if root.is_dir():
        from sensors.dmd.reader import find_annotations

        if find_annotations(root):
            return "dmd"
    raise UnknownLayoutError(
        root, "not a nuScenes root (no v1.0-* folder), KITTI object root (no training/velodyne), DMD root "
        "(no *_ann_*.json), rosbag2, ROS 1 bag or folder of .pcd files"
    )


def open_dataset(uri: str | Path, split: str | None = None, **options: object) -> Sequence[Frame] | Recording:
    """Open a dataset and return its frames: a lazy sequence, or a stream for a recording.

    Args:
        uri: a nuScenes root (with ``v1.0-mini``/``v1.0-trainval``), a KITTI object root (with
            ``training/``), a DMD root (``*_ann_*.json`` beside face videos; cabin-only frames), or
            a recording: rosbag2 folder or ``.mcap``/``.db3`` file, ROS 1
            ``.bag``, folder of ``.pcd`` files (:func:`sensors.ros.open_recording`; iterable once
            per pass, in LiDAR time order, without ``len`` or indexing).
        split: split name understood by that layout (nuScenes: ``mini_train``, ``mini_val``,
            ``train``, ``val``...; KITTI: an ``ImageSets/<split>.txt`` name). None: everything.
            Recordings have no splits.
        options: reader-specific keyword options (e.g. ``sweeps=10`` for nuScenes;
            ``profile=``, ``tolerance_s=``, ``sweeps=`` for recordings).

    Raises:
        ValueError: a split for a recording.
    """
    root = Path(uri)
    layout = detect_layout(root)
    if layout == "nuscenes":
        from sensors.nuscenes.reader import NuScenesDataset

        return NuScenesDataset(root, split=split, **options)  # type: ignore[arg-type]
    if layout == "kitti":
        from sensors.kitti.reader import KittiDataset

        return KittiDataset(root, split=split, **options)  # type: ignore[arg-type]
    if layout == "dmd":
        from sensors.dmd.reader import DmdDataset

        return DmdDataset(root, split=split, **options)  # type: ignore[arg-type]
    if split is not None:
        raise ValueError(f"{root}: a recording has no splits, got split={split!r}")
    from sensors.ros.recording import open_recording

    return open_recording(root, **options)  # type: ignore[arg-type]
