"""Quaternion, transform and box-convention helpers."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyquaternion import Quaternion

from sensors.geometry import (
    check_transform,
    invert_transform,
    make_transform,
    matrix_to_quaternion,
    quaternion_to_matrix,
    quaternion_to_yaw,
    rotation_z,
    transform_points,
    wrap_angle,
    yaw_to_quaternion,
)

unit = st.floats(-1, 1, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.tuples(unit, unit, unit, unit).filter(lambda q: np.linalg.norm(q) > 1e-3))
def test_quaternion_matrix_round_trip_matches_pyquaternion(q):
    q = np.array(q) / np.linalg.norm(q)
    rotation = quaternion_to_matrix(q)
    np.testing.assert_allclose(rotation, Quaternion(q).rotation_matrix, atol=1e-9)
    back = matrix_to_quaternion(rotation)
    assert back[0] >= 0
    np.testing.assert_allclose(quaternion_to_matrix(back), rotation, atol=1e-9)


@given(st.floats(-10, 10, allow_nan=False))
def test_yaw_quaternion_round_trip(yaw):
    difference = wrap_angle(quaternion_to_yaw(yaw_to_quaternion(yaw)) - yaw)
    assert np.cos(difference) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(quaternion_to_matrix(yaw_to_quaternion(yaw)), rotation_z(yaw), atol=1e-12)


def test_invert_transform_and_transform_points():
    transform = make_transform(quaternion_to_matrix([0.9, 0.1, -0.2, 0.3]), [1.0, -2.0, 0.5])
    points = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    moved = transform_points(transform, points)
    np.testing.assert_array_equal(moved[:, 3:], points[:, 3:])
    back = transform_points(invert_transform(transform), moved)
    np.testing.assert_allclose(back, points, atol=1e-5)
    np.testing.assert_allclose(invert_transform(transform) @ transform, np.eye(4), atol=1e-12)


def test_check_transform_rejects_bad_matrices():
    bad = np.eye(4)
    bad[0, 0] = 2.0
    with pytest.raises(ValueError, match="orthonormal"):
        check_transform(bad)
    reflection = np.diag([1.0, 1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="reflection"):
        check_transform(reflection)
    nan = np.eye(4)
    nan[0, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        check_transform(nan)
    with pytest.raises(ValueError):
        quaternion_to_matrix([0, 0, 0, 0])
