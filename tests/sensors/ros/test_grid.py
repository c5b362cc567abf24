"""BEV map layers <-> nav_msgs/OccupancyGrid, against grids laid out by hand in the test."""
from __future__ import annotations

import numpy as np
import pytest
from ros_drive import ros2_store, to_rosbags

from sensors.errors import InvalidValueError
from sensors.frame import BevGrid
from sensors.ros.grid import decode_layer, encode_layer
from sensors.ros.types import typestore


def occupancy(data, width: int, height: int, resolution: float = 0.5, origin=(-2.0, -1.0), qz: float = 0.0) -> object:
    qw = float(np.sqrt(1.0 - qz * qz))
    return to_rosbags(ros2_store(), "nav_msgs/msg/OccupancyGrid", {
        "header": {"stamp": {"sec": 1, "nanosec": 0}, "frame_id": "base_link"},
        "info": {"map_load_time": {"sec": 1, "nanosec": 0}, "resolution": resolution, "width": width, "height": height,
                 "origin": {"position": {"x": origin[0], "y": origin[1], "z": 0.0},
                            "orientation": {"x": 0.0, "y": 0.0, "z": qz, "w": qw}}},
        "data": np.asarray(data, np.int8)})


def test_row_major_by_y_becomes_x_then_y() -> None:
    width, height = 5, 3  # 5 cells along x, 3 along y
    data = np.zeros(width * height, np.int8)
    data[1 * width + 3] = 100  # row 1 (y), column 3 (x)
    data[2 * width + 0] = -1   # unknown: unset
    data[0 * width + 4] = 60   # >= 50: set
    layer, grid = decode_layer(occupancy(data, width, height))
    assert layer.shape == (5, 3) and grid == BevGrid(-2.0, 0.5, -1.0, 0.5, 0.5)
    assert set(zip(*np.nonzero(layer))) == {(3, 1), (4, 0)}
    # cell (3, 1) covers x in [-2 + 1.5, -2 + 2.0), y in [-1 + 0.5, -1 + 1.0): the data model's rule
    xs, ys = grid.cell_centers()
    assert (xs[3], ys[1]) == (-0.25, -0.25)


def test_round_trip_and_refusals() -> None:
    grid = BevGrid(-10.0, 10.0, -6.0, 6.0, 0.4)
    layer = np.random.default_rng(1).random(grid.shape) > 0.6
    store = typestore("jazzy")
    msg = encode_layer(store, layer, grid, 7, "base_link")
    msg = store.deserialize_cdr(store.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)
    back, back_grid = decode_layer(msg)
    np.testing.assert_array_equal(back, layer)
    assert back_grid == grid  # float32 0.4 comes back as 0.4
    with pytest.raises(InvalidValueError, match="rotated"):
        decode_layer(occupancy(np.zeros(4), 2, 2, qz=0.3))
    with pytest.raises(InvalidValueError, match="with 3 values"):
        decode_layer(occupancy(np.zeros(3), 2, 2))
    with pytest.raises(ValueError, match="does not match the grid"):
        encode_layer(store, layer.T, grid, 7, "base_link")
