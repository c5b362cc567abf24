"""KITTI label fields computed by the writer: rotation_y, alpha, 2D box, truncation, occlusion."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from kitti_frames import HEIGHT, WIDTH, boxes, front_camera

from sensors.errors import CorruptDataError, InvalidValueError
from sensors.kitti.annotate import boxes_to_objects
from sensors.kitti.labels import format_kitti_labels, parse_label_line
from sensors.projection import project_boxes

# camera 1.6 m above the ego origin, looking along ego +x: camera x = -ego y, camera z = ego x
CAMERA_AT_ORIGIN = (0.0, 0.0, 1.6)


def test_rotation_y_and_alpha_known_values():
    camera = front_camera(CAMERA_AT_ORIGIN)
    objects = boxes_to_objects(boxes([
        ("car", (10.0, -10.0, 0.8), (4.0, 1.8, 1.6), 0.0),   # right of the camera, driving away
        ("car", (20.0, 0.0, 0.8), (4.0, 1.8, 1.6), math.pi / 2),  # ahead, crossing to the left
    ]), camera)
    right, ahead = objects
    # driving away: heading = camera +z -> rotation_y = -pi/2; seen 45 degrees to the right
    assert right.rotation_y == pytest.approx(-math.pi / 2)
    np.testing.assert_allclose(right.location, [10.0, 1.6, 10.0], atol=1e-9)
    assert right.alpha == pytest.approx(-3 * math.pi / 4)
    # heading = ego +y = camera -x -> rotation_y = pi, wrapped to -pi; straight ahead: alpha = ry
    assert ahead.rotation_y == pytest.approx(-math.pi)
    assert ahead.alpha == pytest.approx(-math.pi)
    assert ahead.dimensions == (1.6, 1.8, 4.0)


def test_box_half_outside_the_image_is_half_truncated():
    camera = front_camera(CAMERA_AT_ORIGIN)
    # centre projects onto the left image border: u = 100 * x_cam / z + 80 = 0 at x_cam = -32, z = 40
    (obj,) = boxes_to_objects(boxes([("car", (40.0, 32.0, 1.6), (1.0, 1.0, 1.0), 0.0)]), camera)
    assert obj.truncated == pytest.approx(0.5, abs=0.03)
    assert obj.bbox[0] == 0.0
    assert 0.0 < obj.bbox[2] < 5.0


def test_2d_box_is_the_extent_of_the_projected_corners():
    camera = front_camera()
    visible = boxes([("car", (15.0, 1.0, 0.8), (4.2, 1.8, 1.6), 0.3)])
    (obj,) = boxes_to_objects(visible, camera)
    corners_uv, ok = project_boxes(visible, camera)
    assert ok[0] and obj.truncated == 0.0
    expected = [*corners_uv[0].min(axis=0), *corners_uv[0].max(axis=0)]
    np.testing.assert_allclose(obj.bbox, expected, atol=1e-9)
    assert 0 <= obj.bbox[0] < obj.bbox[2] <= WIDTH - 1 and 0 <= obj.bbox[1] < obj.bbox[3] <= HEIGHT - 1


def test_partly_behind_camera_is_clipped_not_dropped():
    camera = front_camera(CAMERA_AT_ORIGIN)
    # a long truck alongside the camera: its rear is behind the image plane
    (obj,) = boxes_to_objects(boxes([("truck", (2.0, -3.0, 1.5), (12.0, 2.5, 3.0), 0.0)]), camera)
    assert obj.truncated > 0.5
    assert obj.bbox[2] == WIDTH - 1


@pytest.mark.parametrize(
    ("wall_fraction", "level"), [(None, 3), (0.0, 0), (0.3, 1), (1.0, 2)],
)
def test_occlusion_from_a_depth_map(wall_fraction, level):
    camera = front_camera(CAMERA_AT_ORIGIN)
    car = boxes([("car", (10.0, 0.0, 0.8), (1.8, 4.0, 1.6), 0.0)])  # broadside, centred
    depth = None
    if wall_fraction is not None:
        depth = np.full((HEIGHT, WIDTH), 30.0, np.float32)
        (obj,) = boxes_to_objects(car, camera)
        left, right = obj.bbox[0], obj.bbox[2]
        depth[:, : int(left + wall_fraction * (right - left))] = 4.0  # a wall in front of part of the car
    (obj,) = boxes_to_objects(car, camera, depth)
    assert obj.occluded == level


def test_real_kitti_label_lines_parse_and_format():
    source = Path("label_2/000000.txt")
    line = "Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01"
    obj = parse_label_line(line, source, 1)
    assert obj.type == "Pedestrian" and obj.occluded == 0 and obj.score is None
    assert obj.bbox == (712.40, 143.00, 810.73, 307.92)
    assert obj.dimensions == (1.89, 0.48, 1.20) and obj.location == (1.84, 1.47, 8.41)
    assert parse_label_line(format_kitti_labels([obj]).strip(), source, 1) == obj
    dont_care = parse_label_line("DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10", source, 2)
    assert dont_care.dimensions == (-1.0, -1.0, -1.0)


@pytest.mark.parametrize(
    ("line", "error", "reason"),
    [
        ("Car 0.00 0 -0.20 1 2 3 4 1.5 1.6 3.9 1 1 10", CorruptDataError, "14 fields"),
        ("Car 0.00 0 -0.20 1 2 3 4 1.5 x 3.9 1 1 10 0.1", CorruptDataError, "not a number"),
        ("Car 0.00 0 -0.20 1 2 3 4 1.5 -1.6 3.9 1 1 10 0.1", InvalidValueError, "non-positive size"),
        ("Car 0.00 0 -0.20 1 2 3 4 1.5 1.6 3.9 nan 1 10 0.1", InvalidValueError, "NaN"),
        ("Car 1.50 0 -0.20 1 2 3 4 1.5 1.6 3.9 1 1 10 0.1", InvalidValueError, "truncated"),
        ("Car 0.00 7 -0.20 1 2 3 4 1.5 1.6 3.9 1 1 10 0.1", InvalidValueError, "occluded"),
    ],
)
def test_bad_label_lines_name_file_and_line(line, error, reason):
    with pytest.raises(error, match=reason) as info:
        parse_label_line(line, Path("label_2/000007.txt"), 3)
    assert "000007.txt" in str(info.value) and "line 3" in str(info.value)
