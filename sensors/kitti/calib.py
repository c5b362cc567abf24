"""KITTI object calibration files (``calib/<id>.txt``) and the frames they define.

KITTI frames:
- **velodyne**: x forward, y left, z up, at the laser scanner (1.73 m above the ground).
- **reference camera** (camera 0): x right, y down, z forward; ``Tr_velo_to_cam`` maps velodyne
  points into it, ``R0_rect`` then rotates it into the **rectified** reference frame, the frame
  of the label locations.
- **camera i** (rectified): ``P_i = K_i [I | t_i]`` projects rectified reference coordinates into
  image i; ``t_i = K_i^-1 P_i[:, 3]`` is the offset of camera i from camera 0 (about 6 cm to the
  left for camera 2, so ``P2[0, 3] = fx * 0.06``).
- **ego** (this project): the velodyne frame moved down to the ground by :data:`VELODYNE_HEIGHT`,
  so ``lidar_to_ego`` is a pure translation ``(0, 0, 1.73)`` (x forward, y left, z up).

Units: metres, pixels.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensors.errors import CorruptDataError, InvalidValueError, MissingDataError
from sensors.geometry import invert_transform, make_transform
from sensors.reading import read_text

#: Height of the KITTI velodyne above the ground in metres (KITTI sensor setup).
VELODYNE_HEIGHT = 1.73

#: Deviation of ``R R^T`` from identity above which a calibration rotation is rejected; below
#: it the rotation is snapped to the nearest orthonormal matrix (published values have 7 digits).
ROTATION_TOLERANCE = 1e-3

#: Field name -> number of values. Only :data:`_REQUIRED` must be present; a missing
#: ``P0``/``P1``/``P3`` is taken equal to ``P2`` and a missing ``Tr_imu_to_velo`` to identity.
_FIELDS: dict[str, int] = {
    "P0": 12, "P1": 12, "P2": 12, "P3": 12, "R0_rect": 9, "Tr_velo_to_cam": 12, "Tr_imu_to_velo": 12,
}
_REQUIRED = ("P2", "R0_rect", "Tr_velo_to_cam")
#: Spellings of the same fields in the KITTI tracking / raw calibration files.
_ALIASES = {"R_rect": "R0_rect", "Tr_velo_cam": "Tr_velo_to_cam", "Tr_imu_velo": "Tr_imu_to_velo"}
#: ``KEY: values``: the key, then a colon and/or any whitespace (space, tab or none after the colon).
_LINE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::|\s)(.*)")


def velo_to_ego() -> np.ndarray:
    """(4, 4) velodyne -> ego transform: up-shift of the ground by :data:`VELODYNE_HEIGHT`."""
    return make_transform(np.eye(3), [0.0, 0.0, VELODYNE_HEIGHT])


def _as_rigid(matrix: np.ndarray, source: Path, name: str) -> np.ndarray:
    """A (3, 4) or (3, 3) calibration block as a rigid (4, 4) transform, rotation snapped to SO(3)."""
    rotation = matrix[:, :3]
    if np.abs(rotation @ rotation.T - np.eye(3)).max() > ROTATION_TOLERANCE or np.linalg.det(rotation) <= 0:
        raise InvalidValueError(source, f"{name} is not a rotation (R R^T != I or det <= 0)")
    u, _, vt = np.linalg.svd(rotation)
    translation = matrix[:, 3] if matrix.shape[1] == 4 else np.zeros(3)
    return make_transform(u @ vt, translation)


@dataclass
class KittiCalib:
    """The matrices of one KITTI calibration file.

    Attributes:
        projections: (4, 3, 4) ``P0..P3``, rectified reference frame -> pixels of camera i.
        r0_rect: (3, 3) reference camera -> rectified reference camera rotation.
        tr_velo_to_cam: (3, 4) velodyne -> reference camera (camera 0) rigid transform.
        tr_imu_to_velo: (3, 4) IMU -> velodyne rigid transform.
        source: the file it was read from (for error messages), or None.
    """

    projections: np.ndarray
    r0_rect: np.ndarray
    tr_velo_to_cam: np.ndarray
    tr_imu_to_velo: np.ndarray
    source: Path | None = None

    def intrinsics(self, camera: int = 2) -> np.ndarray:
        """(3, 3) pinhole matrix K of rectified camera ``camera`` (left block of ``P_camera``)."""
        k = self.projections[camera][:, :3].copy()
        if k[0, 0] <= 0 or k[1, 1] <= 0 or not np.allclose(k[2], [0.0, 0.0, 1.0]) or abs(k[1, 0]) > 1e-9:
            raise InvalidValueError(self.source, f"P{camera} is not a pinhole projection K [I | t]")
        return k

    def velo_to_rect(self) -> np.ndarray:
        """(4, 4) velodyne -> rectified reference camera, ``R0_rect @ Tr_velo_to_cam``."""
        tr = _as_rigid(self.tr_velo_to_cam, self.source, "Tr_velo_to_cam")
        r0 = _as_rigid(self.r0_rect, self.source, "R0_rect")
        return r0 @ tr

    def rect_to_camera(self, camera: int = 2) -> np.ndarray:
        """(4, 4) rectified reference frame -> rectified camera ``camera``: translation ``K^-1 P[:, 3]``."""
        offset = np.linalg.solve(self.intrinsics(camera), self.projections[camera][:, 3])
        return make_transform(np.eye(3), offset)

    def camera_to_ego(self, camera: int = 2) -> np.ndarray:
        """(4, 4) rectified camera ``camera`` (x right, y down, z forward) -> ego frame."""
        rect_to_ego = velo_to_ego() @ invert_transform(self.velo_to_rect())
        return rect_to_ego @ invert_transform(self.rect_to_camera(camera))

    def rect_to_ego(self) -> np.ndarray:
        """(4, 4) rectified reference frame (label locations) -> ego frame."""
        return velo_to_ego() @ invert_transform(self.velo_to_rect())

    @classmethod
    def from_camera(cls, intrinsics: np.ndarray, cam_to_ego: np.ndarray) -> KittiCalib:
        """Calibration of a rig whose rectified reference camera is the given camera itself.

        ``P0..P3 = [K | 0]`` (every camera slot gets the one camera), ``R0_rect = I``,
        ``Tr_velo_to_cam = ego_to_cam @ velo_to_ego`` and ``Tr_imu_to_velo`` = ego -> velodyne
        (the ego origin plays the IMU). Label locations are then in this camera's frame.
        """
        projection = np.concatenate([np.asarray(intrinsics, np.float64), np.zeros((3, 1))], axis=1)
        tr = invert_transform(np.asarray(cam_to_ego, np.float64)) @ velo_to_ego()
        return cls(
            projections=np.stack([projection] * 4),
            r0_rect=np.eye(3),
            tr_velo_to_cam=tr[:3],
            tr_imu_to_velo=invert_transform(velo_to_ego())[:3],
        )

    def to_text(self) -> str:
        """The calibration in the KITTI object file format (``KEY: v1 v2 ...`` per line)."""
        rows = [(f"P{i}", self.projections[i]) for i in range(4)]
        rows += [("R0_rect", self.r0_rect), ("Tr_velo_to_cam", self.tr_velo_to_cam), ("Tr_imu_to_velo", self.tr_imu_to_velo)]
        return "".join(f"{name}: {' '.join(f'{v:.12e}' for v in np.ravel(m))}\n" for name, m in rows)


def parse_calib(text: str, source: Path) -> KittiCalib:
    """Parse the text of a KITTI calibration file (object, tracking or raw spelling of the keys).

    A line is ``KEY: v1 v2 ...``: the colon may be followed by a space, a tab or nothing, and the
    values are separated by any whitespace; lines whose key is not a known field are ignored.

    Raises:
        CorruptDataError: a value that is not a number, a wrong count of values, a field given
            twice (naming the line); MissingDataError: a required field is absent;
            InvalidValueError: NaN/Inf values, a projection that is not ``K [I | t]``, a rotation
            that is not one.
    """
    values: dict[str, np.ndarray] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        match = _LINE.fullmatch(line)
        if match is None:
            continue
        key, rest = _ALIASES.get(match.group(1), match.group(1)), match.group(2)
        if key not in _FIELDS:
            continue
        if key in values:
            raise CorruptDataError(source, f"line {line_no}: {key} appears a second time")
        try:
            numbers = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            raise CorruptDataError(source, f"line {line_no}: {key} has a value that is not a number") from None
        if len(numbers) != _FIELDS[key]:
            raise CorruptDataError(source, f"line {line_no}: {key} has {len(numbers)} values, expected {_FIELDS[key]}")
        if not np.all(np.isfinite(numbers)):
            raise InvalidValueError(source, f"line {line_no}: {key} has NaN or Inf values")
        values[key] = numbers
    for key in _REQUIRED:
        if key not in values:
            raise MissingDataError(source, f"calibration field {key} is missing")
    p2 = values["P2"].reshape(3, 4)
    calib = KittiCalib(
        projections=np.stack([values[f"P{i}"].reshape(3, 4) if f"P{i}" in values else p2 for i in range(4)]),
        r0_rect=values["R0_rect"].reshape(3, 3),
        tr_velo_to_cam=values["Tr_velo_to_cam"].reshape(3, 4),
        tr_imu_to_velo=values["Tr_imu_to_velo"].reshape(3, 4) if "Tr_imu_to_velo" in values else np.eye(4)[:3],
        source=source,
    )
    calib.intrinsics(2)
    calib.velo_to_rect()
    return calib


def read_calib(path: Path) -> KittiCalib:
    """Read ``calib/<id>.txt``; raises :class:`sensors.errors.SensorDataError` subclasses."""
    path = Path(path)
    return parse_calib(read_text(path, "calibration file"), path)
