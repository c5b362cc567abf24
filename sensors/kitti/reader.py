"""Read the KITTI object layout (real dataset or :func:`sensors.kitti.writer.write_kitti` output) as Frames.

Expected layout (the official download unpacked, plus the usual split files)::

    root/training/{velodyne, image_2, calib, label_2}/<id>.{bin, png, txt, txt}
    root/testing/{velodyne, image_2, calib}/<id>...        (no labels)
    root/ImageSets/{train, val, trainval, test}.txt        (one frame id per line)

The ``test`` split (ids of ``testing/``) is read from ``testing/``, every other split from
``training/``.

``root`` may also be a single part folder holding ``velodyne/`` directly. ``image_2`` and
``label_2`` may be absent (LiDAR-only download, test part): frames then have no camera or no
annotations. Conversions (see ``docs/datasets.md``): points and boxes in the ego frame (the
velodyne frame moved down to the ground by 1.73 m), intensity = reflectance * 255, time offset 0,
timestamp 0, ``ego_to_global`` identity, camera ``CAM_FRONT`` = rectified camera 2.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from sensors.errors import (
    CorruptDataError,
    DanglingReferenceError,
    InvalidValueError,
    MissingDataError,
)
from sensors.frame import Annotations, Camera, Frame, FrameSequence, Lidar
from sensors.kitti.calib import KittiCalib, read_calib, velo_to_ego
from sensors.kitti.labels import KittiObject, objects_to_boxes, read_kitti_labels
from sensors.projection import check_principal_point
from sensors.reading import check_file, read_bytes, read_text

#: Name of the camera that holds ``image_2``.
CAMERA_NAME = "CAM_FRONT"
#: Scene name of every KITTI frame (the object benchmark has no drives).
SCENE = "kitti"
#: Reflectance above 1 by more than this is rejected (the files store 0..1).
_REFLECTANCE_TOLERANCE = 1e-6


def read_velodyne(path: Path) -> np.ndarray:
    """(N, 4) float32 x, y, z (velodyne frame, metres), reflectance (0..1) of a ``.bin`` file, N >= 1.

    Raises:
        MissingDataError: no file; InvalidValueError: a folder, NaN/Inf, reflectance outside
            [0, 1] (a nuScenes 5-column file renamed ``.bin`` shifts its columns and fails here);
        CorruptDataError: empty, or not a whole number of 16-byte points.
    """
    path = Path(path)
    data = read_bytes(path, "velodyne file")
    if not data:
        raise CorruptDataError(path, "empty file (0 bytes): a LiDAR scan has points")
    if len(data) % 16:
        raise CorruptDataError(path, f"size {len(data)} bytes is not a multiple of 16 (4 float32 per point): truncated?")
    points = np.frombuffer(data, dtype="<f4").reshape(-1, 4)
    if not np.all(np.isfinite(points)):
        row = int(np.flatnonzero(~np.isfinite(points).all(axis=1))[0])
        raise InvalidValueError(path, f"point {row} has NaN or Inf values")
    reflectance = points[:, 3]
    if len(points) and (reflectance.min() < 0 or reflectance.max() > 1 + _REFLECTANCE_TOLERANCE):
        raise InvalidValueError(path, f"reflectance outside [0, 1] (min {reflectance.min()}, max {reflectance.max()})")
    return points


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB image of a PNG (grey images are replicated to 3 channels)."""
    path = Path(path)
    data = np.frombuffer(read_bytes(path, "image file"), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if len(data) else None
    if image is None:
        raise CorruptDataError(path, "image cannot be decoded")
    return np.ascontiguousarray(image[..., ::-1])


def _blank_image(path: Path) -> np.ndarray:
    """A read-only black (H, W, 3) image the size of ``path``, from its header only (no decoding)."""
    check_file(path, "image file")
    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError:
        raise MissingDataError(path, "image file is missing") from None
    except (UnidentifiedImageError, OSError):
        raise CorruptDataError(path, "image header cannot be read") from None
    return np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (height, width, 3))


def _read_split(split_file: Path, velodyne_dir: Path) -> list[str]:
    text = read_text(split_file, "split file")
    ids = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        frame_id = line.strip()
        if not frame_id:
            continue
        if "/" in frame_id or not (velodyne_dir / f"{frame_id}.bin").is_file():
            raise DanglingReferenceError(split_file, f"line {line_no}: frame {frame_id!r} has no file in {velodyne_dir}")
        ids.append(frame_id)
    return ids


#: Split names whose frames live in ``testing/`` (the benchmark's unlabelled test part).
TEST_SPLITS: tuple[str, ...] = ("test", "testing")
PARTS: tuple[str, ...] = ("training", "testing")


def part_of_split(split: str | None) -> str:
    """The part folder a split's frame ids refer to: ``testing`` for :data:`TEST_SPLITS`, else ``training``."""
    return "testing" if split in TEST_SPLITS else "training"


class KittiDataset(FrameSequence):
    """The frames of a KITTI object dataset, read lazily on indexing.

    Args:
        root: dataset root (with ``training/``, ``testing/``, ``ImageSets/``) or a part folder.
        split: name of ``root/ImageSets/<split>.txt``; None: every frame of the part.
        part: ``training`` or ``testing``; None: the part of the split (:func:`part_of_split`:
            ``test``/``testing`` read ``testing/``, every other split ``training/``).
        load_images: decode ``image_2``; False gives read-only black images of the right size
            (calibration and projection still work, for LiDAR-only use).

    Attributes:
        has_labels: whether the part has ``label_2/`` (the test part has none: frames have no
            annotations).
    """

    def __init__(self, root: Path, split: str | None = None, part: str | None = None,
                 load_images: bool = True) -> None:
        part = part_of_split(split) if part is None else part
        if part not in PARTS:
            raise ValueError(f"KITTI part must be one of {PARTS}, got {part!r}")
        self.root = Path(root)
        self.base = self.root if (self.root / "velodyne").is_dir() else self.root / part
        velodyne_dir = self.base / "velodyne"
        if not velodyne_dir.is_dir():
            raise MissingDataError(velodyne_dir, "KITTI velodyne folder is missing")
        self.split = split
        self.load_images = load_images
        if split is None:
            self.frame_ids = sorted(p.stem for p in velodyne_dir.glob("*.bin"))
        else:
            self.frame_ids = _read_split(self.root / "ImageSets" / f"{split}.txt", velodyne_dir)

    def __len__(self) -> int:
        return len(self.frame_ids)

    @property
    def has_labels(self) -> bool:
        """Whether the frames have label files (``label_2/`` exists)."""
        return (self.base / "label_2").is_dir()

    def read(self, index: int) -> Frame:
        """The ``index``-th frame of the split (``frame_ids`` order)."""
        return self.read_frame(self.frame_ids[index])

    def calib(self, frame_id: str) -> KittiCalib:
        """The calibration of a frame."""
        return read_calib(self.base / "calib" / f"{frame_id}.txt")

    def objects(self, frame_id: str) -> list[KittiObject] | None:
        """Every raw label object of a frame (DontCare included), or None without ``label_2/``."""
        if not self.has_labels:
            return None
        return read_kitti_labels(self.base / "label_2" / f"{frame_id}.txt")

    def read_frame(self, frame_id: str) -> Frame:
        """The frame with id ``frame_id`` (e.g. ``"000042"``), converted to the ego frame."""
        calib_path = self.base / "calib" / f"{frame_id}.txt"
        calib = read_calib(calib_path)
        velodyne = read_velodyne(self.base / "velodyne" / f"{frame_id}.bin")
        points = np.zeros((len(velodyne), 5), np.float32)
        points[:, :3] = velodyne[:, :3] + velo_to_ego()[:3, 3].astype(np.float32)
        points[:, 3] = np.minimum(velodyne[:, 3], 1.0) * 255.0
        objects = self.objects(frame_id)
        annotations = None
        if objects is not None:
            boxes = objects_to_boxes(objects, calib.rect_to_ego(), frame_id, self.base / "label_2" / f"{frame_id}.txt")
            annotations = Annotations(boxes=boxes)
        cameras = {}
        image_path = self.base / "image_2" / f"{frame_id}.png"
        if (self.base / "image_2").is_dir():
            image = read_image(image_path) if self.load_images else _blank_image(image_path)
            check_principal_point(image.shape[:2], calib.intrinsics(2), image_path)
            try:
                cameras[CAMERA_NAME] = Camera(CAMERA_NAME, image, calib.intrinsics(2), calib.camera_to_ego(2), 0)
            except ValueError as error:
                raise InvalidValueError(calib_path, str(error)) from None
        return Frame(
            token=frame_id, scene=SCENE, timestamp=0, ego_to_global=np.eye(4),
            lidar=Lidar(points, velo_to_ego(), 0), cameras=cameras, annotations=annotations,
        )
