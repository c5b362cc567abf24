"""Drawing frames and predictions into pictures: one module for the simulator preview
(:mod:`sensors.sim.preview`) and the evaluation samples (:mod:`perception.inference.visualize`).

Images are RGB uint8 (H, W, 3), drawn in place with OpenCV. A :class:`BevCanvas` is a square
bird's-eye view of the ego frame with ego x up and ego y to the left.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sensors.atomic import atomic_write_bytes
from sensors.boxes import BOX_EDGES, Boxes3D
from sensors.classes import DETECTION_CLASSES, MAP_CLASSES
from sensors.frame import BevGrid, Camera
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
WHITE = (255, 255, 255)


def class_color(label: int) -> tuple[int, int, int]:
    """RGB colour of detection class index ``label``."""
    return CLASS_COLORS[DETECTION_CLASSES[int(label)]]


def put_title(image: np.ndarray, text: str) -> None:
    """Write ``text`` in the top-left corner of ``image``."""
    cv2.putText(image, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, WHITE, 1, cv2.LINE_AA)


def draw_camera_boxes(image: np.ndarray, boxes: Boxes3D, camera: Camera, scale: float | np.ndarray,
                      color: tuple[int, int, int] | None = None, thickness: int = 1, scores: bool = False,
                      front_cross: bool = False) -> None:
    """Draw the boxes visible in ``camera`` into ``image`` (the camera image resized by ``scale``,
    a number or (sx, sy)), farthest first; in ``color`` or each box's class colour, with the score
    above the box (``scores``) and a cross on the front face (``front_cross``)."""
    if len(boxes) == 0:
        return
    corners, visible = project_boxes(boxes, camera)
    order = np.argsort(-np.linalg.norm(boxes.center, axis=1))
    for i in order[visible[order]]:
        c = color if color is not None else class_color(boxes.label[i])
        uv = np.round(corners[i] * scale).astype(np.int32)
        for a, b in BOX_EDGES:
            cv2.line(image, tuple(uv[a]), tuple(uv[b]), c, thickness, cv2.LINE_AA)
        if front_cross:
            cv2.line(image, tuple(uv[0]), tuple(uv[7]), c, thickness, cv2.LINE_AA)
            cv2.line(image, tuple(uv[3]), tuple(uv[4]), c, thickness, cv2.LINE_AA)
        if scores:
            cv2.putText(image, f"{boxes.score[i]:.2f}", tuple(uv[4]), cv2.FONT_HERSHEY_SIMPLEX, 0.35, c, 1, cv2.LINE_AA)


@dataclass
class BevCanvas:
    """A ``size`` x ``size`` bird's-eye view of ego x in [-half_range, half_range] (up) and ego y
    in [-half_range, half_range] (left), metres; ``image`` starts dark grey."""

    size: int
    half_range: float
    image: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.image = np.full((self.size, self.size, 3), 25, np.uint8)

    @property
    def resolution(self) -> float:
        """Metres per pixel."""
        return 2 * self.half_range / self.size

    def to_px(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ego x, y (metres) -> pixel (u right = -y, v down = -x), float (..., 2)."""
        return np.stack([(self.half_range - y) / self.resolution, (self.half_range - x) / self.resolution], axis=-1)

    def draw_layers(self, layers: np.ndarray, grid: BevGrid) -> None:
        """Paint bool map layers (len(MAP_CLASSES), X, Y) on ``grid``, sampled at the pixel centres,
        in :data:`MAP_COLORS` order."""
        centres = self.half_range - (np.arange(self.size) + 0.5) * self.resolution
        ix = np.floor((centres - grid.xmin) / grid.resolution).astype(np.int64)  # rows: x
        iy = np.floor((centres - grid.ymin) / grid.resolution).astype(np.int64)  # columns: y
        nx, ny = grid.shape
        inside = ((ix >= 0) & (ix < nx))[:, None] & ((iy >= 0) & (iy < ny))[None, :]
        view = np.asarray(layers, bool)[:, np.clip(ix, 0, nx - 1)][:, :, np.clip(iy, 0, ny - 1)] & inside[None]
        for name, color in MAP_COLORS.items():
            self.image[view[MAP_CLASSES.index(name)]] = color

    def draw_points(self, points: np.ndarray, colors: np.ndarray | tuple[int, int, int]) -> None:
        """Plot ego-frame points (N, >= 2) as single pixels in ``colors`` ((N, 3) uint8 or one colour)."""
        px = np.round(self.to_px(points[:, 0], points[:, 1])).astype(int)
        ok = (px >= 0).all(1) & (px < self.size).all(1)
        colors = np.asarray(colors, np.uint8)
        self.image[px[ok, 1], px[ok, 0]] = colors[ok] if colors.ndim == 2 else colors

    def draw_boxes(self, boxes: Boxes3D, color: tuple[int, int, int] | None = None) -> None:
        """Box outlines with a heading tick (centre to front), in ``color`` or the class colours."""
        corners = boxes.corners()[:, :4, :2]
        for i in range(len(boxes)):
            c = color if color is not None else class_color(boxes.label[i])
            poly = np.round(self.to_px(corners[i, :, 0], corners[i, :, 1])).astype(np.int32)
            cv2.polylines(self.image, [poly], True, c, 1, cv2.LINE_AA)
            front = np.round(self.to_px(*corners[i, [0, 3]].mean(0))).astype(int)
            centre = np.round(self.to_px(*boxes.center[i, :2])).astype(int)
            cv2.line(self.image, tuple(centre), tuple(front), c, 1, cv2.LINE_AA)


def write_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB image as PNG atomically.

    Raises:
        RuntimeError: OpenCV could not encode it.
    """
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"could not encode the picture {path}")
    return atomic_write_bytes(path, data.tobytes())
