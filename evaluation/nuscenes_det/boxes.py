"""Column-wise box sets of the nuScenes detection evaluation, in the **global** frame.

nuScenes conventions are kept here (unlike :class:`sensors.boxes.Boxes3D`): ``size`` is
**width, length, height** in metres and ``rotation`` a quaternion ``(w, x, y, z)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensors.boxes import Boxes3D
from sensors.classes import ATTRIBUTES, DETECTION_CLASSES
from sensors.geometry import quaternion_to_yaw, yaw_to_quaternion

_FIELDS = ("sample", "translation", "size", "rotation", "velocity", "label", "score", "attribute", "num_pts")


@dataclass
class DetectionBoxes:
    """N boxes of many samples, in the global frame.

    Attributes:
        sample: (N,) int64 index of each box's sample in the owning sample-token list.
        translation: (N, 3) float64 box centre, metres, global frame.
        size: (N, 3) float64 width, length, height in metres.
        rotation: (N, 4) float64 quaternion (w, x, y, z), global frame.
        velocity: (N, 2) float64 vx, vy in m/s, global frame; NaN where unknown.
        label: (N,) int64 index into :data:`sensors.classes.DETECTION_CLASSES`.
        score: (N,) float64 detection score (-1 for ground truth).
        attribute: (N,) int64 index into :data:`sensors.classes.ATTRIBUTES`, -1 for none.
        num_pts: (N,) int64 LiDAR + radar points in the box, -1 when unknown (predictions).

    The row order is meaningful: it is the order of the submission file (or of the
    annotation table) and breaks ties exactly as the devkit does.
    """

    sample: np.ndarray
    translation: np.ndarray
    size: np.ndarray
    rotation: np.ndarray
    velocity: np.ndarray
    label: np.ndarray
    score: np.ndarray
    attribute: np.ndarray
    num_pts: np.ndarray

    def __post_init__(self) -> None:
        self.sample = np.asarray(self.sample, np.int64).reshape(-1)
        n = len(self.sample)
        self.translation = np.asarray(self.translation, np.float64).reshape(n, 3)
        self.size = np.asarray(self.size, np.float64).reshape(n, 3)
        self.rotation = np.asarray(self.rotation, np.float64).reshape(n, 4)
        self.velocity = np.asarray(self.velocity, np.float64).reshape(n, 2)
        self.label = np.asarray(self.label, np.int64).reshape(n)
        self.score = np.asarray(self.score, np.float64).reshape(n)
        self.attribute = np.asarray(self.attribute, np.int64).reshape(n)
        self.num_pts = np.asarray(self.num_pts, np.int64).reshape(n)
        for name in ("translation", "size", "rotation", "score"):
            bad = ~np.isfinite(getattr(self, name))
            bad = bad.any(axis=1) if bad.ndim > 1 else bad
            if bad.any():
                raise ValueError(f"box {int(np.flatnonzero(bad)[0])}: {name} is NaN or infinite")
        if np.any(self.size <= 0):
            raise ValueError(f"box {int(np.flatnonzero(np.any(self.size <= 0, axis=1))[0])}: size must be > 0")
        if np.any(np.linalg.norm(self.rotation, axis=1) < 1e-12):
            raise ValueError("a box has a zero quaternion")
        if np.any((self.label < 0) | (self.label >= len(DETECTION_CLASSES))):
            raise ValueError("box label outside the detection classes")
        if np.any((self.attribute < -1) | (self.attribute >= len(ATTRIBUTES))):
            raise ValueError("box attribute outside the nuScenes attributes")

    def __len__(self) -> int:
        return len(self.sample)

    @property
    def yaw(self) -> np.ndarray:
        """(N,) yaw in radians about global +z."""
        return np.asarray(quaternion_to_yaw(self.rotation), dtype=np.float64).reshape(len(self))

    @classmethod
    def empty(cls) -> DetectionBoxes:
        """Zero boxes."""
        return cls(np.zeros(0), np.zeros((0, 3)), np.ones((0, 3)), np.zeros((0, 4)), np.zeros((0, 2)),
                   np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))

    def select(self, index: np.ndarray) -> DetectionBoxes:
        """The rows given by a boolean mask or integer index, in that order (no re-validation)."""
        out = object.__new__(DetectionBoxes)
        for name in _FIELDS:
            setattr(out, name, getattr(self, name)[index])
        return out

    @classmethod
    def concatenate(cls, parts: list[DetectionBoxes]) -> DetectionBoxes:
        """All rows of ``parts`` in order."""
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


@dataclass
class GroundTruth:
    """Ground truth of an evaluation split.

    Attributes:
        sample_tokens: the evaluated samples, in dataset order.
        ego_translation: (S, 3) ego position (metres, global) of each sample at its LIDAR_TOP key frame.
        boxes: the annotated boxes (``score`` -1), ``sample`` indexing ``sample_tokens``.
        bike_racks: bicycle-rack annotations (``static_object.bicycle_rack``); bicycles and motorcycles
            whose centre lies inside one are not evaluated. Empty where the data has none.
    """

    sample_tokens: list[str]
    ego_translation: np.ndarray
    boxes: DetectionBoxes
    bike_racks: DetectionBoxes

    def __post_init__(self) -> None:
        self.ego_translation = np.asarray(self.ego_translation, np.float64).reshape(len(self.sample_tokens), 3)
        if len(set(self.sample_tokens)) != len(self.sample_tokens):
            raise ValueError("ground truth has duplicate sample tokens")
        for name in ("boxes", "bike_racks"):
            part = getattr(self, name)
            if len(part) and (part.sample.min() < 0 or part.sample.max() >= len(self.sample_tokens)):
                raise ValueError(f"ground truth {name} refer to samples outside sample_tokens")


def ego_to_global_columns(boxes: Boxes3D, ego_to_global: np.ndarray) -> tuple[Boxes3D, np.ndarray, np.ndarray]:
    """The one ego -> global rule of the evaluation: ego-frame ``boxes`` moved by the (4, 4) pose
    (centre, yaw and velocity), their sizes as nuScenes width, length, height (N, 3) and their yaws
    as quaternions about +z (N, 4) ``(w, x, y, z)``. Values are not checked here."""
    world = boxes.transform(np.asarray(ego_to_global, np.float64))
    rotation = np.array([yaw_to_quaternion(float(y)) for y in world.yaw]).reshape(len(world), 4)
    return world, world.size[:, [1, 0, 2]], rotation


def boxes_from_ego(boxes: Boxes3D, ego_to_global: np.ndarray, sample: int, scores: bool = True) -> DetectionBoxes:
    """Ego-frame ``boxes`` of sample index ``sample`` as global-frame :class:`DetectionBoxes`
    (:func:`ego_to_global_columns`; ``num_pts`` from ``num_lidar_points``).

    Args:
        ego_to_global: (4, 4) pose of the sample.
        scores: keep the boxes' scores (predictions); False writes -1 (ground truth).
    """
    world, size, rotation = ego_to_global_columns(boxes, ego_to_global)
    n = len(world)
    return DetectionBoxes(
        sample=np.full(n, sample), translation=world.center, size=size, rotation=rotation,
        velocity=world.velocity, label=world.label, score=world.score if scores else np.full(n, -1.0),
        attribute=world.attribute, num_pts=world.num_lidar_points,
    )
