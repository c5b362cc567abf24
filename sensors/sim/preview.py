"""One picture of a sample (:func:`render_preview`): cameras with boxes, BEV, cabin with labels."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sensors.classes import DETECTION_CLASSES, EYE_STATES, GAZE_ZONES
from sensors.drawing import BevCanvas, draw_camera_boxes, put_title, write_png
from sensors.frame import Camera, Frame

_LAYOUT = [("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"), ("CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT")]
TILE = (225, 400)  # H, W of each camera tile
BEV_SIZE = 450
#: Half extent of the BEV view without a map, metres.
BEV_RANGE = 50.0


def _camera_tile(camera: Camera, frame: Frame) -> np.ndarray:
    tile = cv2.resize(camera.image, (TILE[1], TILE[0]), interpolation=cv2.INTER_AREA)
    scale = np.array([TILE[1] / camera.width, TILE[0] / camera.height])
    boxes = frame.annotations.boxes if frame.annotations else None
    if boxes is not None:
        draw_camera_boxes(tile, boxes, camera, scale, front_cross=True)
    put_title(tile, camera.name)
    return tile


def _bev(frame: Frame) -> np.ndarray:
    ann = frame.annotations
    grid = ann.bev_map.grid if ann is not None and ann.bev_map is not None else None
    half = BEV_RANGE if grid is None else max(grid.xmax, -grid.xmin, grid.ymax, -grid.ymin)
    canvas = BevCanvas(BEV_SIZE, half)
    if ann is not None and ann.bev_map is not None:
        canvas.draw_layers(ann.bev_map.layers, ann.bev_map.grid)
    if frame.lidar is not None:
        pts = frame.lidar.points
        z = np.clip((pts[:, 2] + 0.5) / 4.0, 0, 1)
        canvas.draw_points(pts, np.stack([80 + 175 * z, 255 - 120 * z, 255 - 200 * z], axis=1).astype(np.uint8))
    if ann is not None and ann.boxes is not None:
        canvas.draw_boxes(ann.boxes)
    ego = np.round(canvas.to_px(np.array([2.6, -1.0, -1.0, 2.6]), np.array([0.0, 0.9, -0.9, 0.0]))).astype(np.int32)
    cv2.fillPoly(canvas.image, [ego[:3]], (0, 220, 0))
    put_title(canvas.image, f"BEV (x up, {2 * half:.0f} m)")
    return canvas.image


def _cabin_panel(frame: Frame, height: int, width: int) -> np.ndarray:
    panel = np.full((height, width, 3), 18, np.uint8)
    lines = [f"{frame.scene}  t={frame.timestamp} us  token {frame.token[:8]}"]
    if frame.lidar is not None:
        lines.append(f"LiDAR points: {len(frame.lidar.points)}  sweeps: {len(frame.sweeps)}")
    ann = frame.annotations
    if ann is not None and ann.boxes is not None:
        names = ann.boxes.class_names()
        counts = [f"{c}:{names.count(c)}" for c in DETECTION_CLASSES if c in names]
        lines.append(f"boxes {len(names)}: " + ", ".join(counts[:5]))
        if counts[5:]:
            lines.append("    " + ", ".join(counts[5:]))
    x0 = 10
    if frame.cabin is not None:
        cab = frame.cabin.image
        scale = min(1.0, (height - 20) / cab.shape[0])
        cab = cv2.resize(cab, (int(cab.shape[1] * scale), int(cab.shape[0] * scale)))
        panel[10:10 + cab.shape[0], 10:10 + cab.shape[1]] = cab
        x0 = 20 + cab.shape[1]
        if ann is not None and ann.driver is not None:
            d = ann.driver
            lines += [
                f"CAM_CABIN  eye openness {d.eye_openness:.2f} ({EYE_STATES[d.eye_state]})",
                f"gaze zone: {GAZE_ZONES[d.gaze_zone]}   phone: {'yes' if d.phone else 'no'}",
                "head yaw/pitch/roll: " + "/".join(f"{v:+.0f}" for v in d.head_pose) + " deg",
            ]
    for i, text in enumerate(lines):
        cv2.putText(panel, text[:110], (x0, 28 + 24 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (230, 230, 230), 1, cv2.LINE_AA)
    return panel


def render_preview(frame: Frame, path: Path) -> None:
    """Write a PNG of ``frame`` to ``path`` (atomically): the six cameras with projected 3D boxes,
    a BEV view (map layers, LiDAR points, boxes) and the cabin frame with its labels."""
    rows = []
    for names in _LAYOUT:
        tiles = [_camera_tile(frame.cameras[n], frame) if n in frame.cameras else np.zeros((*TILE, 3), np.uint8) for n in names]
        rows.append(np.concatenate(tiles, axis=1))
    cams = np.concatenate(rows, axis=0)
    top = np.concatenate([cams, _bev(frame)], axis=1)
    bottom = _cabin_panel(frame, 260, top.shape[1])
    write_png(np.concatenate([top, bottom], axis=0), path)
