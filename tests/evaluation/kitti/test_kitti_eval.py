"""KITTI AP: IoU against shapely, hand-computed AP, difficulty/ignore rules, properties."""
from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import example, given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import box as shapely_box

from evaluation.kitti.evaluate import evaluate_kitti
from evaluation.kitti.iou import bev_boxes, bev_iou, image_iou, iou_3d
from evaluation.kitti.labels import KittiLabels, read_label_folder, read_labels


def _shapely_rect(x, z, length, width, ry):
    # length along (cos ry, -sin ry) in the (x, z) plane: a rotation by -ry
    rect = shapely_box(-length / 2, -width / 2, length / 2, width / 2)
    return affinity.translate(affinity.rotate(rect, -ry, origin=(0, 0), use_radians=True), x, z)


rect = st.tuples(st.floats(-4, 4), st.floats(-4, 4), st.floats(0.2, 6), st.floats(0.2, 6), st.floats(-4, 4))


@settings(max_examples=200, deadline=None)
@given(rect, rect)
# nearly coincident boxes: GEOS in floating precision reports an empty intersection here
@example((0.0, 0.0, 4.5, 1.9375, 1.8125), (0.0, 2.220446049250313e-16, 4.5, 1.9375, 1.8125))
def test_bev_iou_matches_shapely_and_is_symmetric(a, b):
    a_arr, b_arr = np.array([a]), np.array([b])
    ours = bev_iou(a_arr, b_arr)[0, 0]
    pa, pb = _shapely_rect(*a), _shapely_rect(*b)
    # a fine fixed grid keeps the shapely reference exact (~1e-12) where floating GEOS is not robust
    reference = shapely.intersection(pa, pb, grid_size=1e-12).area / shapely.union(pa, pb, grid_size=1e-12).area
    assert ours == pytest.approx(reference, abs=1e-9)
    assert bev_iou(b_arr, a_arr)[0, 0] == pytest.approx(ours, abs=1e-12)


def test_bev_iou_identical_and_rotated_square():
    square = np.array([[0.0, 0.0, 2.0, 2.0, 0.0]])
    assert bev_iou(square, square)[0, 0] == pytest.approx(1.0)
    turned = np.array([[0.0, 0.0, 2.0, 2.0, np.pi / 4]])  # octagon overlap: 8 (sqrt 2 - 1)
    inter = 8 * (np.sqrt(2) - 1)
    assert bev_iou(square, turned)[0, 0] == pytest.approx(inter / (8 - inter))


def test_iou_3d_hand_computed():
    loc = np.array([[0.0, 2.0, 10.0]])
    dim = np.array([[2.0, 1.0, 4.0]])  # h, w, l
    assert iou_3d(loc, dim, [0.3], loc, dim, [0.3])[0, 0] == pytest.approx(1.0)
    lifted = loc - [0.0, 1.0, 0.0]  # half the height above: overlap 1 m of 2
    assert iou_3d(loc, dim, [0.0], lifted, dim, [0.0])[0, 0] == pytest.approx(1 / 3)
    shifted = loc + [0.0, 0.0, 2.0]  # ry 0: length along x, so a z shift of 2 leaves nothing (width 1)
    assert iou_3d(loc, dim, [0.0], shifted, dim, [0.0])[0, 0] == 0.0
    along = loc + [2.0, 0.0, 0.0]  # half the length
    assert iou_3d(loc, dim, [0.0], along, dim, [0.0])[0, 0] == pytest.approx(1 / 3)
    assert bev_boxes(loc, dim, [0.5])[0].tolist() == [0.0, 10.0, 4.0, 1.0, 0.5]


def test_image_iou_and_dontcare_criterion():
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0]])
    assert image_iou(a, b)[0, 0] == pytest.approx(1 / 3)
    assert image_iou(a, b, criterion=0)[0, 0] == pytest.approx(0.5)


def _objects(n, name="Car", occluded=0, truncated=0.0, height_px=60.0, shift=0.0, score=None, x0=0.0):
    rows = []
    for i in range(n):
        x = x0 + 4.0 * (i % 5) - 8.0 + shift
        z = 10.0 + 6.0 * (i // 5)
        row = [name, str(truncated), str(occluded), "0", "100", "100", "200", str(100 + height_px),
               "1.5", "1.6", "4.0", str(x), "1.6", str(z), "0.2"]
        if score is not None:
            row.append(str(score[i] if np.ndim(score) else score))
        rows.append(row)
    return KittiLabels.from_rows(rows)


def test_perfect_prediction_gives_100():
    gts = [_objects(10), _objects(10, name="Pedestrian", x0=100), _objects(25, name="Cyclist", x0=200)]
    gts = [_merge(gts)] * 5
    dts = [_with_scores(g, np.linspace(1, 0.5, len(g))) for g in gts]
    result = evaluate_kitti(gts, dts)
    for metric in ("bbox", "bev", "3d"):
        for name in ("Car", "Pedestrian", "Cyclist"):
            for difficulty in ("easy", "moderate", "hard"):
                assert result.ap[metric][name][difficulty]["R40"] == pytest.approx(100.0), (metric, name)
                assert result.ap[metric][name][difficulty]["R11"] == pytest.approx(100.0)


def _merge(parts):
    return KittiLabels(*(np.concatenate([getattr(p, f) for p in parts]) for f in (
        "name", "truncated", "occluded", "alpha", "bbox", "dimensions", "location", "rotation_y", "score")))


def _with_scores(labels, scores):
    out = _merge([labels])
    out.score = np.broadcast_to(np.asarray(scores, np.float64), (len(out),)).copy()
    return out


def test_half_recall_hand_computed():
    gt = _objects(80)
    dt = _with_scores(_objects(80), np.linspace(1, 0.5, 80))
    keep = np.arange(80) < 40
    for f in ("name", "truncated", "occluded", "alpha", "bbox", "dimensions", "location", "rotation_y", "score"):
        setattr(dt, f, getattr(dt, f)[keep])
    ap = evaluate_kitti([gt], [dt], classes=("Car",), metrics=("3d",)).ap["3d"]["Car"]["moderate"]
    # get_thresholds keeps 21 scores (recalls 1/80, 2/80, 4/80, ..., 40/80): precision 1 at positions 0..20
    assert ap["R40"] == pytest.approx(50.0)
    assert ap["R11"] == pytest.approx(6 / 11 * 100)  # positions 0, 4, ..., 20


def test_official_threshold_quirk_with_40_objects():
    gt = _objects(40)  # exactly 40 objects: 40 thresholds, the 41st recall position stays 0
    ap = evaluate_kitti([gt], [_with_scores(gt, np.linspace(1, 0.5, 40))], classes=("Car",), metrics=("3d",)).ap
    assert ap["3d"]["Car"]["moderate"]["R40"] == pytest.approx(97.5)


def test_shifting_boxes_lowers_ap_monotonically():
    gt = _objects(50)
    previous = 101.0
    values = []
    for shift in (0.0, 0.2, 0.4, 0.6, 0.9, 1.3):
        dt = _with_scores(_objects(50, shift=shift), np.linspace(1, 0.5, 50))
        ap = evaluate_kitti([gt], [dt], classes=("Car",), metrics=("bev", "3d")).ap
        values.append(ap["3d"]["Car"]["moderate"]["R40"])
        assert values[-1] <= previous + 1e-9
        assert ap["bev"]["Car"]["moderate"]["R40"] >= values[-1] - 1e-9  # BEV IoU >= 3D IoU here
        previous = values[-1]
    assert values[0] == pytest.approx(100.0) and values[-1] == 0.0


def test_difficulty_filters_and_neighbour_classes():
    small = _objects(50, height_px=30.0)  # below 40 px: ignored for easy, evaluated for moderate
    dt = _with_scores(_objects(50, height_px=30.0), np.linspace(1, 0.5, 50))
    ap = evaluate_kitti([small], [dt], classes=("Car",), metrics=("3d",)).ap["3d"]["Car"]
    assert ap["easy"]["R40"] == 0.0 and ap["moderate"]["R40"] == pytest.approx(100.0)
    occluded = _objects(50, occluded=1)
    ap = evaluate_kitti([occluded], [_with_scores(occluded, np.linspace(1, 0.5, 50))], classes=("Car",), metrics=("3d",)).ap["3d"]["Car"]
    assert ap["easy"]["R40"] == 0.0 and ap["moderate"]["R40"] == pytest.approx(100.0)
    # A car detection on a Van is neither true nor false positive.
    cars = _objects(50)
    vans = _objects(5, name="Van", x0=300)
    dts = _merge([_with_scores(cars, np.linspace(0.9, 0.5, 50)), _with_scores(_objects(5, x0=300), 0.99)])
    ap = evaluate_kitti([_merge([cars, vans])], [dts], classes=("Car",), metrics=("3d",)).ap["3d"]["Car"]
    assert ap["moderate"]["R40"] == pytest.approx(100.0)
    # The same detections on Trucks are false positives.
    trucks = _objects(5, name="Truck", x0=300)
    ap = evaluate_kitti([_merge([cars, trucks])], [dts], classes=("Car",), metrics=("3d",)).ap["3d"]["Car"]
    assert ap["moderate"]["R40"] < 95.0


def test_dontcare_suppresses_false_positives_in_2d_only():
    cars = _objects(50)
    dc_row = ["DontCare", "-1", "-1", "-10", "500", "100", "700", "300", "-1", "-1", "-1", "-1000", "-1000", "-1000", "-10"]
    gt = _merge([cars, KittiLabels.from_rows([dc_row])])
    ghost = KittiLabels.from_rows([["Car", "0", "0", "0", "550", "120", "650", "280", "1.5", "1.6", "4.0", "50", "1.6",
                                    "30", "0", "0.99"]])
    dt = _merge([_with_scores(cars, np.linspace(0.9, 0.5, 50)), ghost])
    ap = evaluate_kitti([gt], [dt], classes=("Car",), metrics=("bbox", "3d")).ap
    assert ap["bbox"]["Car"]["moderate"]["R40"] == pytest.approx(100.0)  # the ghost is inside DontCare
    assert ap["3d"]["Car"]["moderate"]["R40"] < 99.0  # in 3D it is a false positive at the top score


def test_label_files(tmp_path):
    (tmp_path / "000001.txt").write_text(
        "Car 0.00 0 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59\n"
        "DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10\n")
    (tmp_path / "000002.txt").write_text("")
    ids, labels = read_label_folder(tmp_path)
    assert ids == ["000001", "000002"] and len(labels[0]) == 2 and len(labels[1]) == 0
    assert labels[0].dimensions[0].tolist() == [1.65, 1.67, 3.64] and labels[0].score[0] == 1.0
    (tmp_path / "bad.txt").write_text("Car 0 0\n")
    with pytest.raises(ValueError, match="bad.txt: line 1 has 3 fields"):
        read_labels(tmp_path / "bad.txt")
    with pytest.raises(ValueError, match="prediction files"):
        evaluate_kitti(labels, labels[:1])
