"""Minimal column-wise reader of KITTI object label files, for the evaluation.

A line is ``type truncated occluded alpha left top right bottom h w l x y z rotation_y [score]``:
pixels for the 2D box, metres for dimensions (height, width, length) and location (bottom centre
in the rectified camera frame: x right, y down, z forward), radians for angles.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from sensors.kitti.labels import check_type
from sensors.reading import read_text


#: Type of the "ignore" regions, whose size fields are -1 placeholders.
DONT_CARE = "DontCare"


def _check_box(numbers: Sequence[float], source: str, line: int) -> None:
    """A degenerate object box is an error: 3D size h, w, l must be > 0 and the 2D box not inverted."""
    left, top, right, bottom = numbers[3:7]
    if min(numbers[7:10]) <= 0:
        raise ValueError(f"{source}: line {line}: non-positive size h, w, l = {tuple(numbers[7:10])}")
    if right < left or bottom < top:
        raise ValueError(f"{source}: line {line}: inverted 2D box left, top, right, bottom = "
                         f"{tuple(numbers[3:7])}")


@dataclass
class KittiLabels:
    """All objects of one image.

    Attributes:
        name: (N,) object types (``Car``, ``Van``, ``Pedestrian``, ``DontCare`` ...).
        truncated: (N,) 0..1.
        occluded: (N,) int 0..3.
        alpha: (N,) observation angle, radians.
        bbox: (N, 4) left, top, right, bottom in pixels.
        dimensions: (N, 3) height, width, length in metres.
        location: (N, 3) bottom centre x, y, z in metres, camera frame.
        rotation_y: (N,) radians about camera y.
        score: (N,) confidence (predictions); 1 for ground truth without scores.
    """

    name: np.ndarray
    truncated: np.ndarray
    occluded: np.ndarray
    alpha: np.ndarray
    bbox: np.ndarray
    dimensions: np.ndarray
    location: np.ndarray
    rotation_y: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.name)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[str]], source: str = "labels") -> "KittiLabels":
        """Build from split label lines (15 fields, or 16 with a score).

        Raises:
            ValueError naming ``source`` and the line: a wrong field count, a non-numeric, NaN or
            infinite field, or (except ``DontCare``) a size h, w or l <= 0 or a 2D box with
            right < left or bottom < top.
            sensors.errors.InvalidValueError: a type that is not a KITTI type (case-sensitive).
        """
        names, values, scores = [], [], []
        for i, row in enumerate(rows):
            if len(row) not in (15, 16):
                raise ValueError(f"{source}: line {i + 1} has {len(row)} fields, expected 15 or 16")
            try:
                numbers = [float(v) for v in row[1:]]
            except ValueError:
                raise ValueError(f"{source}: line {i + 1} has a non-numeric field") from None
            if not np.all(np.isfinite(numbers)):
                raise ValueError(f"{source}: line {i + 1} has NaN or infinite values")
            check_type(row[0], source, i + 1)
            if row[0] != DONT_CARE:
                _check_box(numbers, source, i + 1)
            names.append(row[0])
            values.append(numbers[:14])
            scores.append(numbers[14] if len(numbers) == 15 else 1.0)
        v = np.asarray(values, np.float64).reshape(-1, 14)
        return cls(np.asarray(names, dtype=object), v[:, 0], v[:, 1].astype(np.int64), v[:, 2], v[:, 3:7], v[:, 7:10],
                   v[:, 10:13], v[:, 13], np.asarray(scores, np.float64))


def read_labels(path: str | Path) -> KittiLabels:
    """Parse one label file (ground truth or predictions with scores); an empty file gives 0 objects.

    Raises:
        sensors.errors.SensorDataError: the file is missing, a folder, not text, or has an unknown type;
        ValueError: a malformed line (see :meth:`KittiLabels.from_rows`).
    """
    path = Path(path)
    rows = [line.split() for line in read_text(path, "KITTI label file").splitlines() if line.strip()]
    return KittiLabels.from_rows(rows, str(path))


def read_label_folder(folder: str | Path, ids: Sequence[str] | None = None) -> tuple[list[str], list[KittiLabels]]:
    """Label files ``<folder>/<id>.txt`` for ``ids`` (default: every ``.txt`` in sorted order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: KITTI label folder not found")
    if ids is None:
        ids = sorted(p.stem for p in folder.glob("*.txt"))
    return list(ids), [read_labels(folder / f"{i}.txt") for i in ids]
