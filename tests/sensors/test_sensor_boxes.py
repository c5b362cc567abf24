"""Boxes3D validation, corners, frame changes and point containment."""
import numpy as np
import pytest

from sensors.boxes import Boxes3D
from sensors.geometry import make_transform, rotation_z, transform_points


def make_boxes() -> Boxes3D:
    return Boxes3D(
        center=[[10.0, 2.0, 0.8], [-5.0, 3.0, 1.0]],
        size=[[4.0, 2.0, 1.6], [0.7, 0.7, 1.8]],
        yaw=[np.pi / 2, 0.3],
        velocity=[[1.0, 0.0], [0.0, -1.0]],
        label=[0, 5],
        token=["a", "b"],
    )


def test_corners_of_yawed_box():
    boxes = make_boxes()
    corners = boxes.corners()
    assert corners.shape == (2, 8, 3)
    # yaw pi/2: the length (4 m) runs along +y; front-left-bottom corner is at (x-1, y+2, z-0.8)
    np.testing.assert_allclose(corners[0, 0], [10.0 - 1.0, 2.0 + 2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(corners[0].mean(axis=0), boxes.center[0], atol=1e-12)


def test_transform_round_trip_and_consistency_with_corners():
    boxes = make_boxes()
    transform = make_transform(rotation_z(0.7), [100.0, -20.0, 1.0])
    moved = boxes.transform(transform)
    np.testing.assert_allclose(moved.corners().reshape(-1, 3), transform_points(transform, boxes.corners().reshape(-1, 3)), atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(moved.velocity, axis=1), np.linalg.norm(boxes.velocity, axis=1))
    back = moved.transform(np.linalg.inv(transform))
    np.testing.assert_allclose(back.center, boxes.center, atol=1e-9)
    np.testing.assert_allclose(np.cos(back.yaw - boxes.yaw), 1.0, atol=1e-12)
    assert back.token == ["a", "b"]


def test_points_inside():
    boxes = make_boxes()
    points = np.array([[10.0, 3.9, 0.5], [10.0, 4.1, 0.5], [11.1, 2.0, 0.5], [-5.0, 3.0, 1.0]])
    inside = boxes.points_inside(points)
    np.testing.assert_array_equal(inside[0], [True, False, False, False])
    np.testing.assert_array_equal(inside[1], [False, False, False, True])


def test_validation_errors():
    with pytest.raises(ValueError, match="size must be positive"):
        Boxes3D([[0, 0, 0]], [[1, -1, 1]], [0.0])
    with pytest.raises(ValueError, match="non-finite"):
        Boxes3D([[0, np.nan, 0]], [[1, 1, 1]], [0.0])
    with pytest.raises(ValueError, match="label"):
        Boxes3D([[0, 0, 0]], [[1, 1, 1]], [0.0], label=[10])
    with pytest.raises(ValueError, match="rows"):
        Boxes3D([[0, 0, 0]], [[1, 1, 1]], [0.0, 1.0])


def test_select_concatenate_empty():
    boxes = make_boxes()
    both = Boxes3D.concatenate([boxes, boxes.select(np.array([False, True]))])
    assert len(both) == 3 and both.token == ["a", "b", "b"]
    assert both.class_names() == ["car", "pedestrian", "pedestrian"]
    assert len(Boxes3D.empty()) == 0 and Boxes3D.empty().corners().shape == (0, 8, 3)
