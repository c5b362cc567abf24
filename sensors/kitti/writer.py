"""Write frames in the KITTI object layout (what :class:`sensors.kitti.reader.KittiDataset` reads).

Layout::

    root/<part>/velodyne/000000.bin   float32 x, y, z, reflectance (0..1), velodyne frame
    root/<part>/image_2/000000.png    the chosen camera, RGB
    root/<part>/calib/000000.txt      P0..P3, R0_rect, Tr_velo_to_cam, Tr_imu_to_velo
    root/<part>/label_2/000000.txt    KITTI objects of the boxes seen by the camera
    root/ImageSets/<split>.txt        the frame ids written under that split name

The written velodyne frame is the ego frame raised by :data:`VELODYNE_HEIGHT` (x forward,
y left, z up, ground at z = -1.73 as on the KITTI car), so that the reader's fixed
``lidar_to_ego`` maps the points back exactly whatever the real mounting of the LiDAR.
The chosen camera is KITTI's rectified reference camera and camera 2 at once
(``P2 = [K | 0]``, ``R0_rect = I``); ``Tr_velo_to_cam`` comes from ``Camera.cam_to_ego``, the camera
in the ego frame at the LiDAR time, so a camera that fired at its own time still projects the
points exactly (docs/conventions.md, "Time"). A call adds its frames completely or not at all:
they are written into a temporary folder next to ``root``, moved in when every frame is done, and
the split file is written last (an interrupted call removes what it had moved).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from sensors.atomic import (
    atomic_write_bytes,
    atomic_write_text,
    check_output_dir,
    remove_stale_temporaries,
)
from sensors.errors import InvalidValueError, MissingDataError
from sensors.frame import Frame
from sensors.geometry import invert_transform, transform_points
from sensors.kitti.annotate import boxes_to_objects, lidar_depth_map
from sensors.kitti.calib import KittiCalib, velo_to_ego
from sensors.kitti.labels import format_kitti_labels


def _next_index(velodyne_dir: Path) -> int:
    """First free frame number: one past the highest numeric id already in ``velodyne_dir``."""
    ids = [int(p.stem) for p in velodyne_dir.glob("*.bin") if p.stem.isdigit()] if velodyne_dir.is_dir() else []
    return max(ids, default=-1) + 1


def velodyne_points(frame: Frame) -> np.ndarray:
    """(N, 4) float32 x, y, z (velodyne frame, metres), reflectance (intensity / 255, 0..1)."""
    if frame.lidar is None:
        raise MissingDataError(f"frame {frame.token}", "has no LiDAR cloud; the KITTI layout needs velodyne points")
    points = frame.lidar.points
    xyz = transform_points(invert_transform(velo_to_ego()), points[:, :3].astype(np.float64))
    reflectance = np.clip(points[:, 3:4] / 255.0, 0.0, 1.0)
    return np.concatenate([xyz, reflectance], axis=1).astype(np.float32)


def _encode_png(image_rgb: np.ndarray, token: str) -> bytes:
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(image_rgb[..., ::-1]))
    if not ok:
        raise InvalidValueError(f"frame {token}", "image could not be encoded as PNG")
    return encoded.tobytes()


def write_kitti(
    frames: Iterable[Frame],
    root: Path,
    split: str = "train",
    camera: str = "CAM_FRONT",
    *,
    part: str = "training",
    with_score: bool = False,
) -> list[str]:
    """Write ``frames`` in order as KITTI frames numbered after those already in ``root/<part>``.

    Args:
        frames: frames with a LiDAR cloud and the camera ``camera``; label files are written for
            frames whose annotations hold boxes (only boxes at least partly in the image).
        root: dataset root (created if missing).
        split: name of the ``ImageSets/<split>.txt`` file that lists the written ids (ids already
            listed there are kept).
        camera: name of the camera written as ``image_2``.
        part: ``training`` or ``testing`` folder.
        with_score: write box scores as the 16th label field (prediction files).

    Returns:
        The frame ids written, in order.

    Raises:
        FileExistsError: ``root`` is a file or a folder holding something other than a KITTI
            layout (checked before the frames are consumed); MissingDataError: a frame without
            LiDAR or the camera. On any error or interrupt no frame of this call is left behind.
    """
    root = Path(root)
    check_output_dir(root, is_kitti_root, "KITTI dataset folder")
    created = not root.exists()
    root.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(root)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    moved: list[Path] = []
    try:
        written = _write_frames(frames, staging / part, _next_index(root / part / "velodyne"), camera, with_score)
        for source in sorted(p for p in staging.rglob("*") if p.is_file()):
            target = root / source.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            moved.append(target)
        split_file = root / "ImageSets" / f"{split}.txt"
        listed = split_file.read_text().split() if split_file.exists() else []
        ids = sorted(set(listed) | set(written))
        atomic_write_text(split_file, "".join(f"{i}\n" for i in ids), "ascii")
    except BaseException:
        for target in moved:
            target.unlink(missing_ok=True)
        if created:
            shutil.rmtree(root, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def is_kitti_root(root: Path) -> bool:
    """Whether the folder ``root`` holds a KITTI object layout (``training/``, ``testing/``, ``ImageSets/``)."""
    return any(e.name in ("training", "testing", "ImageSets") for e in root.iterdir())


def _write_frames(frames: Iterable[Frame], base: Path, index: int, camera: str, with_score: bool) -> list[str]:
    """Write the files of ``frames`` under the part folder ``base``, numbered from ``index``; their ids."""
    written: list[str] = []
    for frame in frames:
        if camera not in frame.cameras:
            raise MissingDataError(f"frame {frame.token}", f"has no camera {camera}; cameras: {sorted(frame.cameras)}")
        cam = frame.cameras[camera]
        frame_id = f"{index:06d}"
        atomic_write_bytes(base / "velodyne" / f"{frame_id}.bin", velodyne_points(frame).tobytes())
        atomic_write_bytes(base / "image_2" / f"{frame_id}.png", _encode_png(cam.image, frame.token))
        atomic_write_text(
            base / "calib" / f"{frame_id}.txt", KittiCalib.from_camera(cam.intrinsics, cam.cam_to_ego).to_text(), "ascii"
        )
        annotations = frame.annotations
        if annotations is not None and annotations.boxes is not None:
            depth = cam.depth if cam.depth is not None else annotations.depth.get(camera)
            if depth is None and frame.lidar is not None:
                depth = lidar_depth_map(frame.lidar.points, cam)
            objects = boxes_to_objects(annotations.boxes, cam, depth, with_score)
            atomic_write_text(base / "label_2" / f"{frame_id}.txt", format_kitti_labels(objects), "ascii")
        written.append(frame_id)
        index += 1
    return written
