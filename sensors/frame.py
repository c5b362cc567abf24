"""The sensor data model: one time step of the car (:class:`Frame`) in plain, validated numpy.

Frames (docs/conventions.md, docs/architecture.md): **ego** is x forward, y left, z up, origin at the rear axle on the ground.
Camera frames are OpenCV-style: x right, y down, z forward (optical axis). Timestamps are
integer microseconds. Everything is converted to these conventions by the readers.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np

from sensors.boxes import Boxes3D
from sensors.classes import EYE_STATES, GAZE_ZONES, MAP_CLASSES
from sensors.geometry import check_transform

#: nuScenes camera names in rig order (front, then clockwise around the car).
CAMERA_NAMES: tuple[str, ...] = (
    "CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_BACK_RIGHT", "CAM_BACK", "CAM_BACK_LEFT",
)


def _check_intrinsics(k: np.ndarray, name: str) -> np.ndarray:
    k = np.asarray(k, dtype=np.float64)
    if k.shape != (3, 3) or not np.all(np.isfinite(k)):
        raise ValueError(f"{name}.intrinsics must be a finite 3x3 matrix, got shape {k.shape}")
    if k[0, 0] <= 0 or k[1, 1] <= 0 or not np.allclose(k[2], [0.0, 0.0, 1.0]):
        raise ValueError(f"{name}.intrinsics must have positive focal lengths and last row [0, 0, 1]")
    return k


@dataclass
class Camera:
    """One camera image with its calibration.

    Attributes:
        name: sensor channel, e.g. ``CAM_FRONT`` or ``CABIN``.
        image: (H, W, 3) uint8 RGB (an infrared cabin image is grey, replicated to 3 channels).
        intrinsics: (3, 3) pinhole matrix K in pixels.
        cam_to_ego: (4, 4) rigid transform from the camera frame (x right, y down, z forward)
            to the ego frame **at the frame's reference (LiDAR) time**: the camera's pose at its
            own capture time, motion-compensated with
            :func:`sensors.geometry.sensor_to_reference_ego` (docs/conventions.md, "Time"). For a
            standalone camera (cabin stream) the reference time is its own ``timestamp``.
        timestamp: capture time in microseconds.
        depth: optional (H, W) float32 metric depth (z in the camera frame, metres), 0 = unknown.
        ego_to_global: optional (4, 4) ego pose at ``timestamp`` (the capture time); None when the
            camera fired at the reference time or the dataset records no per-sensor pose (KITTI).
            Writers use it to store the camera's own ego pose and calibration.
    """

    name: str
    image: np.ndarray
    intrinsics: np.ndarray
    cam_to_ego: np.ndarray
    timestamp: int
    depth: np.ndarray | None = None
    ego_to_global: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.image, np.ndarray) or self.image.dtype != np.uint8 or self.image.ndim != 3 or self.image.shape[2] != 3:
            shape = getattr(self.image, "shape", None)
            raise ValueError(f"camera {self.name}: image must be uint8 (H, W, 3), got {shape}")
        self.intrinsics = _check_intrinsics(self.intrinsics, f"camera {self.name}")
        self.cam_to_ego = np.asarray(self.cam_to_ego, dtype=np.float64)
        check_transform(self.cam_to_ego, f"camera {self.name} cam_to_ego")
        self.timestamp = int(self.timestamp)
        if self.depth is not None:
            self.depth = np.asarray(self.depth, dtype=np.float32)
            if self.depth.shape != self.image.shape[:2]:
                raise ValueError(f"camera {self.name}: depth shape {self.depth.shape} != image {self.image.shape[:2]}")
            if not np.all(np.isfinite(self.depth)) or np.any(self.depth < 0):
                raise ValueError(f"camera {self.name}: depth must be finite and >= 0")
        if self.ego_to_global is not None:
            self.ego_to_global = np.asarray(self.ego_to_global, dtype=np.float64)
            check_transform(self.ego_to_global, f"camera {self.name} ego_to_global")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


#: Time offsets accepted in ``Lidar.points[:, 4]`` (seconds relative to the key sweep): a sweep
#: ends at most one rotation of a 5 Hz spinning LiDAR after its timestamp, and multi-sweep clouds
#: reach back at most this far (nuScenes' usual 10 sweeps span 0.45 s).
MAX_TIME_AHEAD_S = 0.2
MAX_TIME_BEHIND_S = 10.0


def check_lidar_columns(points: np.ndarray, what: str = "lidar points") -> None:
    """ValueError unless the intensity (0-255) and time-offset columns of (N, 5) points are plausible.

    A time-offset column outside ``[-MAX_TIME_BEHIND_S, MAX_TIME_AHEAD_S]`` is refused: it is
    almost always another column passed in its place (a ring index 0-31, a timestamp in
    microseconds).
    """
    intensity, offset = points[:, 3], points[:, 4]
    if len(points) and (intensity.min() < 0 or intensity.max() > 255):
        raise ValueError(f"{what}: intensity must be in [0, 255], got {intensity.min():g}..{intensity.max():g}")
    if len(points) and (offset.min() < -MAX_TIME_BEHIND_S or offset.max() > MAX_TIME_AHEAD_S):
        hint = " (a ring index?)" if np.all(offset == np.round(offset)) and offset.max() >= 1 else ""
        raise ValueError(
            f"{what}: time offset column must be seconds relative to the key sweep in "
            f"[-{MAX_TIME_BEHIND_S:g}, {MAX_TIME_AHEAD_S:g}], got {offset.min():g}..{offset.max():g}{hint}"
        )


def _check_points(points: np.ndarray, what: str) -> np.ndarray:
    """(N, 5) finite points as float32; ValueError naming ``what`` otherwise."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 5:
        raise ValueError(f"{what} points must be (N, 5), got {points.shape}")
    points = points.astype(np.float32, copy=False)
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{what} points contain NaN or Inf")
    check_lidar_columns(points, f"{what} points")
    return points


@dataclass
class Lidar:
    """One (possibly multi-sweep) LiDAR point cloud.

    Attributes:
        points: (N, 5) float32: x, y, z in metres in the **ego frame at ``timestamp``**,
            intensity (0-255 as nuScenes), time offset in seconds relative to ``timestamp``
            (0 for the key sweep, negative for earlier sweeps). Raises ValueError for values
            outside these ranges (see :func:`check_lidar_columns`).
        lidar_to_ego: (4, 4) mounting of the sensor on the car.
        timestamp: time of the key sweep in microseconds.
    """

    points: np.ndarray
    lidar_to_ego: np.ndarray
    timestamp: int

    def __post_init__(self) -> None:
        self.points = _check_points(self.points, "lidar")
        self.lidar_to_ego = np.asarray(self.lidar_to_ego, dtype=np.float64)
        check_transform(self.lidar_to_ego, "lidar_to_ego")
        self.timestamp = int(self.timestamp)


@dataclass
class Sweep:
    """A raw, non-key LiDAR sweep, as recorded (what nuScenes stores under ``sweeps/``).

    Attributes:
        points: (N, 5) float32 x, y, z, intensity, 0 in the **ego frame at ``timestamp``**.
        ego_to_global: (4, 4) ego pose at ``timestamp``.
        timestamp: microseconds.
    """

    points: np.ndarray
    ego_to_global: np.ndarray
    timestamp: int

    def __post_init__(self) -> None:
        self.points = _check_points(self.points, "sweep")
        self.ego_to_global = np.asarray(self.ego_to_global, dtype=np.float64)
        check_transform(self.ego_to_global, "sweep ego_to_global")
        self.timestamp = int(self.timestamp)


@dataclass(frozen=True)
class BevGrid:
    """An axis-aligned bird's-eye-view grid in the ego frame.

    Cell ``[i, j]`` covers x in ``[xmin + i * resolution, xmin + (i + 1) * resolution)`` and y in
    ``[ymin + j * resolution, ...)``: the first array axis runs along ego +x (forward), the second
    along ego +y (left). Units: metres.
    """

    xmin: float = -50.0
    xmax: float = 50.0
    ymin: float = -50.0
    ymax: float = 50.0
    resolution: float = 0.5

    def __post_init__(self) -> None:
        if not (self.xmax > self.xmin and self.ymax > self.ymin and self.resolution > 0):
            raise ValueError(f"invalid BEV grid {self}")

    @property
    def shape(self) -> tuple[int, int]:
        """(X cells, Y cells)."""
        return (
            int(round((self.xmax - self.xmin) / self.resolution)),
            int(round((self.ymax - self.ymin) / self.resolution)),
        )

    def cell_centers(self) -> tuple[np.ndarray, np.ndarray]:
        """Ego x (X,) and y (Y,) coordinates of the cell centres in metres."""
        nx, ny = self.shape
        xs = self.xmin + (np.arange(nx) + 0.5) * self.resolution
        ys = self.ymin + (np.arange(ny) + 0.5) * self.resolution
        return xs, ys


@dataclass
class BevMap:
    """Semantic BEV map rasters around the ego car.

    Attributes:
        layers: (C, X, Y) bool, one channel per :data:`sensors.classes.MAP_CLASSES` entry.
        grid: the ego-frame grid the rasters are on.
    """

    layers: np.ndarray
    grid: BevGrid = field(default_factory=BevGrid)

    def __post_init__(self) -> None:
        self.layers = np.asarray(self.layers).astype(bool, copy=False)
        expected = (len(MAP_CLASSES), *self.grid.shape)
        if self.layers.shape != expected:
            raise ValueError(f"BEV map layers must be {expected}, got {self.layers.shape}")


@dataclass
class DriverLabels:
    """Per-frame driver-monitoring ground truth of the cabin camera.

    Every field may be None: not labelled in this dataset (DMD has no head pose, its distraction
    recordings no eye state...); the scoring leaves such frames out of that field's metrics.

    Attributes:
        eye_openness: 0 (closed) to 1 (wide open), mean of both eyes.
        eye_state: index into :data:`sensors.classes.EYE_STATES`.
        gaze_zone: index into :data:`sensors.classes.GAZE_ZONES`.
        head_pose: (yaw, pitch, roll) in degrees, driver's head relative to looking straight
            ahead (yaw left positive, pitch up positive, roll right-ear-down positive).
        phone: the driver holds or uses a phone.
        looking_at_road: for labels that say only whether the driver looks at the road, not
            where (DMD's ``gaze_on_road``); None where ``gaze_zone`` says it.
    """

    eye_openness: float | None
    eye_state: int | None
    gaze_zone: int | None
    head_pose: tuple[float, float, float] | None
    phone: bool | None
    looking_at_road: bool | None = None

    def __post_init__(self) -> None:
        if self.eye_openness is not None:
            if not 0.0 <= float(self.eye_openness) <= 1.0:
                raise ValueError(f"eye_openness {self.eye_openness} outside [0, 1]")
            self.eye_openness = float(self.eye_openness)
        if self.eye_state is not None:
            if not 0 <= int(self.eye_state) < len(EYE_STATES):
                raise ValueError(f"eye_state {self.eye_state} outside [0, {len(EYE_STATES)})")
            self.eye_state = int(self.eye_state)
        if self.gaze_zone is not None:
            if not 0 <= int(self.gaze_zone) < len(GAZE_ZONES):
                raise ValueError(f"gaze_zone {self.gaze_zone} outside [0, {len(GAZE_ZONES)})")
            self.gaze_zone = int(self.gaze_zone)
        if self.head_pose is not None:
            pose = tuple(float(v) for v in self.head_pose)
            if len(pose) != 3 or not np.all(np.isfinite(pose)):
                raise ValueError(f"head_pose must be 3 finite angles in degrees, got {self.head_pose}")
            self.head_pose = pose  # type: ignore[assignment]
        if self.phone is not None:
            self.phone = bool(self.phone)
        if self.looking_at_road is not None:
            self.looking_at_road = bool(self.looking_at_road)

    @property
    def complete(self) -> bool:
        """Every field of the simulator's labels is known (what training needs)."""
        return None not in (self.eye_openness, self.eye_state, self.gaze_zone, self.head_pose, self.phone)


@dataclass
class Annotations:
    """Ground truth of one frame; every part is optional (partial labels are normal)."""

    boxes: Boxes3D | None = None
    bev_map: BevMap | None = None
    depth: dict[str, np.ndarray] = field(default_factory=dict)
    driver: DriverLabels | None = None


@dataclass
class Frame:
    """One time step of the car.

    Attributes:
        token: unique id of the sample (nuScenes sample token, KITTI frame id, ...).
        scene: name of the drive / scene the frame belongs to.
        timestamp: microseconds.
        ego_to_global: (4, 4) pose of the ego frame in the global (map) frame.
        lidar: the LiDAR cloud in the ego frame, or None (sensor missing).
        cameras: camera name -> :class:`Camera`, in rig order; may be empty (sensor missing).
        cabin: the driver-facing camera, or None.
        annotations: ground truth, or None for unlabelled data.
        sweeps: raw non-key LiDAR sweeps recorded since the previous key frame, oldest first
            (filled by the simulator for the writers; readers aggregate sweeps into ``lidar``
            instead and leave this empty).
    """

    token: str
    scene: str
    timestamp: int
    ego_to_global: np.ndarray
    lidar: Lidar | None = None
    cameras: dict[str, Camera] = field(default_factory=dict)
    cabin: Camera | None = None
    annotations: Annotations | None = None
    sweeps: list[Sweep] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.timestamp = int(self.timestamp)
        self.ego_to_global = np.asarray(self.ego_to_global, dtype=np.float64)
        check_transform(self.ego_to_global, "ego_to_global")
        for name, camera in self.cameras.items():
            if camera.name != name:
                raise ValueError(f"camera stored under {name!r} is named {camera.name!r}")


class FrameSequence(Sequence[Frame]):
    """A dataset as a sequence of frames read on access: a subclass gives ``__len__`` and
    :meth:`read` (one frame by a non-negative index); indexing with a negative index or a slice
    and iteration come from here.

    Raises (``__getitem__``):
        IndexError: an index outside ``[-len, len)``.
    """

    def read(self, index: int) -> Frame:  # pragma: no cover - every dataset defines it
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> Frame: ...
    @overload
    def __getitem__(self, index: slice) -> list[Frame]: ...

    def __getitem__(self, index: int | slice) -> Frame | list[Frame]:
        if isinstance(index, slice):
            return [self.read(i) for i in range(*index.indices(len(self)))]
        size = len(self)
        if not -size <= index < size:
            raise IndexError(f"frame index {index} outside a dataset of {size} frames")
        return self.read(index % size)

    def __iter__(self) -> Iterator[Frame]:
        for i in range(len(self)):
            yield self.read(i)
