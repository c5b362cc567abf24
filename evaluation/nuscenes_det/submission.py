"""The official nuScenes detection submission JSON: reading, writing, and building it from model boxes.

Format: ``{"meta": {...}, "results": {sample_token: [box, ...]}}`` with every box
``{sample_token, translation (x, y, z), size (w, l, h), rotation (w, x, y, z), velocity (vx, vy),
detection_name, detection_score, attribute_name}`` in the **global** frame, metres, m/s.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from evaluation.nuscenes_det.boxes import DetectionBoxes, ego_to_global_columns
from evaluation.nuscenes_det.json_records import (
    collector_paused,
    convert_records,
    read_records,
    stack_floats,
)
from sensors.atomic import atomic_write
from sensors.boxes import Boxes3D
from sensors.classes import ATTRIBUTES, DETECTION_CLASSES

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

    Converted by :func:`evaluation.nuscenes_det.boxes.ego_to_global_columns`. A box without attribute
    (-1) gets :data:`DEFAULT_ATTRIBUTE` of its class.
    """
    world, size, rotation = ego_to_global_columns(boxes, ego_to_global)
    entries = []
    for i in range(len(world)):
        name = DETECTION_CLASSES[int(world.label[i])]
        attribute = ATTRIBUTES[int(world.attribute[i])] if world.attribute[i] >= 0 else DEFAULT_ATTRIBUTE[name]
        entries.append({
            "sample_token": sample_token,
            "translation": [float(v) for v in world.center[i]],
            "size": [float(v) for v in size[i]],
            "rotation": [float(v) for v in rotation[i]],
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


class _Box(msgspec.Struct, gc=False):
    """One submission box as the devkit reads it (``num_pts`` optional, -1 = unknown)."""

    sample_token: str
    translation: tuple[float, float, float]
    size: tuple[float, float, float]
    rotation: tuple[float, float, float, float]
    velocity: tuple[float, float]
    detection_name: str
    detection_score: float
    attribute_name: str
    num_pts: int = -1


class _Submission(msgspec.Struct):
    meta: dict[str, Any]
    results: dict[str, list[_Box]]


def _boxes(submission: _Submission, sample_tokens: Sequence[str], max_boxes_per_sample: int,
           source: str) -> DetectionBoxes:
    """The boxes of a typed submission in file order, checked against the evaluated ``sample_tokens``."""
    results = submission.results
    index = {token: i for i, token in enumerate(sample_tokens)}
    unknown = [t for t in results if t not in index]
    if unknown:
        raise ValueError(f"{source}: {len(unknown)} sample token(s) not in the evaluated split, e.g. {unknown[0]!r}")
    missing = [t for t in sample_tokens if t not in results]
    if missing:
        raise ValueError(f"{source}: {len(missing)} sample(s) of the split have no entry (give [] for no boxes), "
                         f"e.g. {missing[0]!r}")
    keys = list(results)
    counts = np.array([len(entries) for entries in results.values()], np.int64)
    if len(counts) and counts.max() > max_boxes_per_sample:
        token = keys[int(np.argmax(counts))]
        raise ValueError(f"{source}: sample {token!r} has {counts.max()} boxes, at most {max_boxes_per_sample} allowed")
    starts = np.cumsum(counts) - counts

    def where(k: int) -> str:
        s = int(np.searchsorted(starts, k, side="right")) - 1
        while counts[s] == 0:  # empty samples share their start with the next one
            s -= 1
        return f"{source}: results[{keys[s]!r}][{k - int(starts[s])}]"

    flat = [box for entries in results.values() for box in entries]
    n = len(flat)
    if n == 0:
        return DetectionBoxes.empty()
    sample = np.repeat(np.array([index[t] for t in keys], np.int64), counts)
    bad = np.flatnonzero(np.array([index.get(b.sample_token, -1) for b in flat], np.int64) != sample)
    if len(bad):
        raise ValueError(f"{where(bad[0])}: sample_token {flat[bad[0]].sample_token!r} differs from its key")
    label = np.array([_CLASS_INDEX.get(b.detection_name, -1) for b in flat], np.int64)
    bad = np.flatnonzero(label < 0)
    if len(bad):
        raise ValueError(f"{where(bad[0])}: unknown detection_name {flat[bad[0]].detection_name!r}; "
                         f"expected one of {DETECTION_CLASSES}")
    attribute = np.array([_ATTRIBUTE_INDEX.get(b.attribute_name, -2) for b in flat], np.int64)
    bad = np.flatnonzero(attribute < -1)
    if len(bad):
        raise ValueError(f"{where(bad[0])}: unknown attribute_name {flat[bad[0]].attribute_name!r}")
    score = np.fromiter([b.detection_score for b in flat], np.float64, n)
    bad = np.flatnonzero(~np.isfinite(score))
    if len(bad):
        raise ValueError(f"{where(bad[0])}: detection_score must be a finite number, got {score[bad[0]]!r}")
    arrays = {"translation": stack_floats([b.translation for b in flat], 3),
              "size": stack_floats([b.size for b in flat], 3),
              "rotation": stack_floats([b.rotation for b in flat], 4),
              "velocity": stack_floats([b.velocity for b in flat], 2)}
    # NaN velocity is allowed: the devkit counts it as unknown (its error is skipped).
    for key in ("translation", "size", "rotation"):
        bad = np.flatnonzero(~np.isfinite(arrays[key]).all(axis=1))
        if len(bad):
            raise ValueError(f"{where(bad[0])}: {key} has NaN or infinite values {arrays[key][bad[0]].tolist()}")
    bad = np.flatnonzero((arrays["size"] <= 0).any(axis=1))
    if len(bad):
        raise ValueError(f"{where(bad[0])}: size must be > 0, got {arrays['size'][bad[0]].tolist()}")
    bad = np.flatnonzero(~arrays["rotation"].any(axis=1))
    if len(bad):
        raise ValueError(f"{where(bad[0])}: rotation is the zero quaternion")
    return DetectionBoxes(sample=sample, label=label, score=score, attribute=attribute,
                          num_pts=np.array([b.num_pts for b in flat], np.int64), **arrays)


def parse_submission(data: dict[str, Any], sample_tokens: Sequence[str], max_boxes_per_sample: int = 500,
                     source: str = "submission") -> tuple[DetectionBoxes, dict[str, Any]]:
    """Validate a decoded submission and return its boxes (in file order) and its ``meta``.

    ``sample`` of the returned boxes indexes ``sample_tokens`` (the evaluated split). As the devkit,
    every sample of the split must be present (an empty list is fine) and no other sample.

    Raises:
        ValueError: naming ``source`` and what is wrong (missing field or one of the wrong type or
            length, unknown or missing sample, NaN or non-positive values, unknown class or
            attribute, too many boxes for a sample).
    """
    submission = convert_records(data, _Submission, source)
    return _boxes(submission, sample_tokens, max_boxes_per_sample, source), dict(submission.meta)


@collector_paused()
def read_submission(path: str | Path, sample_tokens: Sequence[str],
                    max_boxes_per_sample: int = 500) -> tuple[DetectionBoxes, dict[str, Any]]:
    """Read and validate a submission JSON file (see :func:`parse_submission`)."""
    path = Path(path)
    submission = read_records(path, _Submission, missing="prediction file does not exist")
    return _boxes(submission, sample_tokens, max_boxes_per_sample, str(path)), dict(submission.meta)
