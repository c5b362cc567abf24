"""The depth tiles of the sample pictures: a LiDAR point lands on its own pixel in its depth colour."""
from __future__ import annotations

import numpy as np

from perception.inference.visualize import (
    DEPTH_RANGE,
    TILE_W,
    _depth_colors,
    lidar_depth_tile,
    predicted_depth_tile,
)
from sensors.frame import Camera

# A camera looking along ego +x (camera z = ego x, camera x = -ego y, camera y = -ego z).
CAM_TO_EGO = np.array([[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 1.5], [0.0, 0.0, 0.0, 1.0]])
K = np.array([[400.0, 0.0, 400.0], [0.0, 400.0, 225.0], [0.0, 0.0, 1.0]])


def test_lidar_point_lands_on_its_pixel_in_its_depth_colour() -> None:
    camera = Camera("CAM_FRONT", np.full((450, 800, 3), 90, np.uint8), K, CAM_TO_EGO, 0)
    # 20 m ahead, 2 m to the left, at camera height: u = 400 - 400 * 2 / 20 = 360, v = 225.
    points = np.array([[20.0, 2.0, 1.5, 10.0, 0.0], [-5.0, 0.0, 1.5, 10.0, 0.0]])  # the second is behind
    tile = lidar_depth_tile(camera, points)
    scale = TILE_W / 800
    u, v = int(np.floor(360 * scale)), int(np.floor(225 * scale))
    expected = _depth_colors(np.array(20.0))
    assert np.array_equal(tile[v, u], expected) and np.array_equal(tile[v + 1, u + 1], expected)
    assert (tile[v + 5:, :] == 30).all()  # elsewhere the image, darkened to a third
    far = _depth_colors(np.array(DEPTH_RANGE))
    assert not np.array_equal(expected, far)


def test_predicted_depth_uses_the_same_colours() -> None:
    camera = Camera("CAM_FRONT", np.zeros((450, 800, 3), np.uint8), K, CAM_TO_EGO, 0)
    depth = np.full((64, 128), 20.0, np.float32)
    tile = predicted_depth_tile(camera, depth)
    assert tile.shape == (225, TILE_W, 3)
    assert np.array_equal(tile[-1, -1], _depth_colors(np.array(20.0)))
