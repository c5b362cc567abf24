"""Infrared-like rendering of the driver's face for the cabin camera (OpenCV drawing).

The head is an ellipsoid whose features (eyes, brows, nose, mouth, ears) are points on it,
rotated by the head pose and projected orthographically; pupils move with the gaze. Image axes:
the camera faces the driver, so the driver's left appears on the image right.
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from sensors.sim.driver import DriverState

_AA = cv2.LINE_AA


def _rotate(points: np.ndarray, yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotate head-frame points (N, 3) (x image-right, y up, z towards the camera) by the pose (deg)."""
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return points @ (rz @ rx @ ry).T


@functools.lru_cache(maxsize=4)
def _vignette(h: int, w: int) -> np.ndarray:
    """(h, w) float32 IR vignetting gain, 1 at the centre; read-only (shared between frames)."""
    yy, xx = np.mgrid[0:h, 0:w]
    gain = (1.0 - 0.35 * (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2) / 2).astype(np.float32)
    gain.flags.writeable = False
    return gain


def render_cabin(state: DriverState, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Grey infrared-like image (H, W, 3) uint8 of the driver in ``state``."""
    h, w = size
    s = min(w / 320.0, h / 240.0)
    img = np.tile(np.linspace(38, 58, w, dtype=np.float32)[None, :], (h, 1))
    # Side window (bright in IR) and B-pillar on the driver's left (image right).
    cv2.fillPoly(img, [np.array([[0.78 * w, 0.05 * h], [w, 0.0], [w, 0.62 * h], [0.84 * w, 0.58 * h]], np.int32)], 128, _AA)
    cv2.rectangle(img, (int(0.74 * w), 0), (int(0.79 * w), h), 30, -1)
    cx, cy = 0.47 * w, 0.44 * h
    ax, ay = 0.15 * w, 0.27 * h
    # Seat headrest and body.
    cv2.ellipse(img, (int(cx), int(cy - 0.05 * h)), (int(1.45 * ax), int(1.05 * ay)), 0, 0, 360, 72, -1, _AA)
    shift_x = math.sin(math.radians(state.yaw)) * 0.12 * ax
    shift_y = -math.sin(math.radians(state.pitch)) * 0.2 * ay
    hx, hy = cx + shift_x, cy + shift_y
    cv2.fillPoly(img, [np.array([[cx - 0.35 * ax, cy + 0.8 * ay], [cx + 0.35 * ax, cy + 0.8 * ay],
                                 [cx + 0.45 * ax, cy + 1.3 * ay], [cx - 0.45 * ax, cy + 1.3 * ay]], np.int32)], 150, _AA)
    cv2.ellipse(img, (int(cx), int(h + 0.1 * h)), (int(2.4 * ax), int(0.75 * ay)), 0, 180, 360, 84, -1, _AA)
    # Head: skin ellipse, shaded darker on the side turned away, hair on top.
    roll = state.roll
    cv2.ellipse(img, (int(hx), int(hy)), (int(ax), int(ay)), roll, 0, 360, 178, -1, _AA)
    shade = np.zeros_like(img)
    side = 1 if state.yaw < 0 else -1
    cv2.ellipse(shade, (int(hx + side * 0.55 * ax), int(hy)), (int(0.5 * ax), int(ay)), roll, 0, 360,
                min(60.0, abs(state.yaw) * 1.2), -1, _AA)
    head_mask = np.zeros_like(img)
    cv2.ellipse(head_mask, (int(hx), int(hy)), (int(ax), int(ay)), roll, 0, 360, 1, -1, _AA)
    img -= shade * head_mask
    # Hair: the part of the head above the hairline (which moves with the head pitch).
    hairline = hy - ay * (0.42 + 0.35 * math.sin(math.radians(state.pitch)))
    hair = head_mask.copy()
    hair[int(max(0, hairline)):] = 0
    img = img * (1 - hair) + 48.0 * hair
    def project(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rotated = _rotate(points, state.yaw, state.pitch, roll)
        return np.column_stack([hx + rotated[:, 0] * ax, hy - rotated[:, 1] * ay]), rotated[:, 2]

    # Ears.
    ears, ez = project(np.array([[-1.0, 0.05, 0.0], [1.0, 0.05, 0.0]]))
    for (ex, ey), z in zip(ears, ez):
        if z > -0.35:
            cv2.ellipse(img, (int(ex), int(ey)), (int(0.12 * ax), int(0.22 * ay)), roll, 0, 360, 160, -1, _AA)
    # Eyes with lids, iris and pupil following the gaze.
    eye_pts, eye_z = project(np.array([[-0.38, 0.12, 0.92], [0.38, 0.12, 0.92]]))
    gx = state.eye_dx
    gy = state.eye_dy
    for (ex, ey), z in zip(eye_pts, eye_z):
        if z < 0.15:
            continue
        ew = 0.2 * ax * min(1.0, z + 0.1)
        eh_full = 0.5 * 0.2 * ax
        eh = max(0.5, state.openness * eh_full)
        cv2.ellipse(img, (int(ex), int(ey - 0.14 * ay)), (int(ew * 1.2), max(1, int(0.04 * ay))), roll, 0, 360, 55, -1, _AA)
        if state.openness > 0.12:
            eye = np.zeros_like(img)
            cv2.ellipse(eye, (int(ex), int(ey)), (int(ew), int(eh)), roll, 0, 360, 1, -1, _AA)
            layer = np.full_like(img, 225)
            ix = ex + gx * 0.55 * ew
            iy = ey + gy * 0.5 * eh_full
            cv2.circle(layer, (int(ix), int(iy)), max(1, int(round(0.8 * eh_full))), 60, -1, _AA)
            cv2.circle(layer, (int(ix), int(iy)), max(1, int(round(0.42 * eh_full))), 8, -1, _AA)
            cv2.circle(layer, (int(ix - 0.15 * eh_full), int(iy - 0.15 * eh_full)), max(1, int(0.08 * eh_full)), 255, -1, _AA)
            img = img * (1 - eye) + layer * eye
            cv2.ellipse(img, (int(ex), int(ey)), (int(ew), int(eh)), roll, 180, 360, 60, max(1, int(2 * s)), _AA)
        else:
            cv2.ellipse(img, (int(ex), int(ey)), (int(ew), max(1, int(0.25 * eh_full))), roll, 0, 180, 60, max(1, int(2 * s)), _AA)
    # Nose and mouth.
    (nb, nt, m0, m1), nz = project(np.array([[0.0, 0.05, 0.98], [0.0, -0.28, 1.1], [-0.25, -0.52, 0.86], [0.25, -0.52, 0.86]]))
    cv2.line(img, tuple(int(v) for v in nb), tuple(int(v) for v in nt), 140, max(1, int(2 * s)), _AA)
    cv2.circle(img, (int(nt[0]), int(nt[1] + 0.03 * ay)), max(1, int(0.05 * ax)), 120, -1, _AA)
    if nz[2] > 0 or nz[3] > 0:
        cv2.line(img, tuple(int(v) for v in m0), tuple(int(v) for v in m1), 95, max(1, int(3 * s)), _AA)
    # Phone: at the ear (image left: held in the right hand) or in the lap with a lit screen.
    if state.phone == "ear":
        ear = ears[0]
        box = cv2.boxPoints(((ear[0] - 0.05 * ax, ear[1] + 0.15 * ay), (0.28 * ax, 0.62 * ay), -15 + roll))
        cv2.fillPoly(img, [box.astype(np.int32)], 28, _AA)
        cv2.ellipse(img, (int(ear[0] - 0.15 * ax), int(ear[1] + 0.55 * ay)), (int(0.3 * ax), int(0.22 * ay)), 20, 0, 360, 165, -1, _AA)
    elif state.phone == "lap":
        pc = (cx + 0.2 * ax, cy + 1.55 * ay)
        box = cv2.boxPoints((pc, (0.75 * ax, 0.3 * ay), 8))
        cv2.fillPoly(img, [box.astype(np.int32)], 30, _AA)
        inner = cv2.boxPoints((pc, (0.62 * ax, 0.22 * ay), 8))
        cv2.fillPoly(img, [inner.astype(np.int32)], 190, _AA)
        cv2.ellipse(img, (int(pc[0] - 0.5 * ax), int(pc[1] + 0.1 * ay)), (int(0.25 * ax), int(0.14 * ay)), 0, 0, 360, 160, -1, _AA)
    # Sensor look: IR vignetting, blur, noise.
    img = cv2.GaussianBlur(img * _vignette(h, w), (3, 3), 0) + rng.normal(0, 3.0, size=(h, w)).astype(np.float32)
    grey = np.clip(img, 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)
