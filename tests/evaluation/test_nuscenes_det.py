"""nuScenes detection metric: equality with the official devkit, submission I/O and bad input."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from nuscenes_eval_db import (
    jittered_predictions,
    make_database,
    random_predictions,
    val_sample_tokens,
)

from evaluation.nuscenes_det.evaluate import evaluate_detection, evaluate_submission
from evaluation.nuscenes_det.filtering import in_bike_rack
from evaluation.nuscenes_det.ground_truth import load_ground_truth
from evaluation.nuscenes_det.submission import (
    boxes_to_entries,
    parse_submission,
    write_submission,
)
from sensors.boxes import Boxes3D
from sensors.classes import ATTRIBUTES, DETECTION_CLASSES
from sensors.geometry import make_transform, rotation_z

nuscenes = pytest.importorskip("nuscenes")


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    root = tmp_path_factory.mktemp("nusc")
    anns = make_database(root, samples_per_scene=8, instances_per_scene=40, seed=0)
    return root, anns, val_sample_tokens(root)


@pytest.fixture(scope="module")
def devkit(database):
    from nuscenes import NuScenes

    return NuScenes("v1.0-mini", str(database[0]), verbose=False)


@pytest.fixture(scope="module")
def ground_truth(database):
    return load_ground_truth(database[0], "v1.0-mini", "mini_val")


PREDICTION_SETS = {
    "jittered": dict(seed=1),
    "jittered_precise": dict(seed=2, noise=0.15, false_positives=1),
    "jittered_sloppy": dict(seed=3, noise=1.5, keep=0.6, false_positives=10),
    "missing_classes": dict(seed=4, drop_classes=("bus", "trailer", "barrier", "pedestrian")),
    "empty_samples": dict(seed=5, empty_fraction=0.4),
    "tied_scores": dict(seed=6, score_decimals=1),
    "standard_json": dict(seed=8, nan_velocity=0.0),  # strict JSON: the fast decoding path, no NaN fallback
}


def _devkit_metrics(devkit, result_path: Path, out: Path):
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.detection.evaluate import DetectionEval

    evaluator = DetectionEval(devkit, config_factory("detection_cvpr_2019"), str(result_path), eval_set="mini_val",
                              output_dir=str(out), verbose=False)
    return evaluator.evaluate()[0]


def _close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-6


@pytest.mark.parametrize("name", [*PREDICTION_SETS, "random"])
def test_equal_to_devkit(name, database, devkit, ground_truth, tmp_path):
    root, anns, tokens = database
    if name == "random":
        results = random_predictions(anns, tokens, seed=7)
    else:
        results = jittered_predictions(anns, tokens, **PREDICTION_SETS[name])
    path = tmp_path / "results.json"
    write_submission(path, results)
    reference = _devkit_metrics(devkit, path, tmp_path / "out")
    ours = evaluate_submission(ground_truth, path)
    assert _close(ours.mean_ap, reference.mean_ap)
    assert _close(ours.nd_score, reference.nd_score)
    for class_name in DETECTION_CLASSES:
        for th in (0.5, 1.0, 2.0, 4.0):
            assert _close(ours.label_aps[class_name][th], reference.get_label_ap(class_name, th)), (class_name, th)
        for metric, value in ours.label_tp_errors[class_name].items():
            assert _close(value, reference.get_label_tp(class_name, metric)), (class_name, metric)
    for metric, value in ours.tp_errors.items():
        assert _close(value, reference.tp_errors[metric]), metric
    if name != "random":
        assert ours.mean_ap > 0.05  # the comparison is not between two zeros


def test_ground_truth_matches_devkit_loader(database, devkit, ground_truth):
    from nuscenes.eval.common.loaders import add_center_dist, load_gt
    from nuscenes.eval.detection.data_classes import DetectionBox

    reference = load_gt(devkit, "mini_val", DetectionBox)
    assert ground_truth.sample_tokens == reference.sample_tokens
    boxes = reference.all
    assert len(boxes) == len(ground_truth.boxes)
    np.testing.assert_allclose(ground_truth.boxes.translation, [b.translation for b in boxes])
    np.testing.assert_allclose(ground_truth.boxes.size, [b.size for b in boxes])
    np.testing.assert_allclose(ground_truth.boxes.rotation, [b.rotation for b in boxes])
    assert [ATTRIBUTES[i] if i >= 0 else "" for i in ground_truth.boxes.attribute] == [b.attribute_name for b in boxes]
    add_center_dist(devkit, reference)  # the devkit's box position relative to the sample's ego pose
    np.testing.assert_allclose(ground_truth.boxes.translation - ground_truth.ego_translation[ground_truth.boxes.sample],
                               [b.ego_translation for b in boxes])
    np.testing.assert_allclose(ground_truth.boxes.velocity, [b.velocity for b in boxes], equal_nan=True)
    assert np.isnan(ground_truth.boxes.velocity).any()  # the time gap and single annotations give NaN
    assert list(ground_truth.boxes.num_pts) == [b.num_pts for b in boxes]
    assert [DETECTION_CLASSES[i] for i in ground_truth.boxes.label] == [b.detection_name for b in boxes]


def test_bike_rack_removes_the_bicycle_in_it(ground_truth):
    bicycles = ground_truth.boxes.select(ground_truth.boxes.label == DETECTION_CLASSES.index("bicycle"))
    inside = in_bike_rack(bicycles, ground_truth.bike_racks)
    assert inside.sum() >= len(ground_truth.sample_tokens)  # one parked bicycle per sample
    assert not inside.all()


def test_perfect_predictions_score_one(ground_truth):
    gt = ground_truth.boxes
    predictions = gt.select(np.arange(len(gt)))
    predictions.score = np.linspace(0.9, 0.1, len(gt))
    predictions.velocity = np.nan_to_num(predictions.velocity)
    result = evaluate_detection(ground_truth, predictions)
    for class_name, aps in result.label_aps.items():
        if result.counts[class_name]["gt"]:
            assert all(ap == pytest.approx(1.0) for ap in aps.values()), class_name
    assert result.tp_errors["trans_err"] == pytest.approx(0.0)
    assert result.tp_errors["scale_err"] == pytest.approx(0.0)
    assert result.tp_errors["orient_err"] == pytest.approx(0.0, abs=1e-9)
    assert result.tp_errors["attr_err"] == pytest.approx(0.0)


def test_no_predictions_scores_zero(ground_truth):
    results = {t: [] for t in ground_truth.sample_tokens}
    predictions, _ = parse_submission({"meta": {}, "results": results}, ground_truth.sample_tokens)
    result = evaluate_detection(ground_truth, predictions)
    assert result.mean_ap == 0.0 and result.nd_score == 0.0


def test_entries_from_ego_boxes_round_trip():
    ego_to_global = make_transform(rotation_z(0.7), [100.0, -50.0, 0.0])
    boxes = Boxes3D(center=[[10.0, 2.0, 0.8]], size=[[4.5, 1.9, 1.6]], yaw=[0.3], velocity=[[5.0, 0.0]],
                    label=[DETECTION_CLASSES.index("car")], score=[0.8])
    [entry] = boxes_to_entries(boxes, ego_to_global, "s0")
    expected_center = ego_to_global[:3, :3] @ [10.0, 2.0, 0.8] + ego_to_global[:3, 3]
    np.testing.assert_allclose(entry["translation"], expected_center)
    assert entry["size"] == [1.9, 4.5, 1.6]  # w, l, h
    parsed, _ = parse_submission({"meta": {}, "results": {"s0": [entry]}}, ["s0"])
    assert parsed.yaw[0] == pytest.approx(1.0)
    np.testing.assert_allclose(parsed.velocity[0], [5 * np.cos(0.7), 5 * np.sin(0.7)])
    assert entry["attribute_name"] == "vehicle.parked"


def _entry(token: str, **override) -> dict:
    entry = {"sample_token": token, "translation": [1.0, 2.0, 0.5], "size": [1.9, 4.5, 1.6],
             "rotation": [1.0, 0.0, 0.0, 0.0], "velocity": [0.0, 0.0], "detection_name": "car",
             "detection_score": 0.5, "attribute_name": ""}
    entry.update(override)
    return entry


@pytest.mark.parametrize("results, message", [
    ({"a": [], "zzz": []}, "not in the evaluated split"),
    ({"a": []}, "have no entry"),
    ({"a": [_entry("a", translation=[float("nan"), 0.0, 0.0])], "b": []}, "translation has NaN"),
    ({"a": [_entry("a", detection_name="tram")], "b": []}, "unknown detection_name 'tram'"),
    ({"a": [_entry("a"), _entry("a", translation=[1.0, 2.0])], "b": []}, r"length 3, got 2 - at `\$\.results\[\.\.\.\]\[1\]\.translation`"),
    ({"a": [_entry("a", velocity=["x", 0.0])], "b": []}, r"Expected `float`, got `str` - at `\$\.results\[\.\.\.\]\[0\]\.velocity\[0\]`"),
    ({"a": [_entry("a", detection_score=True)], "b": []}, r"got `bool` - at `\$\.results\[\.\.\.\]\[0\]\.detection_score`"),
    ({"a": [{k: v for k, v in _entry("a").items() if k != "rotation"}], "b": []}, "missing required field `rotation`"),
    ({"a": [_entry("a")], "b": [_entry("b"), _entry("b", detection_name="tram")]}, r"results\['b'\]\[1\]: unknown"),
    ({"a": [_entry("a", attribute_name="vehicle.flying")], "b": []}, "unknown attribute_name"),
    ({"a": [_entry("a", size=[1.0, 0.0, 1.0])], "b": []}, "size must be > 0"),
    ({"a": [_entry("a", detection_score=float("nan"))], "b": []}, "detection_score"),
    ({"a": [_entry("b")], "b": []}, "differs from its key"),
    ({"a": [_entry("a")] * 501, "b": []}, "at most 500"),
])
def test_bad_submissions_are_rejected(results, message):
    with pytest.raises(ValueError, match=message):
        parse_submission({"meta": {}, "results": results}, ["a", "b"])


def test_bad_dataset_is_rejected(database, tmp_path):
    root = database[0]
    with pytest.raises(ValueError, match="does not exist in nuScenes version"):
        load_ground_truth(root, "v1.0-mini", "val")
    with pytest.raises(ValueError, match="unknown nuScenes split"):
        load_ground_truth(root, "v1.0-mini", "mini_test")
    (tmp_path / "v1.0-mini").mkdir()
    with pytest.raises(ValueError, match="sample.json: nuScenes table missing"):
        load_ground_truth(tmp_path, "v1.0-mini", "mini_val")
    broken = tmp_path / "broken"
    shutil.copytree(root, broken)
    table = broken / "v1.0-mini" / "sample_annotation.json"
    records = json.loads(table.read_text())
    del records[3]["size"]
    table.write_text(json.dumps(records))
    with pytest.raises(ValueError, match=r"sample_annotation.json: Object missing required field `size` - at `\$\[3\]`"):
        load_ground_truth(broken, "v1.0-mini", "mini_val")
    records[3]["size"] = [1.0, 1.0, 1.0]
    val = next(i for i, r in enumerate(records) if r["sample_token"] in set(database[2]))
    records[val]["instance_token"] = "f" * 32
    table.write_text(json.dumps(records))
    with pytest.raises(ValueError, match="instance.json: no record 'f{32}' \\(referenced by sample_annotation\\)"):
        load_ground_truth(broken, "v1.0-mini", "mini_val")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        evaluate_submission(load_ground_truth(root, "v1.0-mini", "mini_val"), tmp_path / "bad.json")


def test_submission_file_is_json_with_meta(tmp_path):
    write_submission(tmp_path / "r.json", {"a": [_entry("a")]})
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["meta"]["use_lidar"] is True and data["results"]["a"][0]["detection_name"] == "car"


def test_ground_truth_and_predictions_from_ego_boxes():
    from evaluation.nuscenes_det.boxes import (
        DetectionBoxes,
        GroundTruth,
        boxes_from_ego,
    )

    rng = np.random.default_rng(0)
    frames, predictions = [], []
    for k in range(4):
        n = 12
        boxes = Boxes3D(center=np.c_[rng.uniform(-30, 30, (n, 2)), np.full(n, 0.8)], size=np.tile([4.5, 1.9, 1.6], (n, 1)),
                        yaw=rng.uniform(-3, 3, n), velocity=rng.normal(0, 2, (n, 2)), label=np.zeros(n),
                        attribute=np.full(n, 2), num_lidar_points=np.full(n, 10))
        pose = make_transform(rotation_z(0.3 * k), [10.0 * k, 5.0, 0.0])
        frames.append((boxes, pose))
        predictions.append(boxes.select(np.arange(n)))
        predictions[-1].score = np.linspace(0.9, 0.2, n)
    gt = GroundTruth([f"t{k}" for k in range(4)], np.array([pose[:3, 3] for _, pose in frames]),
                     DetectionBoxes.concatenate([boxes_from_ego(b, pose, k, scores=False)
                                                 for k, (b, pose) in enumerate(frames)]), DetectionBoxes.empty())
    assert len(gt.boxes) == 48 and np.all(gt.boxes.score == -1.0)
    # a box at ego (x, y) of sample 3 (yaw 0.9 rad, at (30, 5)) is in the global frame at R(0.9) (x, y) + (30, 5)
    c, s = np.cos(0.9), np.sin(0.9)
    first = frames[3][0].center[0]
    np.testing.assert_allclose(gt.boxes.translation[36, :2], [30 + c * first[0] - s * first[1], 5 + s * first[0] + c * first[1]])
    np.testing.assert_allclose(gt.boxes.size[36], [1.9, 4.5, 1.6])  # nuScenes width, length, height
    result = evaluate_detection(gt, DetectionBoxes.concatenate(
        [boxes_from_ego(p, pose, k) for k, (p, (_, pose)) in enumerate(zip(predictions, frames))]))
    assert result.label_aps["car"][0.5] == pytest.approx(1.0)
    assert result.label_tp_errors["car"]["orient_err"] == pytest.approx(0.0, abs=1e-9)
    assert result.label_tp_errors["car"]["vel_err"] == pytest.approx(0.0, abs=1e-9)
    assert result.label_tp_errors["car"]["scale_err"] == pytest.approx(0.0, abs=1e-12)
