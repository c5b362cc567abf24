"""Reading and writing the per-sample files of the nuScenes layout.

* ``.pcd.bin``: LiDAR points, 5 little-endian float32 per point: x, y, z (metres, sensor frame),
  intensity (0-255), ring index.
* ``.jpg``: camera images, 8-bit RGB.
* depth ``.png``: 16-bit grey, metric depth = value / 256 m (KITTI depth convention), 0 = unknown.
* the map table's ``.png``: a 1 x 1 placeholder (BEV maps come from the map expansion).

Readers raise :mod:`sensors.errors` exceptions naming the file; writers expect a fresh
directory (the writer makes the whole dataset atomic) and create parent folders.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sensors.errors import CorruptDataError, InvalidValueError, MissingDataError

#: Bytes per LiDAR point in ``.pcd.bin`` (5 float32).
POINT_BYTES = 20
#: Depth PNG units: one count is 1/256 m; the largest storable depth is 65535 / 256 m.
DEPTH_SCALE = 256.0
MAX_DEPTH = 65535.0 / DEPTH_SCALE

_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def _require(path: Path) -> None:
    if not path.is_file():
        raise MissingDataError(path, "file is missing")


def write_points(path: Path, points: np.ndarray) -> None:
    """Write (N, 5) points (x, y, z, intensity, ring) as float32 ``.pcd.bin``."""
    points = np.asarray(points, dtype="<f4")
    if points.ndim != 2 or points.shape[1] != 5:
        raise ValueError(f"{path}: points must be (N, 5), got {points.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    points.tofile(path)


def read_points(path: Path) -> np.ndarray:
    """(N, 5) float32 points of a ``.pcd.bin`` file, checked for size and finite values."""
    _require(path)
    size = path.stat().st_size
    if size % POINT_BYTES:
        raise CorruptDataError(path, f"size {size} bytes is not a multiple of {POINT_BYTES} (5 float32 per point)")
    points = np.fromfile(path, dtype="<f4").reshape(-1, 5).astype(np.float32)
    if not np.all(np.isfinite(points)):
        bad = int(np.count_nonzero(~np.isfinite(points).all(axis=1)))
        raise InvalidValueError(path, f"{bad} points contain NaN or Inf")
    return points


def write_image(path: Path, image: np.ndarray, quality: int = 95) -> None:
    """Write an (H, W, 3) uint8 RGB image as JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image)).save(path, format="JPEG", quality=quality)


def read_image(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of an image file; ``size`` = expected (H, W) if known."""
    _require(path)
    try:
        with Image.open(path) as image:
            image.load()
            pixels = np.asarray(image.convert("RGB"))
    except _IMAGE_ERRORS as error:
        raise CorruptDataError(path, f"image cannot be decoded ({error})") from None
    if size is not None and pixels.shape[:2] != tuple(size):
        raise InvalidValueError(path, f"image is {pixels.shape[1]}x{pixels.shape[0]}, table says {size[1]}x{size[0]}")
    return pixels


def write_depth(path: Path, depth: np.ndarray) -> None:
    """Write (H, W) metric depth (metres, 0 = unknown) as 16-bit PNG at 1/256 m.

    Depths beyond :data:`MAX_DEPTH` are stored as unknown (0): they cannot be represented.
    """
    depth = np.asarray(depth, dtype=np.float64)
    counts = np.round(depth * DEPTH_SCALE)
    counts[(counts > 65535) | ~np.isfinite(counts)] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(counts.astype(np.uint16)).save(path, format="PNG")


def read_depth(path: Path, size: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 metric depth in metres of a 16-bit depth PNG of expected ``size`` (H, W)."""
    _require(path)
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("I;16", "I;16B", "I;16L", "I"):
                raise CorruptDataError(path, f"depth PNG must be 16-bit grey, got mode {image.mode}")
            counts = np.asarray(image).astype(np.float32)
    except _IMAGE_ERRORS as error:
        raise CorruptDataError(path, f"depth PNG cannot be decoded ({error})") from None
    if counts.shape != tuple(size):
        raise InvalidValueError(path, f"depth is {counts.shape}, camera image is {tuple(size)}")
    if np.any(counts < 0) or np.any(counts > 65535):
        raise InvalidValueError(path, "depth counts outside 16-bit range")
    return counts / np.float32(DEPTH_SCALE)


def write_placeholder_png(path: Path) -> None:
    """Write a 1 x 1 black 8-bit PNG (the map table's semantic prior, which the devkit opens)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (1, 1)).save(path, format="PNG")
