"""The town's map classes as map-expansion geometry (:func:`town_map`): polygons and lines in the
global frame that trace exactly the regions :func:`sensors.sim.town.ground_at` labels.

Avenue regions are bands between two lateral offsets ``d0 < d1`` of an avenue; ``ground_at``'s
offset of a point is ``d = (y - yc(x)) cos(theta(x))``, so the band edge at offset ``d`` is the
curve ``y = yc(x) + d / cos(theta(x))``, sampled every :data:`STEP` metres of x (the chord of
the gentle sine strays < 1 mm from it). Cross-street regions are rectangles in x, cut by avenue
edges where ``ground_at`` gives the avenue precedence. Dividers are lines along the middle of the
painted bands (the map expansion has no line width: the devkit draws them 2 pixels wide).
"""
from __future__ import annotations

import math

import numpy as np

from sensors.nuscenes.map_expansion import MapGeometry
from sensors.sim.town import (
    AV_HALF,
    AV_LANES,
    LANE_WIDTH,
    LOT_DEPTH,
    SIDEWALK_WIDTH,
    Town,
    avenue_frame,
)

#: Sampling step (m) of curved region edges along x.
STEP = 1.0
#: The map reaches this far (m) beyond the outermost cross streets and avenues.
MARGIN = 100.0
#: Stop-line band: from this far to that far (m) beyond the crossing.
STOP_NEAR, STOP_FAR = 0.3, 0.8


def _edge(avenue: np.ndarray, x0: float, x1: float, d: float) -> np.ndarray:
    """(N, 2) points of the avenue's offset-``d`` curve from x0 to x1."""
    xs = np.linspace(x0, x1, max(2, math.ceil(abs(x1 - x0) / STEP) + 1))
    out = np.empty((len(xs), 2))
    for i, x in enumerate(xs):
        yc, theta = avenue_frame(avenue, float(x))
        out[i] = x, yc + d / math.cos(theta)
    return out


def _band(avenue: np.ndarray, x0: float, x1: float, d0: float, d1: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Polygon between the avenue's offset curves d0 and d1 over x in [x0, x1]."""
    return np.concatenate([_edge(avenue, x0, x1, d0), _edge(avenue, x0, x1, d1)[::-1]]), []


def _rect(x0: float, x1: float, y0: float, y1: float) -> tuple[np.ndarray, list[np.ndarray]]:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64), []


def _cross_piece(x0: float, x1: float, below: tuple[np.ndarray, float] | float,
                 above: tuple[np.ndarray, float] | float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Polygon over x in [x0, x1] from a lower to an upper boundary: each a fixed y or an
    (avenue, offset) curve."""
    low = _edge(*below[:1], x0, x1, below[1]) if isinstance(below, tuple) else np.array([[x0, below], [x1, below]])
    high = _edge(*above[:1], x0, x1, above[1]) if isinstance(above, tuple) else np.array([[x0, above], [x1, above]])
    return np.concatenate([low, high[::-1]]), []


def _gaps(cross_x: np.ndarray, cross_half: np.ndarray, pad: float, lo: float, hi: float) -> list[tuple[float, float]]:
    """x intervals in [lo, hi] outside every ``[cx - half - pad, cx + half + pad]``."""
    out, start = [], lo
    for cx, half in zip(cross_x, cross_half):
        if cx - half - pad > start:
            out.append((start, cx - half - pad))
        start = max(start, cx + half + pad)
    if hi > start:
        out.append((start, hi))
    return out


def town_map(town: Town) -> MapGeometry:
    """Map-expansion geometry of ``town``'s map classes (global frame, metres), covering the town's
    cross streets and avenues with :data:`MARGIN` to spare."""
    sw = SIDEWALK_WIDTH
    x_lo, x_hi = float(town.cross_x[0]) - MARGIN, float(town.cross_x[-1]) + MARGIN
    order = np.argsort(town.avenues[:, 0])
    avenues = town.avenues[order]
    y_lo, y_hi = float(avenues[0, 0]) - MARGIN, float(avenues[-1, 0]) + MARGIN
    cx_all, ch_all = town.cross_x, town.cross_half
    geo = MapGeometry({k: [] for k in ("drivable_area", "ped_crossing", "walkway", "stop_line", "carpark_area")},
                      {"road_divider": [], "lane_divider": []})
    poly, lines = geo.polygons, geo.lines
    for av in avenues:
        hw, lanes = float(av[AV_HALF]), int(av[AV_LANES])
        poly["drivable_area"].append(_band(av, x_lo, x_hi, -hw, hw))
        for x0, x1 in _gaps(cx_all, ch_all, 0.0, x_lo, x_hi):
            for side in (-1.0, 1.0):
                poly["walkway"].append(_band(av, x0, x1, side * hw, side * (hw + sw)))
        for x0, x1 in _gaps(cx_all, ch_all, sw, x_lo, x_hi):
            lines["road_divider"].append(_edge(av, x0, x1, 0.0))
            for i in range(1, lanes + 1):
                for side in (-1.0, 1.0):
                    lines["lane_divider"].append(_edge(av, x0, x1, side * i * LANE_WIDTH))
        for cx, hk in zip(cx_all, ch_all):
            cx, hk = float(cx), float(hk)
            for side in (-1.0, 1.0):
                near, far = cx + side * hk, cx + side * (hk + sw)
                poly["ped_crossing"].append(_band(av, min(near, far), max(near, far), -hw, hw))
                poly["ped_crossing"].append(_band(av, cx - hk, cx + hk, side * hw, side * (hw + sw)))
            # Right-hand traffic: the lanes right of the centre line (d < 0) approach from -x.
            a, b = cx - hk - sw - STOP_FAR, cx - hk - sw - STOP_NEAR
            poly["stop_line"].append(_band(av, a, b, -lanes * LANE_WIDTH, 0.0))
            a, b = cx + hk + sw + STOP_NEAR, cx + hk + sw + STOP_FAR
            poly["stop_line"].append(_band(av, a, b, 0.0, lanes * LANE_WIDTH))
            # Cross-street traffic south of the avenue (d < 0) drives on x > cx toward +y.
            poly["stop_line"].append(_band(av, cx, cx + hk, -(hw + sw + STOP_FAR), -(hw + sw + STOP_NEAR)))
            poly["stop_line"].append(_band(av, cx - hk, cx, hw + sw + STOP_NEAR, hw + sw + STOP_FAR))
    for cx, hk in zip(cx_all, ch_all):
        cx, hk = float(cx), float(hk)
        poly["drivable_area"].append(_rect(cx - hk, cx + hk, y_lo, y_hi))
        # Between and beyond the avenues: sidewalks (cut by the avenue roads) and the centre line
        # (cut by the avenue roads and their sidewalks).
        bounds: list[tuple[tuple[np.ndarray, float] | float, tuple[np.ndarray, float] | float, float]] = []
        previous: tuple[np.ndarray, float] | float = y_lo
        for av in avenues:
            bounds.append((previous, (av, -float(av[AV_HALF])), sw))
            previous = (av, float(av[AV_HALF]))
        bounds.append((previous, y_hi, sw))
        for below, above, pad in bounds:
            for x0, x1 in ((cx - hk - sw, cx - hk), (cx + hk, cx + hk + sw)):
                poly["walkway"].append(_cross_piece(x0, x1, below, above))
            low = below if not isinstance(below, tuple) else (below[0], below[1] + pad)
            high = above if not isinstance(above, tuple) else (above[0], above[1] - pad)
            y0 = low if not isinstance(low, tuple) else _edge(low[0], cx, cx, low[1])[0, 1]
            y1 = high if not isinstance(high, tuple) else _edge(high[0], cx, cx, high[1])[0, 1]
            lines["road_divider"].append(np.array([[cx, y0], [cx, y1]]))
    for j, side, x0, x1 in town.lots:
        av = town.avenues[int(j)]
        hw = float(av[AV_HALF])
        poly["carpark_area"].append(_band(av, float(x0), float(x1), side * (hw + sw), side * (hw + sw + LOT_DEPTH)))
    return geo
