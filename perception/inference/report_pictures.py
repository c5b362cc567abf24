"""Pictures of one evaluated frame for the HTML report, as RGB uint8 arrays (no file written).

Built from the sample pictures' pieces (:mod:`perception.inference.visualize`): the six street
cameras with true (green) and predicted (class colour, score) boxes; a bird's-eye view of the
100 m square around the ego car (x up, y left) with the true map filled, the predicted map
(p >= 0.5) outlined in the same colours, the LiDAR points, true boxes in green and predicted
boxes in class colours; and per camera the predicted depth next to the true (LiDAR) depth at
the model's input size, in the colour scale of the sample pictures (``visualize.DEPTH_RANGE``).
"""
from __future__ import annotations

import cv2
import numpy as np

from perception.data.transforms import resize_crop
from perception.inference.visualize import bev_view, camera_tile, depth_colors
from perception.model.prediction import Prediction
from sensors.drawing import MAP_COLORS
from sensors.frame import BevGrid, Camera, Frame

#: Street cameras in picture order: front row left to right, then the back row.
CAMERA_ORDER = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT")
#: The bird's-eye view is drawn this many times larger than :data:`visualize.BEV_SIZE`.
BEV_SCALE = 2
_BACKGROUND = 25  # grey level of an empty BEV view (visualize.bev_view)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def stack_tiles(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    """Tiles (H_i, W_i, 3) laid out row by row, ``columns`` per row, padded with black."""
    height = max(t.shape[0] for t in tiles)
    width = max(t.shape[1] for t in tiles)
    padded = [np.pad(t, ((0, height - t.shape[0]), (0, width - t.shape[1]), (0, 0))) for t in tiles]
    padded += [np.zeros_like(padded[0])] * (-len(padded) % columns)
    return np.concatenate([np.concatenate(padded[i:i + columns], axis=1) for i in range(0, len(padded), columns)])


def cameras_picture(frame: Frame, prediction: Prediction, columns: int = 3) -> np.ndarray | None:
    """The frame's street cameras with true and predicted boxes (None without cameras)."""
    if not frame.cameras:
        return None
    gt = frame.annotations.boxes if frame.annotations is not None else None
    names = [n for n in CAMERA_ORDER if n in frame.cameras] + [n for n in frame.cameras if n not in CAMERA_ORDER]
    return stack_tiles([camera_tile(frame.cameras[n], gt, prediction.boxes) for n in names], columns)


def bev_picture(frame: Frame, prediction: Prediction, segmentation_grid: BevGrid | None) -> np.ndarray:
    """The bird's-eye view described in the module docstring, (BEV_SIZE, BEV_SIZE, 3)."""
    ann = frame.annotations
    gt_map = ann.bev_map if ann is not None else None
    true_fill = bev_view(None if gt_map is None else gt_map.layers, None if gt_map is None else gt_map.grid,
                         [], None, "")
    image = (true_fill.astype(np.float32) * 0.7).astype(np.uint8)
    if prediction.bev_map is not None and segmentation_grid is not None:
        predicted = bev_view(prediction.bev_map >= 0.5, segmentation_grid, [], None, "")
        for color in MAP_COLORS.values():
            mask = np.all(predicted == color, axis=-1).astype(np.uint8)
            contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
            bright = tuple(int(min(255, 60 + 1.3 * c)) for c in color)
            cv2.drawContours(image, contours, -1, bright, 1, cv2.LINE_AA)
    boxes = ([] if ann is None or ann.boxes is None else [(ann.boxes, True)]) + \
        ([] if prediction.boxes is None else [(prediction.boxes, False)])
    points = frame.lidar.points if frame.lidar is not None else None
    overlay = bev_view(None, None, boxes, points, "")
    drawn = np.any(overlay != _BACKGROUND, axis=-1)
    image[drawn] = overlay[drawn]
    size = image.shape[0] * BEV_SCALE
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_NEAREST)
    return np.concatenate([_legend(size), image])


def _legend(width: int) -> np.ndarray:
    """A band naming the map layer colours (filled: truth, outlined: prediction)."""
    band = np.full((30, width, 3), 245, np.uint8)
    x = 8
    for name, color in MAP_COLORS.items():
        cv2.rectangle(band, (x, 9), (x + 14, 21), color, -1)
        cv2.putText(band, name, (x + 19, 20), _FONT, 0.42, (40, 40, 40), 1, cv2.LINE_AA)
        x += 24 + cv2.getTextSize(name, _FONT, 0.42, 1)[0][0]
    return band


def depth_pair(camera: Camera, predicted_m: np.ndarray, true_m: np.ndarray, scale: int = 1) -> np.ndarray:
    """Predicted depth (left) and the true depth at the pixels that have it, over the darkened
    camera image (right); both (H, W) metres at the model input size, drawn ``scale`` times larger,
    with a 4-pixel white margin on the right and below (pairs are laid out side by side)."""
    h, w = true_m.shape
    pred = np.ascontiguousarray(depth_colors(predicted_m))
    background = resize_crop(camera.image, h, w, cv2.INTER_AREA) // 3
    known = true_m > 0
    true = background.copy()
    true[known] = depth_colors(true_m[known])
    tiles = []
    for tile, title in ((pred, f"{camera.name} predicted depth"), (true, f"{camera.name} LiDAR depth (truth)")):
        tile = cv2.resize(tile, (w * scale, h * scale), interpolation=cv2.INTER_NEAREST)
        cv2.putText(tile, title, (6, 14), _FONT, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
    pair = np.concatenate([tiles[0], gap, tiles[1], gap], axis=1)
    return np.pad(pair, ((0, 4), (0, 0), (0, 0)), constant_values=255)  # white gap below

