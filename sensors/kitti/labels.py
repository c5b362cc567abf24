"""KITTI object label files (``label_2/<id>.txt``): parsing, writing, and :class:`Boxes3D` conversion.

A label line has 15 fields (ground truth) or 16 (a prediction with its score)::

    type truncated occluded alpha left top right bottom h w l x y z rotation_y [score]

``h, w, l`` are metres, ``x, y, z`` the **bottom centre** of the box in the rectified reference
camera frame (x right, y down, z forward), ``rotation_y`` the yaw about the camera y axis
(radians, 0 = box length along camera +x), ``alpha`` the observation angle
``rotation_y - arctan2(x, z)`` and the 2D box pixels in image 2.

The heading of a box in camera coordinates is ``(cos ry, 0, -sin ry)``; for a level camera
looking along ego +x this gives ``rotation_y = -yaw - pi/2``. The conversions here go through the
full calibration transforms instead, so they hold for any rig.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensors.boxes import Boxes3D
from sensors.classes import KITTI_TO_CLASS, class_index
from sensors.errors import CorruptDataError, InvalidValueError
from sensors.geometry import wrap_angle
from sensors.reading import read_text

#: KITTI type of "ignore" regions; its size and location fields are -1 / -1000 placeholders.
DONT_CARE = "DontCare"
#: Every object type of the KITTI object benchmark (its devkit's readme), spelled exactly.
KITTI_TYPES = ("Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc", DONT_CARE)


#: Smallest size written (metres): the 6 decimals of a label line never turn a positive size into 0.
_MIN_WRITTEN_SIZE = 1e-6


def _size_text(value: float) -> str:
    """A size field: 6 decimals; a positive size below 1e-6 m is written as 0.000001, not 0.000000."""
    return f"{_MIN_WRITTEN_SIZE if 0 < value < _MIN_WRITTEN_SIZE else value:.6f}"


@dataclass(frozen=True)
class KittiObject:
    """One line of a KITTI label file, with every field (units: metres, pixels, radians).

    Attributes:
        type: KITTI class (``Car``, ``Van``, ``Truck``, ``Pedestrian``, ``Person_sitting``,
            ``Cyclist``, ``Tram``, ``Misc`` or ``DontCare``).
        truncated: fraction of the object outside the image, 0..1 (-1 for DontCare).
        occluded: 0 fully visible, 1 partly occluded, 2 largely occluded, 3 unknown.
        alpha: observation angle in [-pi, pi].
        bbox: 2D box in image 2 pixels: left, top, right, bottom.
        dimensions: height, width, length in metres.
        location: bottom centre (x, y, z) in the rectified reference camera frame, metres.
        rotation_y: yaw about the camera y axis in [-pi, pi].
        score: detection confidence (predictions only), else None.
    """

    type: str
    truncated: float
    occluded: int
    alpha: float
    bbox: tuple[float, float, float, float]
    dimensions: tuple[float, float, float]
    location: tuple[float, float, float]
    rotation_y: float
    score: float | None = None

    def to_line(self) -> str:
        """The object as one label line (without newline), 16 fields when it has a score."""
        fields = [
            self.type, f"{self.truncated:.2f}", str(self.occluded), f"{self.alpha:.6f}",
            *(f"{v:.2f}" for v in self.bbox), *(_size_text(v) for v in self.dimensions),
            *(f"{v:.6f}" for v in self.location), f"{self.rotation_y:.6f}",
        ]
        if self.score is not None:
            fields.append(f"{self.score:.6f}")
        return " ".join(fields)


def parse_label_line(line: str, source: Path, line_no: int) -> KittiObject:
    """Parse one label line; raises CorruptDataError / InvalidValueError naming file and line.

    Checked: 15 or 16 fields, numbers where numbers belong, finite values, a known KITTI type
    (:data:`KITTI_TYPES`, case-sensitive), and for objects other than DontCare a positive size,
    ``truncated`` in [0, 1] and ``occluded`` in 0..3.
    """
    fields = line.split()
    if len(fields) not in (15, 16):
        raise CorruptDataError(source, f"line {line_no}: {len(fields)} fields, expected 15 (or 16 with a score)")
    try:
        numbers = [float(v) for v in fields[1:]]
        occluded = int(fields[2])
    except ValueError:
        raise CorruptDataError(source, f"line {line_no}: a field after the type is not a number") from None
    if not all(math.isfinite(v) for v in numbers):
        raise InvalidValueError(source, f"line {line_no}: NaN or Inf value")
    check_type(fields[0], source, line_no)
    obj = KittiObject(
        type=fields[0], truncated=numbers[0], occluded=occluded, alpha=numbers[2],
        bbox=(numbers[3], numbers[4], numbers[5], numbers[6]),
        dimensions=(numbers[7], numbers[8], numbers[9]),
        location=(numbers[10], numbers[11], numbers[12]), rotation_y=numbers[13],
        score=numbers[14] if len(numbers) == 15 else None,
    )
    if obj.type != DONT_CARE:
        if min(obj.dimensions) <= 0:
            raise InvalidValueError(source, f"line {line_no}: non-positive size h, w, l = {obj.dimensions}")
        if not 0.0 <= obj.truncated <= 1.0:
            raise InvalidValueError(source, f"line {line_no}: truncated {obj.truncated} outside [0, 1]")
        if obj.occluded not in (0, 1, 2, 3):
            raise InvalidValueError(source, f"line {line_no}: occluded {obj.occluded} not in 0..3")
    return obj


def check_type(name: str, source: Path | str, line_no: int) -> None:
    """Raise :class:`InvalidValueError` naming file and line unless ``name`` is one of :data:`KITTI_TYPES`.

    Types are case-sensitive in KITTI (the official evaluation compares them exactly, so a ``car``
    line would silently count as no object): a wrong case is reported with the right spelling.
    """
    if name in KITTI_TYPES:
        return
    spelled = [t for t in KITTI_TYPES if t.lower() == name.lower()]
    hint = f"did you mean {spelled[0]!r}? types are case-sensitive" if spelled else f"expected one of {', '.join(KITTI_TYPES)}"
    raise InvalidValueError(source, f"line {line_no}: unknown KITTI type {name!r}; {hint}")


def read_kitti_labels(path: Path) -> list[KittiObject]:
    """Every object of a label file, in file order (DontCare included)."""
    path = Path(path)
    text = read_text(path, "label file")
    return [
        parse_label_line(line, path, line_no)
        for line_no, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def format_kitti_labels(objects: list[KittiObject]) -> str:
    """Text of a label file holding ``objects`` (one line each)."""
    return "".join(obj.to_line() + "\n" for obj in objects)


def objects_to_boxes(objects: list[KittiObject], rect_to_ego: np.ndarray, token_prefix: str, source: Path) -> Boxes3D:
    """Ego-frame boxes of the objects whose type maps to a detection class (others skipped).

    Args:
        objects: parsed label lines.
        rect_to_ego: (4, 4) rectified reference camera -> ego transform of the frame.
        token_prefix: box tokens are ``"<token_prefix>:<index of the object in objects>"``.
        source: label file, for error messages.
    """
    keep = [i for i, obj in enumerate(objects) if obj.type in KITTI_TO_CLASS]
    if not keep:
        return Boxes3D.empty()
    chosen = [objects[i] for i in keep]
    dims = np.array([obj.dimensions for obj in chosen])  # h, w, l
    location = np.array([obj.location for obj in chosen])
    ry = np.array([obj.rotation_y for obj in chosen])
    center_rect = location - np.stack([np.zeros(len(chosen)), dims[:, 0] / 2.0, np.zeros(len(chosen))], axis=1)
    heading_rect = np.stack([np.cos(ry), np.zeros(len(chosen)), -np.sin(ry)], axis=1)
    rotation = rect_to_ego[:3, :3]
    center = center_rect @ rotation.T + rect_to_ego[:3, 3]
    heading = heading_rect @ rotation.T
    scores = np.array([1.0 if obj.score is None else obj.score for obj in chosen])
    bad = np.flatnonzero((scores < 0) | (scores > 1))
    if len(bad):
        raise InvalidValueError(source, f"object {keep[bad[0]]}: score {scores[bad[0]]} outside [0, 1]")
    return Boxes3D(
        center=center,
        size=dims[:, [2, 1, 0]],
        yaw=np.arctan2(heading[:, 1], heading[:, 0]),
        label=np.array([class_index(KITTI_TO_CLASS[obj.type]) for obj in chosen]),
        score=scores,
        token=[f"{token_prefix}:{i}" for i in keep],
    )


def observation_angle(rotation_y: float, location: np.ndarray) -> float:
    """KITTI alpha: ``rotation_y - arctan2(x, z)`` of the camera-frame location, in [-pi, pi)."""
    return float(wrap_angle(rotation_y - math.atan2(float(location[0]), float(location[2]))))
