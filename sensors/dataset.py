"""One entry point for every dataset layout: :func:`open_dataset`."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sensors.errors import MissingDataError, UnknownLayoutError
from sensors.frame import Frame

NUSCENES_VERSIONS = ("v1.0-mini", "v1.0-trainval", "v1.0-test")


def detect_layout(root: Path) -> str:
    """Name of the layout of ``root``: ``"nuscenes"``, ``"kitti"``, ``"dmd"`` or ``"rosbag"``."""
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
    if root.is_dir():
        from sensors.dmd.reader import find_annotations

        if find_annotations(root):
            return "dmd"
    raise UnknownLayoutError(
        root, "not a nuScenes root (no v1.0-* folder), KITTI object root (no training/velodyne), "
        "DMD root (no *_ann_*.json) or rosbag2"
    )


def open_dataset(uri: str | Path, split: str | None = None, **options: object) -> Sequence[Frame]:
    """Open a dataset and return its frames as a lazy sequence.

    Args:
        uri: a nuScenes root (with ``v1.0-mini``/``v1.0-trainval``), a KITTI object root (with
            ``training/``) or a DMD root (``*_ann_*.json`` beside face videos; cabin-only frames).
            A rosbag2 folder or bag file is recognised and refused with
            :class:`UnknownLayoutError`: bag replay is not implemented yet.
        split: split name understood by that layout (nuScenes: ``mini_train``, ``mini_val``,
            ``train``, ``val``...; KITTI: an ``ImageSets/<split>.txt`` name). None: everything.
        options: reader-specific keyword options (e.g. ``sweeps=10`` for nuScenes).
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
    raise UnknownLayoutError(
        root, "this is a rosbag2 / ROS 1 recording: bag replay is not implemented yet (see docs/datasets.md); "
        "convert it to the nuScenes layout or use --data sim"
    )
