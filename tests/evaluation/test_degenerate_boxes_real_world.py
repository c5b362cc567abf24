"""Degenerate boxes along the whole path (issue: real data and bad input, part 3).

Rules: a prediction file with a non-positive or non-finite size is an error naming the file and the
line / record; IoU never leaves [0, 1] and stays exact far from the origin; a degenerate box
overlaps nothing. Right values are computed here independently (hand geometry, shapely).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import box as shapely_box

import kernels
from evaluation.kitti.evaluate import evaluate_kitti
from evaluation.kitti.iou import bev_iou, image_iou, iou_3d
from evaluation.kitti.labels import KittiLabels, read_labels
from evaluation.nuscenes_det.ground_truth import load_ground_truth
from evaluation.nuscenes_det.submission import read_submission

GT_ROW = ["Car", "0", "0", "-1.47", "600", "170", "700", "230", "1.5", "1.6", "4.0", "2.0", "1.6", "20.0", "0.0"]


def _labels(**columns) -> KittiLabels:
    """One Car, built directly (bypassing the file reader), with some columns replaced."""
    values = {"name": np.array(["Car"], object), "truncated": np.zeros(1), "occluded": np.zeros(1, np.int64),
              "alpha": np.array([-1.47]), "bbox": np.array([[600.0, 170.0, 700.0, 230.0]]),
              "dimensions": np.array([[1.5, 1.6, 4.0]]), "location": np.array([[2.0, 1.6, 20.0]]),
              "rotation_y": np.zeros(1), "score": np.array([0.9])}
    values.update(columns)
    return KittiLabels(**values)


# ---- KITTI: the negative-width detection ---------------------------------------------------------

def test_negative_width_detection_overlaps_nothing_and_scores_ap_zero():
    # The detection sits on the ground-truth car but has width -1.6 m. Its footprint is empty, so it
    # cannot match: the right BEV/3D AP is 0 (before the fix: BEV IoU 6.4e12, a "perfect" hit).
    gt = _labels(score=np.ones(1))
    dt = _labels(dimensions=np.array([[1.5, -1.6, 4.0]]))
    bev = np.array([[2.0, 20.0, 4.0, -1.6, 0.0]]), np.array([[2.0, 20.0, 4.0, 1.6, 0.0]])
    assert bev_iou(*bev)[0, 0] == 0.0
    assert iou_3d(dt.location, dt.dimensions, dt.rotation_y, gt.location, gt.dimensions, gt.rotation_y)[0, 0] == 0.0
    result = evaluate_kitti([gt], [dt], classes=("Car",), metrics=("bev", "3d"))
    for metric in ("bev", "3d"):
        assert result.ap[metric]["Car"]["easy"] == {"R40": 0.0, "R11": 0.0}
    # the same box with its true width is a hit: the evaluation itself is not what returns 0
    good = evaluate_kitti([gt], [_labels()], classes=("Car",), metrics=("bev",))
    assert good.ap["bev"]["Car"]["easy"]["R11"] == pytest.approx(100 / 11)


@pytest.mark.parametrize("column, value, reason", [
    (9, "-1.6", "non-positive size"), (8, "0", "non-positive size"), (10, "0.0", "non-positive size"),
    (6, "590", "inverted 2D box"), (7, "160", "inverted 2D box"), (9, "nan", "NaN"), (12, "inf", "NaN or infinite"),
])
def test_prediction_file_with_a_degenerate_box_is_an_error_naming_file_and_line(tmp_path, column, value, reason):
    bad = list(GT_ROW) + ["0.8"]
    bad[column] = value
    path = tmp_path / "000007.txt"
    path.write_text(" ".join(GT_ROW + ["0.9"]) + "\n" + " ".join(bad) + "\n")
    with pytest.raises(ValueError, match=rf"000007\.txt: line 2.*{reason}|000007\.txt: line 2 has {reason}"):
        read_labels(path)


def test_dontcare_placeholders_are_read_and_overlap_nothing(tmp_path):
    path = tmp_path / "000001.txt"
    path.write_text(" ".join(GT_ROW) + "\nDontCare -1 -1 -10 500 180 520 200 -1 -1 -1 -1000 -1000 -1000 -10\n")
    labels = read_labels(path)
    bev = np.column_stack([labels.location[:, [0, 2]], labels.dimensions[:, [2, 1]], labels.rotation_y])
    overlaps = bev_iou(bev, bev)
    assert overlaps[0, 0] == pytest.approx(1.0) and overlaps[1, 1] == 0.0 and overlaps[0, 1] == 0.0
    assert iou_3d(labels.location, labels.dimensions, labels.rotation_y, labels.location, labels.dimensions,
                  labels.rotation_y)[1, 1] == 0.0


def test_inverted_image_box_overlaps_nothing():
    inverted = np.array([[700.0, 170.0, 600.0, 230.0]])
    normal = np.array([[600.0, 170.0, 700.0, 230.0]])
    assert image_iou(inverted, normal)[0, 0] == 0.0 and image_iou(inverted, normal, criterion=0)[0, 0] == 0.0


# ---- IoU far from the origin ----------------------------------------------------------------------

FAR = 1e6


def test_identical_boxes_a_million_metres_away_have_iou_one():
    # before: 1.0000076 (BEV, every implementation), 1.0019 at 1e7 m and 0 at 1e9 m
    for c in (FAR, 1e7, 1e9):
        kitti = np.array([[c, c, 4.0, 1.6, 0.3]])
        assert bev_iou(kitti, kitti)[0, 0] == pytest.approx(1.0, abs=1e-12)
        assert iou_3d([[c, c, c]], [[1.5, 1.6, 4.0]], [0.3], [[c, c, c]], [[1.5, 1.6, 4.0]], [0.3])[0, 0] \
            == pytest.approx(1.0, abs=1e-12)
        for backend in ("numba", "reference"):
            bev = torch.tensor([[c, -c, 4.0, 1.6, 0.3]], dtype=torch.float64)
            box = torch.tensor([[c, -c, c, 4.0, 1.6, 1.5, 0.3]], dtype=torch.float64)
            assert kernels.rotated_iou_bev(bev, bev, backend=backend).item() == pytest.approx(1.0, abs=1e-12)
            assert kernels.iou_3d(box, box, backend=backend).item() == pytest.approx(1.0, abs=1e-12)


def test_half_overlap_a_million_metres_away_is_one_third():
    # shifted by half its length along its heading: intersection l/2 * w, union 3/2 l w -> 1/3
    yaw = 0.7
    shift = 2.0 * np.array([math.cos(yaw), math.sin(yaw)])
    a = torch.tensor([[FAR, FAR, 4.0, 1.6, yaw]], dtype=torch.float64)
    b = torch.tensor([[FAR + shift[0], FAR + shift[1], 4.0, 1.6, yaw]], dtype=torch.float64)
    for backend in ("numba", "reference"):
        assert kernels.rotated_iou_bev(a, b, backend=backend).item() == pytest.approx(1 / 3, abs=1e-9)
    # KITTI: length along (cos ry, -sin ry) in (x, z)
    ka = np.array([[FAR, FAR, 4.0, 1.6, yaw]])
    kb = np.array([[FAR + shift[0], FAR - shift[1], 4.0, 1.6, yaw]])
    assert bev_iou(ka, kb)[0, 0] == pytest.approx(1 / 3, abs=1e-9)


def _shapely(x, y, length, width, yaw):
    return affinity.translate(affinity.rotate(shapely_box(-length / 2, -width / 2, length / 2, width / 2), yaw,
                                              origin=(0, 0), use_radians=True), x, y)


rect = st.tuples(st.floats(-3, 3), st.floats(-3, 3), st.floats(0.2, 6), st.floats(0.2, 6), st.floats(-4, 4))


@settings(max_examples=60, deadline=None)
@given(rect, rect, st.sampled_from([0.0, 1e3, 1e6, -1e8]))
def test_iou_is_translation_invariant_and_in_unit_interval(a, b, offset):
    # the right value is shapely's IoU of the boxes near the origin; moving both far away keeps it
    pa, pb = _shapely(*a), _shapely(*b)
    expected = pa.intersection(pb).area / pa.union(pb).area
    ta = torch.tensor([[a[0] + offset, a[1] + offset, *a[2:]]], dtype=torch.float64)
    tb = torch.tensor([[b[0] + offset, b[1] + offset, *b[2:]]], dtype=torch.float64)
    for backend in ("numba", "reference"):
        value = kernels.rotated_iou_bev(ta, tb, backend=backend).item()
        assert 0.0 <= value <= 1.0 and value == pytest.approx(expected, abs=1e-6)
    kitti = bev_iou(np.array([[a[0] + offset, a[1] + offset, a[2], a[3], -a[4]]]),
                    np.array([[b[0] + offset, b[1] + offset, b[2], b[3], -b[4]]]))[0, 0]
    assert 0.0 <= kitti <= 1.0 and kitti == pytest.approx(expected, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(rect, rect, st.sampled_from([1e-6, 1e-5, 1e-3, 1e4]))
def test_iou_does_not_depend_on_the_boxes_scale(a, b, scale):
    # the right value is shapely's IoU at metre scale; IoU is scale-free. The reference kernel (the
    # one CUDA tensors use) had absolute tolerances: two 10 um squares turned 0.7 rad had IoU 1, not 0.71
    pa, pb = _shapely(*a), _shapely(*b)
    expected = pa.intersection(pb).area / pa.union(pb).area
    ta = torch.tensor([[*(v * scale for v in a[:4]), a[4]]], dtype=torch.float64)
    tb = torch.tensor([[*(v * scale for v in b[:4]), b[4]]], dtype=torch.float64)
    for backend in ("numba", "reference"):
        assert kernels.rotated_iou_bev(ta, tb, backend=backend).item() == pytest.approx(expected, abs=1e-6)


def test_turned_micrometre_squares_overlap_as_metre_squares():
    square = shapely_box(-0.5, -0.5, 0.5, 0.5)
    turned = affinity.rotate(square, 0.7, origin=(0, 0), use_radians=True)
    expected = square.intersection(turned).area / square.union(turned).area  # 0.7097
    for size in (1e-5, 1e-6):
        a = torch.tensor([[0.0, 0.0, size, size, 0.0]], dtype=torch.float64)
        b = torch.tensor([[0.0, 0.0, size, size, 0.7]], dtype=torch.float64)
        assert kernels.rotated_iou_bev(a, b, backend="reference").item() == pytest.approx(expected, abs=1e-9)


def test_nms_far_from_the_origin_suppresses_the_duplicate():
    boxes = torch.tensor([[FAR, FAR, 4.0, 1.6, 0.3], [FAR + 0.05, FAR, 4.0, 1.6, 0.3], [FAR + 10, FAR, 4.0, 1.6, 0.3]],
                         dtype=torch.float64)
    scores = torch.tensor([0.9, 0.8, 0.7], dtype=torch.float64)
    for backend in ("numba", "reference"):
        assert kernels.rotated_nms(boxes, scores, 0.5, backend=backend).tolist() == [0, 2]


# ---- nuScenes files -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nusc_db(tmp_path_factory):
    from nuscenes_eval_db import make_database, val_sample_tokens

    root = tmp_path_factory.mktemp("nusc_degenerate")
    make_database(root, samples_per_scene=2, instances_per_scene=4)
    return root, val_sample_tokens(root)


def _entry(token, size):
    return {"sample_token": token, "translation": [1.0, 2.0, 1.0], "size": size, "rotation": [1.0, 0.0, 0.0, 0.0],
            "velocity": [0.0, 0.0], "detection_name": "car", "detection_score": 0.5, "attribute_name": ""}


@pytest.mark.parametrize("size, reason", [([0.0, 4.0, 1.5], "size must be > 0"), ([1.9, -4.0, 1.5], "size must be > 0")])
def test_submission_with_a_non_positive_size_names_the_record(nusc_db, tmp_path, size, reason):
    _, tokens = nusc_db
    results = {t: [] for t in tokens}
    results[tokens[1]] = [_entry(tokens[1], [1.9, 4.5, 1.6]), _entry(tokens[1], size)]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"meta": {}, "results": results}))
    with pytest.raises(ValueError, match=rf"results\.json: results\['{tokens[1]}'\]\[1\]: {reason}"):
        read_submission(path, tokens)


def test_submission_with_a_nan_size_names_the_record(nusc_db, tmp_path):
    _, tokens = nusc_db
    results = {t: [] for t in tokens}
    results[tokens[0]] = [_entry(tokens[0], [float("nan"), 4.5, 1.6])]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"meta": {}, "results": results}))  # json writes the NaN literal
    with pytest.raises(ValueError, match=rf"results\['{tokens[0]}'\]\[0\]: size has NaN"):
        read_submission(path, tokens)


def test_ground_truth_annotation_with_a_zero_size_names_the_annotation(nusc_db, tmp_path):
    import shutil

    root, _ = nusc_db
    copy = tmp_path / "nusc"
    shutil.copytree(root, copy)
    table = copy / "v1.0-mini" / "sample_annotation.json"
    anns = json.loads(table.read_text())
    for a in anns:
        a["size"][1] = 0.0
    table.write_text(json.dumps(anns))
    with pytest.raises(ValueError, match=r"sample_annotation\.json: '(\w+)': degenerate box .* size \[[\d.]+, 0\.0, ") \
            as error:
        load_ground_truth(copy, "v1.0-mini", "mini_val")
    assert error.value.args[0].split("'")[1] in {a["token"] for a in anns}


# ---- writers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [[4.0, 0.0, 1.5], [4.0, -1.6, 1.5], [np.nan, 1.6, 1.5], [np.inf, 1.6, 1.5]])
def test_boxes_handed_to_the_writers_cannot_be_degenerate(size):
    from sensors.boxes import Boxes3D

    # KITTI labels (sensors.kitti.boxes_to_objects) and nuScenes entries (boxes_to_entries) are written
    # from Boxes3D, which refuses such a size when it is built
    with pytest.raises(ValueError, match="Boxes3D.size"):
        Boxes3D(center=[[0.0, 0.0, 0.0]], size=[size], yaw=[0.0])


def test_a_tiny_positive_size_is_written_as_a_positive_size(tmp_path):
    from sensors.kitti.labels import KittiObject, format_kitti_labels

    obj = KittiObject("Car", 0.0, 0, 0.1, (600.0, 170.0, 700.0, 230.0), (1e-9, 1.6, 4.0), (2.0, 1.6, 20.0), 0.0, 0.5)
    path = tmp_path / "000000.txt"
    path.write_text(format_kitti_labels([obj]))
    assert path.read_text().split()[8] == "0.000001"  # "%.6f" alone writes 0.000000, which readers refuse
    assert read_labels(path).dimensions[0, 0] == pytest.approx(1e-6)
    dont_care = KittiObject("DontCare", -1, -1, -10, (0.0, 0.0, 10.0, 10.0), (-1, -1, -1), (-1000, -1000, -1000), -10)
    assert format_kitti_labels([dont_care]).split()[8:11] == ["-1.000000"] * 3
