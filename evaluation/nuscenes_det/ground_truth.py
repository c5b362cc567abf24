"""Ground truth of a nuScenes split, read straight from the JSON tables of a nuScenes root.

Reproduces the devkit's ``load_gt`` + ``add_center_dist``: samples in ``sample.json`` order whose
scene is in the split; annotations in ``sample_annotation.json`` order; velocity estimated from
the neighbouring annotations of the same instance (centred difference when both exist, at most
3 s apart, one-sided at most 1.5 s apart, otherwise NaN); the ego position is that of the sample's
``LIDAR_TOP`` key frame. Only the tables and fields this needs are decoded (typed, see
:mod:`evaluation.nuscenes_det.tables`) and the per-annotation work is done on arrays.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluation.nuscenes_det.boxes import DetectionBoxes, GroundTruth
from evaluation.nuscenes_det.json_records import collector_paused, stack_floats
from evaluation.nuscenes_det.tables import (
    CalibratedSensor,
    EgoPose,
    Instance,
    Named,
    Sample,
    SampleAnnotation,
    SampleData,
    Scene,
    Sensor,
    read_table,
)
from sensors.classes import ATTRIBUTES, DETECTION_CLASSES, NUSCENES_CATEGORY_TO_CLASS
from sensors.nuscenes.splits import SPLITS, version_of_split
from sensors.nuscenes.velocity import box_velocity

BIKE_RACK_CATEGORY = "static_object.bicycle_rack"
_OTHER, _RACK = -1, -2  # category codes besides detection class indices


def split_scenes(split: str, version: str) -> tuple[str, ...]:
    """Scene names of an official split, checking that it belongs to ``version`` (e.g. ``v1.0-mini``)."""
    if split not in SPLITS:
        raise ValueError(f"unknown nuScenes split {split!r}; expected one of {sorted(SPLITS)}")
    if version_of_split(split).removeprefix("v1.0-") != version.removeprefix("v1.0-"):
        raise ValueError(f"split {split!r} does not exist in nuScenes version {version!r}")
    return SPLITS[split]


def _ego_translation(folder: Path, split_samples: list[Sample], sample_data: list[SampleData]) -> np.ndarray:
    """(S, 3) ego position (metres, global) of each split sample at its LIDAR_TOP key frame."""
    channel = {r.token: r.channel for r in read_table(folder, "sensor", Sensor)}
    lidar_calibs, known_calibs = set(), set()
    for r in read_table(folder, "calibrated_sensor", CalibratedSensor):
        if r.sensor_token not in channel:
            raise ValueError(f"{folder / 'sensor.json'}: no record {r.sensor_token!r} (referenced by calibrated_sensor)")
        known_calibs.add(r.token)
        if channel[r.sensor_token] == "LIDAR_TOP":
            lidar_calibs.add(r.token)
    index = {s.token: i for i, s in enumerate(split_samples)}
    pose_of = [""] * len(split_samples)
    for r in sample_data:
        if not r.is_key_frame or r.sample_token not in index:
            continue
        if r.calibrated_sensor_token not in known_calibs:
            raise ValueError(f"{folder / 'calibrated_sensor.json'}: no record {r.calibrated_sensor_token!r} "
                             "(referenced by sample_data)")
        if r.calibrated_sensor_token in lidar_calibs:
            pose_of[index[r.sample_token]] = r.ego_pose_token
    if "" in pose_of:
        missing = split_samples[pose_of.index("")].token
        raise ValueError(f"{folder / 'sample_data.json'}: sample {missing!r} has no LIDAR_TOP key frame")
    wanted = set(pose_of)
    poses = {r.token: r.translation for r in read_table(folder, "ego_pose", EgoPose) if r.token in wanted}
    for token in pose_of:
        if token not in poses:
            raise ValueError(f"{folder / 'ego_pose.json'}: no record {token!r} (referenced by sample_data)")
    return np.array([poses[token] for token in pose_of], np.float64).reshape(len(split_samples), 3)


def _neighbours(folder: Path, anns: list[SampleAnnotation], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Table indices of the previous and next annotation of each of ``rows`` (the row itself where none)."""
    index = {a.token: i for i, a in enumerate(anns)}
    own = [anns[r] for r in rows.tolist()]
    out = []
    for key, tokens in (("prev", [a.prev for a in own]), ("next", [a.next for a in own])):
        try:
            out.append(np.array([index[t] if t else -1 for t in tokens], np.int64))
        except KeyError as exc:
            raise ValueError(f"{folder / 'sample_annotation.json'}: unknown {key} annotation {exc.args[0]!r}") from None
    return np.where(out[0] < 0, rows, out[0]), np.where(out[1] < 0, rows, out[1])


def _velocities(xy: np.ndarray, rows: np.ndarray, prev: np.ndarray, nxt: np.ndarray, sample_time_s: np.ndarray,
                ann_sample: np.ndarray) -> np.ndarray:
    """(len(rows), 2) velocity in m/s (global x, y) of the annotations ``rows`` by
    :func:`sensors.nuscenes.velocity.box_velocity` (NaN where it cannot be estimated).

    ``xy`` (all annotations, metres), ``prev`` / ``nxt`` (see :func:`_neighbours`), ``sample_time_s``
    (all samples) and ``ann_sample`` (each annotation's sample) are indexed by table position.
    """
    dt = sample_time_s[ann_sample[nxt]] - sample_time_s[ann_sample[prev]]
    return box_velocity(xy[prev], xy[nxt], dt, prev != rows, nxt != rows)


def _category_codes(folder: Path, anns: list[SampleAnnotation], rows: np.ndarray) -> np.ndarray:
    """Per annotation of ``rows``: its detection class index, ``_RACK`` for a bike rack, ``_OTHER`` otherwise."""
    code_of_category = {}
    for r in read_table(folder, "category", Named):
        if r.name == BIKE_RACK_CATEGORY:
            code_of_category[r.token] = _RACK
        elif r.name in NUSCENES_CATEGORY_TO_CLASS:
            code_of_category[r.token] = DETECTION_CLASSES.index(NUSCENES_CATEGORY_TO_CLASS[r.name])
    code_of_instance = {r.token: code_of_category.get(r.category_token, _OTHER)
                        for r in read_table(folder, "instance", Instance)}
    try:
        return np.array([code_of_instance[anns[r].instance_token] for r in rows.tolist()], np.int64)
    except KeyError as exc:
        raise ValueError(f"{folder / 'instance.json'}: no record {exc.args[0]!r} (referenced by sample_annotation)") \
            from None


def _boxes(folder: Path, anns: list[SampleAnnotation], rows: np.ndarray, translation: np.ndarray,
           split_index: np.ndarray, labels: np.ndarray, velocity: np.ndarray,
           attribute_index: dict[str, int] | None) -> DetectionBoxes:
    """Boxes of the annotations ``rows`` (``translation``: all annotations); attributes resolved through
    ``attribute_index`` (None: no attribute)."""
    own = [anns[r] for r in rows.tolist()]
    n = len(own)
    attributes = np.full(n, -1, np.int64)
    if attribute_index is not None and n:
        tokens = [a.attribute_tokens for a in own]
        counts = np.fromiter(map(len, tokens), np.int64, n)
        if counts.max() > 1:
            bad = own[int(np.argmax(counts))].token
            raise ValueError(f"{folder / 'sample_annotation.json'}: {bad!r} has more than one attribute")
        attributes = np.array([attribute_index.get(t[0], -1) if t else -1 for t in tokens], np.int64)
    size, rotation = stack_floats([a.size for a in own], 3), stack_floats([a.rotation for a in own], 4)
    bad = np.flatnonzero(~np.isfinite(translation[rows]).all(axis=1) | ~np.isfinite(size).all(axis=1)
                         | ~np.isfinite(rotation).all(axis=1) | (size <= 0).any(axis=1))
    if len(bad):
        a = own[int(bad[0])]
        raise ValueError(f"{folder / 'sample_annotation.json'}: {a.token!r}: degenerate box (size must be finite "
                         f"and > 0, translation and rotation finite): size {list(a.size)}")
    return DetectionBoxes(
        sample=split_index, translation=translation[rows], size=size, rotation=rotation, velocity=velocity, label=labels, score=-np.ones(n),
        attribute=attributes, num_pts=np.array([a.num_lidar_pts + a.num_radar_pts for a in own], np.int64),
    )


@collector_paused()
def load_ground_truth(root: str | Path, version: str, split: str | None = None,
                      scenes: Sequence[str] | None = None) -> GroundTruth:
    """Ground truth of the samples of ``split`` (an official split) or of the named ``scenes``.

    Args:
        root: nuScenes root (holding ``<version>/sample.json`` ...).
        version: e.g. ``v1.0-trainval`` or ``v1.0-mini``.
        split: ``train``, ``val``, ``test``, ``mini_train`` or ``mini_val``; or None with ``scenes``.
        scenes: explicit scene names (a custom split), instead of ``split``.

    Raises:
        ValueError: missing or broken table (a record without a needed field or with one of the wrong
            type), split not in this version, no sample in the split, a dangling token, or an
            annotation with more than one attribute.
    """
    if (split is None) == (scenes is None):
        raise ValueError("give exactly one of split or scenes")
    wanted = set(split_scenes(split, version) if split is not None else scenes)
    folder = Path(root) / version
    if not folder.is_dir():
        raise ValueError(f"{folder}: nuScenes version folder not found")
    sample_table = read_table(folder, "sample", Sample)
    sample_data = read_table(folder, "sample_data", SampleData)
    wanted_scenes = {r.token for r in read_table(folder, "scene", Scene) if r.name in wanted}
    in_split = np.array([s.scene_token in wanted_scenes for s in sample_table], bool)
    split_samples = [sample_table[i] for i in np.flatnonzero(in_split).tolist()]
    if not split_samples:
        raise ValueError(f"{folder}: no sample belongs to {split or 'the given scenes'}")
    ego = _ego_translation(folder, split_samples, sample_data)

    anns = read_table(folder, "sample_annotation", SampleAnnotation)
    sample_pos = {s.token: i for i, s in enumerate(sample_table)}
    try:
        ann_sample = np.array([sample_pos[a.sample_token] for a in anns], np.int64)
    except KeyError as exc:
        raise ValueError(f"{folder / 'sample.json'}: no record {exc.args[0]!r} (referenced by sample_annotation)") \
            from None
    split_of_sample = np.full(len(sample_table), -1, np.int64)
    split_of_sample[in_split] = np.arange(len(split_samples))
    ann_split = split_of_sample[ann_sample] if len(anns) else np.zeros(0, np.int64)
    candidates = np.flatnonzero(ann_split >= 0)
    codes = _category_codes(folder, anns, candidates)
    # Group by sample (sample order), keeping table order inside a sample, as the devkit lists them.
    rows = candidates[codes >= 0]
    order = np.argsort(ann_split[rows], kind="stable")
    rows, labels = rows[order], codes[codes >= 0][order]
    racks = candidates[codes == _RACK]

    sample_time_s = 1e-6 * np.array([s.timestamp for s in sample_table], np.float64)
    attribute_index = {r.token: ATTRIBUTES.index(r.name) for r in read_table(folder, "attribute", Named)
                       if r.name in ATTRIBUTES}
    translation = stack_floats([a.translation for a in anns], 3)
    prev, nxt = _neighbours(folder, anns, rows)
    velocity = _velocities(translation[:, :2], rows, prev, nxt, sample_time_s, ann_sample)
    boxes = _boxes(folder, anns, rows, translation, ann_split[rows], labels, velocity, attribute_index)
    bike_racks = _boxes(folder, anns, racks, translation, ann_split[racks], np.zeros(len(racks), np.int64),
                        np.full((len(racks), 2), np.nan), None)
    return GroundTruth([s.token for s in split_samples], ego, boxes, bike_racks)
