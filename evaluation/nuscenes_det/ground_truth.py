"""Ground truth of a nuScenes split, read straight from the JSON tables of a nuScenes root.

Reproduces the devkit's ``load_gt`` + ``add_center_dist``: samples in ``sample.json`` order whose
scene is in the split; annotations in ``sample_annotation.json`` order; velocity estimated from
the neighbouring annotations of the same instance (centred difference when both exist, at most
3 s apart, one-sided at most 1.5 s apart, otherwise NaN); the ego position is that of the sample's
``LIDAR_TOP`` key frame.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from evaluation.nuscenes_det.boxes import DetectionBoxes, GroundTruth
from evaluation.nuscenes_det.splits import SCENE_SPLITS, SPLIT_VERSION
from sensors.classes import ATTRIBUTES, DETECTION_CLASSES, NUSCENES_CATEGORY_TO_CLASS

BIKE_RACK_CATEGORY = "static_object.bicycle_rack"
_TABLES = ("sample", "sample_data", "ego_pose", "sample_annotation", "instance", "category", "attribute", "scene",
           "calibrated_sensor", "sensor")
_MAX_TIME_DIFF_S = 1.5


def _load_table(folder: Path, name: str) -> list[dict]:
    path = folder / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"{path}: nuScenes table missing")
    try:
        with path.open() as f:
            table = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(table, list):
        raise ValueError(f"{path}: expected a list of records")
    return table


def split_scenes(split: str, version: str) -> tuple[str, ...]:
    """Scene names of an official split, checking that it belongs to ``version`` (e.g. ``v1.0-mini``)."""
    if split not in SCENE_SPLITS:
        raise ValueError(f"unknown nuScenes split {split!r}; expected one of {sorted(SCENE_SPLITS)}")
    if not version.endswith(SPLIT_VERSION[split]):
        raise ValueError(f"split {split!r} does not exist in nuScenes version {version!r}")
    return SCENE_SPLITS[split]


def _velocities(annotations: list[dict], rows: list[int], index: dict[str, int],
                sample_time_s: dict[str, float]) -> np.ndarray:
    """(len(rows), 2) velocity in m/s of the annotations ``rows`` (NaN where it cannot be estimated)."""
    own = [annotations[r] for r in rows]
    prev = [annotations[index[a["prev"]]] if a["prev"] else a for a in own]
    nxt = [annotations[index[a["next"]]] if a["next"] else a for a in own]
    has_prev = np.array([bool(a["prev"]) for a in own], bool)
    has_next = np.array([bool(a["next"]) for a in own], bool)
    n = len(own)
    first_xy = np.array([a["translation"][:2] for a in prev], np.float64).reshape(n, 2)
    last_xy = np.array([a["translation"][:2] for a in nxt], np.float64).reshape(n, 2)
    dt = (np.array([sample_time_s[a["sample_token"]] for a in nxt], np.float64)
          - np.array([sample_time_s[a["sample_token"]] for a in prev], np.float64))
    max_dt = np.where(has_prev & has_next, 2 * _MAX_TIME_DIFF_S, _MAX_TIME_DIFF_S)
    valid = (has_prev | has_next) & (dt <= max_dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        velocity = (last_xy - first_xy) / dt[:, None]
    velocity[~valid] = np.nan
    return velocity


def load_ground_truth(root: str | Path, version: str, split: str | None = None,
                      scenes: Sequence[str] | None = None) -> GroundTruth:
    """Ground truth of the samples of ``split`` (an official split) or of the named ``scenes``.

    Args:
        root: nuScenes root (holding ``<version>/sample.json`` ...).
        version: e.g. ``v1.0-trainval`` or ``v1.0-mini``.
        split: ``train``, ``val``, ``test``, ``mini_train`` or ``mini_val``; or None with ``scenes``.
        scenes: explicit scene names (a custom split), instead of ``split``.

    Raises:
        ValueError: missing or broken table, split not in this version, no sample in the split,
            a dangling token, or an annotation with more than one attribute.
    """
    if (split is None) == (scenes is None):
        raise ValueError("give exactly one of split or scenes")
    wanted = set(split_scenes(split, version) if split is not None else scenes)
    folder = Path(root) / version
    if not folder.is_dir():
        raise ValueError(f"{folder}: nuScenes version folder not found")
    t = {name: _load_table(folder, name) for name in _TABLES}
    by_token = {name: {r["token"]: r for r in t[name]} for name in _TABLES}

    def get(table: str, token: str, field: str) -> dict:
        try:
            return by_token[table][token]
        except KeyError:
            raise ValueError(f"{folder / (table + '.json')}: no record {token!r} (referenced by {field})") from None

    scene_name = {r["token"]: r["name"] for r in t["scene"]}
    samples = [s for s in t["sample"] if scene_name.get(s["scene_token"]) in wanted]
    if not samples:
        raise ValueError(f"{folder}: no sample belongs to {split or 'the given scenes'}")
    sample_index = {s["token"]: i for i, s in enumerate(samples)}

    ego = np.full((len(samples), 3), np.nan)
    for record in t["sample_data"]:
        i = sample_index.get(record["sample_token"])
        if i is None or not record.get("is_key_frame", False):
            continue
        calib = get("calibrated_sensor", record["calibrated_sensor_token"], "sample_data")
        if get("sensor", calib["sensor_token"], "calibrated_sensor")["channel"] == "LIDAR_TOP":
            ego[i] = get("ego_pose", record["ego_pose_token"], "sample_data")["translation"]
    if np.isnan(ego).any():
        missing = samples[int(np.flatnonzero(np.isnan(ego).any(axis=1))[0])]["token"]
        raise ValueError(f"{folder / 'sample_data.json'}: sample {missing!r} has no LIDAR_TOP key frame")

    category = {r["token"]: r["name"] for r in t["category"]}
    attribute_index = {r["token"]: ATTRIBUTES.index(r["name"]) for r in t["attribute"] if r["name"] in ATTRIBUTES}
    all_anns = t["sample_annotation"]
    ann_index = {a["token"]: i for i, a in enumerate(all_anns)}
    sample_time_s = {s["token"]: 1e-6 * s["timestamp"] for s in t["sample"]}
    for a in all_anns:
        for key in ("prev", "next"):
            if a[key] and a[key] not in ann_index:
                raise ValueError(f"{folder / 'sample_annotation.json'}: {a['token']!r} has unknown {key} {a[key]!r}")
    rows, racks = [], []
    for i, a in enumerate(all_anns):
        if a["sample_token"] not in sample_index:
            continue
        name = category.get(get("instance", a["instance_token"], "sample_annotation")["category_token"])
        if name == BIKE_RACK_CATEGORY:
            racks.append(i)
        elif name in NUSCENES_CATEGORY_TO_CLASS:
            rows.append(i)
    # Group by sample (sample order), keeping table order inside a sample, as the devkit lists them.
    rows = [rows[i] for i in np.argsort([sample_index[all_anns[r]["sample_token"]] for r in rows], kind="stable")]

    def boxes(indices: list[int], with_attributes: bool) -> DetectionBoxes:
        anns = [all_anns[i] for i in indices]
        attrs = []
        for a in anns:
            tokens = a["attribute_tokens"] if with_attributes else []
            if len(tokens) > 1:
                raise ValueError(f"{folder / 'sample_annotation.json'}: {a['token']!r} has more than one attribute")
            attrs.append(attribute_index.get(tokens[0], -1) if tokens else -1)
        n = len(anns)
        labels = [
            DETECTION_CLASSES.index(NUSCENES_CATEGORY_TO_CLASS[category[by_token["instance"][a["instance_token"]][
                "category_token"]]]) if with_attributes else 0
            for a in anns
        ]
        return DetectionBoxes(
            sample=[sample_index[a["sample_token"]] for a in anns],
            translation=np.array([a["translation"] for a in anns], np.float64).reshape(n, 3),
            size=np.array([a["size"] for a in anns], np.float64).reshape(n, 3),
            rotation=np.array([a["rotation"] for a in anns], np.float64).reshape(n, 4),
            velocity=_velocities(all_anns, indices, ann_index, sample_time_s),
            label=labels, score=-np.ones(n), attribute=attrs,
            num_pts=[a.get("num_lidar_pts", 0) + a.get("num_radar_pts", 0) for a in anns],
        )

    return GroundTruth([s["token"] for s in samples], ego, boxes(rows, True), boxes(racks, False))
