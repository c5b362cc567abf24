"""Pictures of evaluated samples: predictions drawn over ground truth in the camera and BEV views.

One PNG per sample: the street cameras (ground-truth boxes in green, predicted boxes in their
class colour with the score); per camera the LiDAR points projected into the image coloured by
depth (the ground truth depth comes from them on real data; they line up with the image only when
the camera is placed at the LiDAR time correctly) and, with a depth head, the predicted depth in
the same colours (:data:`DEPTH_RANGE`); then two bird's-eye views of the same 100 m square (ego x
up, y left): ground truth (map layers, LiDAR points, boxes) and prediction (map cells with
probability >= 0.5, predicted boxes, ground-truth boxes as thin green outlines).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from perception.model.prediction import Prediction
from sensors.boxes import Boxes3D
from sensors.drawing import BevCanvas, draw_camera_boxes, put_title, write_png
from sensors.frame import BevGrid, Camera, Frame
from sensors.projection import project_points

GT_COLOR = (60, 220, 60)
TILE_W = 400
BEV_SIZE = 400
#: Half extent of the BEV views, metres.
BEV_RANGE = 50.0
#: Depth (metres) at the far end of the depth colour map (turbo: near blue, far red).
DEPTH_RANGE = 60.0


def camera_tile(camera: Camera, gt: Boxes3D | None, pred: Boxes3D | None) -> np.ndarray:
    """The camera image resized to :data:`TILE_W` wide with ground-truth and predicted boxes."""
    scale = TILE_W / camera.width
    tile = cv2.resize(camera.image, (TILE_W, int(round(camera.height * scale))), interpolation=cv2.INTER_AREA)
    if gt is not None:
        draw_camera_boxes(tile, gt, camera, scale, color=GT_COLOR)
    if pred is not None:
        draw_camera_boxes(tile, pred, camera, scale, thickness=2, scores=True)
    put_title(tile, camera.name)
    return tile


def _depth_colors(depth: np.ndarray) -> np.ndarray:
    """(..., 3) RGB turbo colours of depths in metres (0 .. DEPTH_RANGE)."""
    levels = np.clip(np.asarray(depth, np.float64) / DEPTH_RANGE * 255.0, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(levels.reshape(-1, 1), cv2.COLORMAP_TURBO).reshape(*levels.shape, 3)[..., ::-1]


def lidar_depth_tile(camera: Camera, points: np.ndarray) -> np.ndarray:
    """The darkened camera image with the ego-frame LiDAR ``points`` projected into it, coloured by depth."""
    scale = TILE_W / camera.width
    tile = cv2.resize(camera.image, (TILE_W, int(round(camera.height * scale))), interpolation=cv2.INTER_AREA) // 3
    uv, depth, valid = project_points(points, camera)
    order = np.argsort(-depth[valid])  # far first, near on top
    px = np.floor(uv[valid][order] * scale).astype(np.int64)
    colors = _depth_colors(depth[valid][order])
    for du, dv in ((0, 0), (1, 0), (0, 1), (1, 1)):  # 2 x 2 pixel dots
        q = np.minimum(px + [du, dv], [tile.shape[1] - 1, tile.shape[0] - 1])
        tile[q[:, 1], q[:, 0]] = colors
    put_title(tile, f"{camera.name} LiDAR depth")
    return tile


def predicted_depth_tile(camera: Camera, depth: np.ndarray) -> np.ndarray:
    """A predicted (H', W') depth map in metres, resized to the camera tile and coloured like the LiDAR."""
    size = (TILE_W, int(round(camera.height * TILE_W / camera.width)))
    tile = np.ascontiguousarray(_depth_colors(cv2.resize(np.asarray(depth, np.float32), size, interpolation=cv2.INTER_NEAREST)))
    put_title(tile, f"{camera.name} predicted depth")
    return tile


def bev_view(layers: np.ndarray | None, grid: BevGrid | None, boxes: list[tuple[Boxes3D, bool]],
             points: np.ndarray | None, title: str) -> np.ndarray:
    """A BEV picture: map layers (bool (C, X, Y) on ``grid``), LiDAR points, then boxes ((boxes, is_gt) pairs)."""
    canvas = BevCanvas(BEV_SIZE, BEV_RANGE)
    if layers is not None and grid is not None:
        canvas.draw_layers(layers, grid)
    if points is not None and len(points):
        canvas.draw_points(points, (150, 150, 150))
    for b, gt in boxes:
        canvas.draw_boxes(b, GT_COLOR if gt else None)
    put_title(canvas.image, title)
    return canvas.image


def _grid(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    height = max(t.shape[0] for t in tiles)
    padded = [np.pad(t, ((0, height - t.shape[0]), (0, TILE_W - t.shape[1]), (0, 0))) for t in tiles]
    padded += [np.zeros_like(padded[0])] * (-len(padded) % columns)
    return np.concatenate([np.concatenate(padded[i:i + columns], axis=1) for i in range(0, len(padded), columns)])


def draw_sample(frame: Frame, prediction: Prediction, segmentation_grid: BevGrid | None, path: str | Path) -> Path:
    """Write the picture of one sample (see the module docstring) atomically as PNG."""
    ann = frame.annotations
    gt_boxes = ann.boxes if ann is not None else None
    pred_boxes = prediction.boxes
    rows = []
    points = frame.lidar.points if frame.lidar is not None else None
    if frame.cameras:
        rows.append(_grid([camera_tile(c, gt_boxes, pred_boxes) for c in frame.cameras.values()], 3))
        if points is not None:
            rows.append(_grid([lidar_depth_tile(c, points) for c in frame.cameras.values()], 3))
        predicted = [predicted_depth_tile(c, prediction.depth[name]) for name, c in frame.cameras.items()
                     if prediction.depth and name in prediction.depth]
        if predicted:
            rows.append(_grid(predicted, 3))
    gt_map = ann.bev_map if ann is not None else None
    gt_view = bev_view(None if gt_map is None else gt_map.layers, None if gt_map is None else gt_map.grid,
                       [] if gt_boxes is None else [(gt_boxes, True)], points, "ground truth (x up, 100 m)")
    pred_layers = None if prediction.bev_map is None else prediction.bev_map >= 0.5
    pred_view = bev_view(pred_layers, segmentation_grid,
                         ([] if gt_boxes is None else [(gt_boxes, True)]) + ([] if pred_boxes is None else [(pred_boxes, False)]),
                         None, "prediction (map p >= 0.5; GT boxes green)")
    bev = np.concatenate([gt_view, pred_view], axis=1)
    width = max([bev.shape[1]] + [r.shape[1] for r in rows])
    rows.append(bev)
    return write_png(np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]), path)
