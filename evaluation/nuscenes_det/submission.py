"""The official nuScenes detection submission JSON: reading, writing, and building it from model boxes.

Format: ``{"meta": {...}, "results": {sample_token: [box, ...]}}`` with every box
``{sample_token, translation (x, y, z), size (w, l, h), rotation (w, x, y, z), velocity (vx, vy),
detection_name, detection_score, attribute_name}`` in the **global** frame, metres, m/s.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evaluation.files import atomic_write
from evaluation.nuscenes_det.boxes import DetectionBoxes
from sensors.boxes import Boxes3D
from sensors.classes import ATTRIBUTES, DETECTION_CLASSES
from sensors.geometry import yaw_to_quaternion

#: Attribute written for a box whose attribute the model did not predict (the usual choice of
#: public nuScenes codebases); classes without attributes get "".
DEFAULT_ATTRIBUTE: dict[str, str] = {
    "car": "vehicle.parked", "truck": "vehicle.parked", "bus": "vehicle.moving", "trailer": "vehicle.parked",
    "construction_vehicle": "vehicle.parked", "pedestrian": "pedestrian.moving",
    "motorcycle": "cycle.without_rider", "bicycle": "cycle.without_rider", "traffic_cone": "", "barrier": "",
}

#: ``meta`` block of a submission made from camera and LiDAR without map, radar or external data.
DEFAULT_META: dict[str, bool] = {
    "use_camera": True, "use_lidar": True, "use_radar": False, "use_map": False, "use_external": False,
}

_CLASS_INDEX = {name: i for i, name in enumerate(DETECTION_CLASSES)}
_ATTRIBUTE_INDEX = {name: i for i, name in enumerate(ATTRIBUTES)}
_ATTRIBUTE_INDEX[""] = -1


def boxes_to_entries(boxes: Boxes3D, ego_to_global: np.ndarray, sample_token: str) -> list[dict[str, Any]]:
    """Submission entries of ``boxes`` given in the **ego** frame of a sample with pose ``ego_to_global`` (4, 4).

    Sizes go from length, width, height to nuScenes width, length, height; yaw becomes a
    quaternion about +z; velocity is rotated into the global frame. A box without attribute
    (-1) gets :data:`DEFAULT_ATTRIBUTE` of its class.
    """
    world = boxes.transform(np.asarray(ego_to_global, np.float64))
    entries = []
    for i in range(len(world)):
        name = DETECTION_CLASSES[int(world.label[i])]
        attribute = ATTRIBUTES[int(world.attribute[i])] if world.attribute[i] >= 0 else DEFAULT_ATTRIBUTE[name]
        length, width, height = world.size[i]
        entries.append({
            "sample_token": sample_token,
            "translation": [float(v) for v in world.center[i]],
            "size": [float(width), float(length), float(height)],
            "rotation": [float(v) for v in yaw_to_quaternion(float(world.yaw[i]))],
            "velocity": [float(v) for v in world.velocity[i]],
            "detection_name": name,
            "detection_score": float(world.score[i]),
            "attribute_name": attribute,
        })
    return entries


def write_submission(path: str | Path, results: dict[str, list[dict[str, Any]]],
                     meta: dict[str, Any] | None = None) -> None:
    """Write a submission JSON atomically (temp file in the same folder, then rename)."""
    payload = {"meta": dict(DEFAULT_META if meta is None else meta), "results": results}
    atomic_write(path, lambda f: json.dump(payload, f))


def _vector(entry: dict, key: str, length: int, where: str) -> list[float]:
    value = entry.get(key)
    if not isinstance(value, (list, tuple)) or len(value) != length:
        raise ValueError(f"{where}: field {key!r} must be a list of {length} numbers, got {value!r}")
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: field {key!r} must hold numbers, got {value!r}") from None


def parse_submission(data: dict[str, Any], sample_tokens: Sequence[str], max_boxes_per_sample: int = 500,
                     source: str = "submission") -> tuple[DetectionBoxes, dict[str, Any]]:
    """Validate a decoded submission and return its boxes (in file order) and its ``meta``.

    ``sample`` of the returned boxes indexes ``sample_tokens`` (the evaluated split). As the devkit,
    every sample of the split must be present (an empty list is fine) and no other sample.

    Raises:
        ValueError: naming ``source`` and what is wrong (missing field, unknown or missing sample,
            NaN or non-positive values, unknown class or attribute, too many boxes for a sample).
    """
    if not isinstance(data, dict) or "results" not in data or "meta" not in data:
        raise ValueError(f"{source}: expected a JSON object with 'meta' and 'results'")
    results = data["results"]
    if not isinstance(results, dict):
        raise ValueError(f"{source}: 'results' must map sample tokens to lists of boxes")
    index = {token: i for i, token in enumerate(sample_tokens)}
    unknown = [t for t in results if t not in index]
    if unknown:
        raise ValueError(f"{source}: {len(unknown)} sample token(s) not in the evaluated split, e.g. {unknown[0]!r}")
    missing = [t for t in sample_tokens if t not in results]
    if missing:
        raise ValueError(f"{source}: {len(missing)} sample(s) of the split have no entry (give [] for no boxes), "
                         f"e.g. {missing[0]!r}")
    where: list[str] = []
    raw: dict[str, list] = {k: [] for k in ("translation", "size", "rotation", "velocity")}
    sample, label, score, attribute, num_pts = [], [], [], [], []
    for token, entries in results.items():
        if not isinstance(entries, list):
            raise ValueError(f"{source}: results[{token!r}] must be a list")
        if len(entries) > max_boxes_per_sample:
            raise ValueError(f"{source}: sample {token!r} has {len(entries)} boxes, at most {max_boxes_per_sample} allowed")
        for j, entry in enumerate(entries):
            here = f"{source}: results[{token!r}][{j}]"
            if not isinstance(entry, dict):
                raise ValueError(f"{here}: must be an object")
            if entry.get("sample_token") != token:
                raise ValueError(f"{here}: sample_token {entry.get('sample_token')!r} differs from its key")
            name = entry.get("detection_name")
            if name not in _CLASS_INDEX:
                raise ValueError(f"{here}: unknown detection_name {name!r}; expected one of {DETECTION_CLASSES}")
            attr = entry.get("attribute_name")
            if attr not in _ATTRIBUTE_INDEX:
                raise ValueError(f"{here}: unknown attribute_name {attr!r}")
            value = entry.get("detection_score")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{here}: detection_score must be a finite number, got {value!r}")
            for key, values in raw.items():
                values.append(entry.get(key))
            where.append(here)
            sample.append(index[token])
            label.append(_CLASS_INDEX[name])
            score.append(float(value))
            attribute.append(_ATTRIBUTE_INDEX[attr])
            num_pts.append(int(entry.get("num_pts", -1)))
    if not where:
        return DetectionBoxes.empty(), dict(data["meta"])
    arrays = {}
    for key, length in (("translation", 3), ("size", 3), ("rotation", 4), ("velocity", 2)):
        try:
            arrays[key] = np.asarray(raw[key], np.float64).reshape(len(where), length)
        except (TypeError, ValueError):
            for here, entry_value in zip(where, raw[key]):  # find and name the offending box
                _vector({key: entry_value}, key, length, here)
            raise
    # NaN velocity is allowed: the devkit counts it as unknown (its error is skipped).
    for key in ("translation", "size", "rotation"):
        bad = np.flatnonzero(~np.isfinite(arrays[key]).all(axis=1))
        if len(bad):
            raise ValueError(f"{where[bad[0]]}: {key} has NaN or infinite values {arrays[key][bad[0]].tolist()}")
    bad = np.flatnonzero((arrays["size"] <= 0).any(axis=1))
    if len(bad):
        raise ValueError(f"{where[bad[0]]}: size must be > 0, got {arrays['size'][bad[0]].tolist()}")
    bad = np.flatnonzero(~arrays["rotation"].any(axis=1))
    if len(bad):
        raise ValueError(f"{where[bad[0]]}: rotation is the zero quaternion")
    boxes = DetectionBoxes(sample=np.asarray(sample), label=np.asarray(label), score=np.asarray(score),
                           attribute=np.asarray(attribute), num_pts=np.asarray(num_pts), **arrays)
    return boxes, dict(data["meta"])


def read_submission(path: str | Path, sample_tokens: Sequence[str],
                    max_boxes_per_sample: int = 500) -> tuple[DetectionBoxes, dict[str, Any]]:
    """Read and validate a submission JSON file (see :func:`parse_submission`)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: prediction file does not exist")
    try:
        with path.open() as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    return parse_submission(data, sample_tokens, max_boxes_per_sample, source=str(path))
