"""One picture of a sample (:func:`render_preview`): cameras with boxes, BEV, cabin with labels."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sensors.atomic import atomic_write_bytes
from sensors.classes import DETECTION_CLASSES, EYE_STATES, GAZE_ZONES, MAP_CLASSES
from sensors.frame import Camera, Frame
from sensors.projection import project_boxes

#: RGB colour per detection class.
CLASS_COLORS = {
    "car": (255, 158, 0), "truck": (255, 99, 71), "bus": (255, 69, 0), "trailer": (233, 150, 70),
    "construction_vehicle": (233, 200, 50), "pedestrian": (0, 0, 230), "motorcycle": (255, 61, 99),
    "bicycle": (220, 20, 60), "traffic_cone": (47, 79, 79), "barrier": (112, 128, 144),
}
#: RGB colour per map layer, drawn in this order.
MAP_COLORS = {
    "drivable_area": (70, 70, 80), "carpark_area": (90, 60, 110), "walkway": (120, 100, 70),
    "ped_crossing": (170, 150, 60), "stop_line": (200, 40, 40), "divider": (200, 200, 200),
}
_EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]
_LAYOUT = [("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"), ("CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT")]
TILE = (225, 400)  # H, W of each camera tile
BEV_SIZE = 450


def _camera_tile(camera: Camera, frame: Frame) -> np.ndarray:
    tile = cv2.resize(camera.image, (TILE[1], TILE[0]), interpolation=cv2.INTER_AREA)
    scale = np.array([TILE[1] / camera.width, TILE[0] / camera.height])
    boxes = frame.annotations.boxes if frame.annotations else None
    if boxes is not None and len(boxes):
        corners, visible = project_boxes(boxes, camera)
        order = np.argsort(-np.linalg.norm(boxes.center, axis=1))
        for i in order[visible[order]]:
            color = CLASS_COLORS[DETECTION_CLASSES[boxes.label[i]]]
            uv = np.round(corners[i] * scale).astype(np.int32)
            for a, b in _EDGES:
                cv2.line(tile, tuple(uv[a]), tuple(uv[b]), color, 1, cv2.LINE_AA)
            cv2.line(tile, tuple(uv[0]), tuple(uv[7]), color, 1, cv2.LINE_AA)
            cv2.line(tile, tuple(uv[3]), tuple(uv[4]), color, 1, cv2.LINE_AA)
    cv2.putText(tile, camera.name, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def _bev(frame: Frame) -> np.ndarray:
    img = np.full((BEV_SIZE, BEV_SIZE, 3), 25, np.uint8)
    ann = frame.annotations
    if ann is None or ann.bev_map is None:
        grid_xmax, grid_ymax, res = 50.0, 50.0, 100.0 / BEV_SIZE
    else:
        grid = ann.bev_map.grid
        nx, ny = grid.shape
        for name, color in MAP_COLORS.items():
            layer = ann.bev_map.layers[MAP_CLASSES.index(name)][::-1, ::-1].astype(np.uint8)
            mask = cv2.resize(layer, (BEV_SIZE, BEV_SIZE), interpolation=cv2.INTER_NEAREST).astype(bool)
            img[mask] = color
        grid_xmax, grid_ymax = grid.xmax, grid.ymax
        res = max(grid.xmax - grid.xmin, grid.ymax - grid.ymin) / BEV_SIZE

    def to_px(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.stack([(grid_ymax - y) / res, (grid_xmax - x) / res], axis=-1)

    if frame.lidar is not None:
        pts = frame.lidar.points
        px = np.round(to_px(pts[:, 0], pts[:, 1])).astype(int)
        ok = (px >= 0).all(1) & (px < BEV_SIZE).all(1)
        z = np.clip((pts[ok, 2] + 0.5) / 4.0, 0, 1)
        img[px[ok, 1], px[ok, 0]] = np.stack([80 + 175 * z, 255 - 120 * z, 255 - 200 * z], axis=1).astype(np.uint8)
    if ann is not None and ann.boxes is not None:
        boxes = ann.boxes
        corners = boxes.corners()[:, :4, :2]
        for i in range(len(boxes)):
            poly = np.round(to_px(corners[i, :, 0], corners[i, :, 1])).astype(np.int32)
            color = CLASS_COLORS[DETECTION_CLASSES[boxes.label[i]]]
            cv2.polylines(img, [poly], True, color, 1, cv2.LINE_AA)
            front = np.round(to_px(*(corners[i, [0, 3]].mean(0)))).astype(int)
            center = np.round(to_px(*boxes.center[i, :2])).astype(int)
            cv2.line(img, tuple(center), tuple(front), color, 1, cv2.LINE_AA)
    ego = np.round(to_px(np.array([2.6, -1.0, -1.0, 2.6]), np.array([0.0, 0.9, -0.9, 0.0]))).astype(np.int32)
    cv2.fillPoly(img, [ego[:3]], (0, 220, 0))
    cv2.putText(img, "BEV (x up, 100 m)", (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return img


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
    canvas = np.concatenate([top, bottom], axis=0)
    ok, data = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"could not encode preview for {path}")
    atomic_write_bytes(path, data.tobytes())
