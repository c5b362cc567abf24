"""BEV map layers <-> ``nav_msgs/OccupancyGrid`` (one message per layer).

An OccupancyGrid's cell ``(column c, row r)`` covers ``[origin.x + c * resolution, ...)`` along
the grid frame's x and ``[origin.y + r * resolution, ...)`` along y, stored row-major (row = y):
``data[r * width + c]``. The data model's :class:`~sensors.frame.BevMap` layer ``[i, j]`` is x
cell ``i``, y cell ``j`` (docs/conventions.md), so a layer is written transposed. Occupied cells
are 100, free ones 0; reading, a cell is set when its value is >= 50 (unknown, -1, is unset).
The grid is axis-aligned in ``base_link`` (identity orientation).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from rosbags.typesys.store import Typestore

from sensors.errors import InvalidValueError
from sensors.frame import BevGrid
from sensors.ros.types import header

OCCUPIED, FREE = 100, 0
#: Cell values from this up read as set.
THRESHOLD = 50


def encode_layer(store: Typestore, layer: np.ndarray, grid: BevGrid, stamp_ns: int, frame_id: str) -> Any:
    """A ``nav_msgs/OccupancyGrid`` of one (X, Y) bool layer on ``grid`` (metres in ``frame_id``)."""
    types = store.types
    nx, ny = grid.shape
    layer = np.asarray(layer, dtype=bool)
    if layer.shape != (nx, ny):
        raise ValueError(f"layer shape {layer.shape} does not match the grid {grid.shape}")
    pose = types["geometry_msgs/msg/Pose"](
        position=types["geometry_msgs/msg/Point"](x=float(grid.xmin), y=float(grid.ymin), z=0.0),
        orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0))
    stamp = header(store, stamp_ns, frame_id)
    info = types["nav_msgs/msg/MapMetaData"](map_load_time=stamp.stamp, resolution=float(grid.resolution),
                                             width=nx, height=ny, origin=pose)
    data = np.where(layer.T, OCCUPIED, FREE).astype(np.int8).reshape(-1)
    return types["nav_msgs/msg/OccupancyGrid"](header=stamp, info=info, data=data)


def decode_layer(msg: Any) -> tuple[np.ndarray, BevGrid]:
    """(X, Y) bool layer and its grid of a ``nav_msgs/OccupancyGrid``.

    The resolution is a float32 in the message; it is rounded to micrometres so that grids
    written from decimal resolutions (0.5, 0.4 m) come back equal.

    Raises:
        InvalidValueError: a rotated grid, a non-positive resolution or data of the wrong length.
    """
    info = msg.info
    q = info.origin.orientation
    if abs(abs(q.w) - 1.0) > 1e-9:
        raise InvalidValueError(None, f"OccupancyGrid {msg.header.frame_id!r}: the grid is rotated; only axis-aligned grids are read")
    resolution = round(float(info.resolution), 6)
    width, height = int(info.width), int(info.height)
    data = np.asarray(msg.data, dtype=np.int8)
    if resolution <= 0 or width <= 0 or height <= 0 or data.size != width * height:
        raise InvalidValueError(None, f"OccupancyGrid {msg.header.frame_id!r}: {width} x {height} cells at "
                                      f"{resolution} m with {data.size} values")
    xmin, ymin = round(float(info.origin.position.x), 6), round(float(info.origin.position.y), 6)
    grid = BevGrid(xmin, round(xmin + width * resolution, 6), ymin, round(ymin + height * resolution, 6), resolution)
    return (data.reshape(height, width) >= THRESHOLD).T.copy(), grid


def encode_probability_layer(store: Typestore, probability: np.ndarray, grid: BevGrid, stamp_ns: int,
                             frame_id: str) -> Any:
    """A ``nav_msgs/OccupancyGrid`` of one (X, Y) layer of probabilities (0-1) on ``grid``: cell
    values are the probability in percent, rounded (0-100), laid out as :func:`encode_layer`'s
    (which it equals for a layer of 0 and 1); :func:`decode_layer` reads cells of 50 % or more as set.

    Raises:
        ValueError: a layer whose shape is not the grid's.
    """
    probability = np.asarray(probability, dtype=np.float64)
    msg = encode_layer(store, probability >= 0.5, grid, stamp_ns, frame_id)
    msg.data[:] = np.clip(np.rint(probability.T * 100.0), FREE, OCCUPIED).astype(np.int8).reshape(-1)
    return msg
