"""Reading and writing the per-sample files of the nuScenes layout.

* ``.pcd.bin``: LiDAR points, 5 little-endian float32 per point: x, y, z (metres, sensor frame),
  intensity (0-255), ring index (an integer, 0-31 on the nuScenes HDL-32E). The reader checks
  what the format allows cheaply (size a multiple of 20 bytes, at least one point, finite values,
  intensity in [0, 255], ring an integer in [0, :data:`MAX_RING`]), so that a file of another
  layout (a KITTI 4-column scan renamed ``.pcd.bin``) is refused instead of read as garbage.
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

from sensors.errors import CorruptDataError, InvalidValueError
from sensors.reading import check_file

#: Bytes per LiDAR point in ``.pcd.bin`` (5 float32).
POINT_BYTES = 20
#: Largest ring (beam) index accepted: 128-beam sensors number their rings 0-127.
MAX_RING = 127
#: Intensity range of the nuScenes point files.
MAX_INTENSITY = 255.0
#: Depth PNG units: one count is 1/256 m; the largest storable depth is 65535 / 256 m.
DEPTH_SCALE = 256.0
MAX_DEPTH = 65535.0 / DEPTH_SCALE

_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def _require(path: Path) -> None:
    check_file(path)


def write_points(path: Path, points: np.ndarray) -> None:
    """Write (N, 5) points (x, y, z, intensity, ring) as float32 ``.pcd.bin``."""
    points = np.asarray(points, dtype="<f4")
    if points.ndim != 2 or points.shape[1] != 5:
        raise ValueError(f"{path}: points must be (N, 5), got {points.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    points.tofile(path)


def read_points(path: Path) -> np.ndarray:
    """(N, 5) float32 points of a ``.pcd.bin`` file (x, y, z, intensity, ring), N >= 1.

    Raises:
        MissingDataError: no such file (or a folder of that name).
        CorruptDataError: empty file, or a size that is not a whole number of 20-byte points.
        InvalidValueError: NaN/Inf values, intensity outside [0, 255], or a ring column that is not
            integers in [0, :data:`MAX_RING`] (the message names the first offending point).
    """
    _require(path)
    size = path.stat().st_size
    if size == 0:
        raise CorruptDataError(path, "empty file (0 bytes): a LiDAR sweep has points")
    if size % POINT_BYTES:
        raise CorruptDataError(
            path, f"size {size} bytes is not a multiple of {POINT_BYTES} (5 float32 per point); "
            "a KITTI scan (4 float32 per point) or a truncated file?"
        )
    points = np.fromfile(path, dtype="<f4").reshape(-1, 5).astype(np.float32)
    check_point_columns(points, path)
    return points


def check_point_columns(points: np.ndarray, path: Path | str) -> None:
    """Raise :class:`InvalidValueError` naming ``path`` unless (N, 5) ``points`` fit the nuScenes layout.

    The checks (finite values, intensity in [0, 255], ring index an integer in [0, MAX_RING]) are
    what tells a real nuScenes sweep from a file of another layout read with 5 columns: a KITTI
    scan shifts its columns so that x, y, z land in the intensity and ring columns.
    """
    finite = np.isfinite(points).all(axis=1)
    if not finite.all():
        raise InvalidValueError(path, f"{int(np.count_nonzero(~finite))} points contain NaN or Inf (first: point {int(np.argmin(finite))})")
    intensity, ring = points[:, 3], points[:, 4]
    bad_intensity = (intensity < 0) | (intensity > MAX_INTENSITY)
    bad_ring = (ring < 0) | (ring > MAX_RING) | (ring != np.round(ring))
    bad = bad_intensity | bad_ring
    if bad.any():
        row = int(np.argmax(bad))
        reason = (f"intensity {intensity[row]:g} outside [0, {MAX_INTENSITY:g}]" if bad_intensity[row]
                  else f"ring index {ring[row]:g} is not an integer in [0, {MAX_RING}]")
        raise InvalidValueError(
            path, f"point {row}: {reason} ({int(np.count_nonzero(bad))} of {len(points)} points are off); "
            "not a nuScenes .pcd.bin (x, y, z, intensity, ring)?"
        )


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
