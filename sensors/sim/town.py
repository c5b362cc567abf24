"""The procedural town: street layout, ground materials and BEV map classes, buildings.

Global frame: x east, y north, z up, metres, ground at z = 0. Streets are "avenues" running
along +x (gently curved: centre line ``y = y0 + A sin(2 pi x / L + phase)``) and straight
"cross streets" along +y at increasing x. Right-hand traffic. The ground is analytic: every
query of a point ``(x, y)`` returns its material and map classes (:func:`ground_at`), so
cameras and LiDAR read the same geometry at any resolution; the BEV map ground truth is the town's
map expansion (:mod:`sensors.sim.town_map`), which traces these map classes (tested).

Avenue coordinates of a point: ``x`` and the signed lateral offset ``d`` from the centre line
(positive to the left of +x), ``d = (y - yc(x)) cos(theta)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from sensors.sim.shapes import Parts
from sensors.sim.warmup import warm_up

LANE_WIDTH = 3.5
BIKE_LANE_WIDTH = 1.5
SIDEWALK_WIDTH = 3.5
LOT_DEPTH = 18.0
SLOT_PITCH = 2.7
SLOT_DEPTH = 5.0

# Ground materials (index into MATERIAL_COLOR / MATERIAL_INTENSITY).
GRASS, ASPHALT, WHITE_PAINT, YELLOW_PAINT, SIDEWALK, PARKING = 0, 1, 2, 3, 4, 5
#: RGB of each ground material.
MATERIAL_COLOR = np.array(
    [[88, 112, 62], [92, 92, 96], [228, 228, 222], [222, 180, 60], [168, 162, 152], [108, 106, 104]], dtype=np.float64
)
#: LiDAR intensity (0-255) of each ground material: paint is retro-reflective, asphalt dark.
MATERIAL_INTENSITY = np.array([14.0, 8.0, 110.0, 95.0, 26.0, 10.0])

# Map class bits, in sensors.classes.MAP_CLASSES order.
DRIVABLE, CROSSING, WALKWAY, STOP_LINE, CARPARK, DIVIDER = 1, 2, 4, 8, 16, 32

# Columns of the avenue table.
AV_Y0, AV_AMP, AV_WAVELEN, AV_PHASE, AV_HALF, AV_LANES = range(6)


@dataclass
class Town:
    """The street layout and the static scenery.

    Attributes:
        avenues: (J, 6) float64 rows ``y0, amplitude, wavelength, phase, half_width, lanes
            per direction`` (half_width includes the bike lane).
        cross_x: (K,) float64 x of the cross streets, increasing.
        cross_half: (K,) float64 half road width of each cross street.
        lots: (M, 4) float64 parking lots ``avenue, side (+1 left, -1 right), x_start, x_end``.
        buildings: static shapes (boxes) along the streets.
        main_avenue: index of the avenue the ego car drives on.
        sites: (S, 4) construction sites ``avenue, side, x_start, x_end`` behind the sidewalk.
    """

    avenues: np.ndarray
    cross_x: np.ndarray
    cross_half: np.ndarray
    lots: np.ndarray
    buildings: Parts
    main_avenue: int
    sites: np.ndarray


@njit(cache=True)
def avenue_frame(avenue: np.ndarray, x: float) -> tuple[float, float]:
    """Centre-line y (m) and heading theta (rad) of an avenue row at ``x``."""
    k = 2.0 * math.pi / avenue[AV_WAVELEN]
    phase = k * x + avenue[AV_PHASE]
    return avenue[AV_Y0] + avenue[AV_AMP] * math.sin(phase), math.atan(avenue[AV_AMP] * k * math.cos(phase))


@njit(cache=True)
def avenue_point(avenue: np.ndarray, x: float, d: float) -> tuple[float, float, float]:
    """Global (x, y) and heading of the point at avenue coordinate ``x`` and lateral offset ``d``."""
    yc, theta = avenue_frame(avenue, x)
    return x - d * math.sin(theta), yc + d * math.cos(theta), theta


@njit(cache=True, inline="always")
def ground_at(x: float, y: float, avenues: np.ndarray, cross_x: np.ndarray, cross_half: np.ndarray,
              lots: np.ndarray) -> tuple[int, int]:
    """Ground material index and map-class bit mask at global ``(x, y)`` (metres)."""
    sw = SIDEWALK_WIDTH
    # Nearest avenue: avenues are >= 70 m apart and sway by < 10 m, so the nearest mean line wins.
    jbest = 0
    for j in range(1, avenues.shape[0]):
        if abs(y - avenues[j, AV_Y0]) < abs(y - avenues[jbest, AV_Y0]):
            jbest = j
    k2 = 2.0 * math.pi / avenues[jbest, AV_WAVELEN]
    phase = k2 * x + avenues[jbest, AV_PHASE]
    amp = avenues[jbest, AV_AMP]
    slope = amp * k2 * math.cos(phase)
    dbest = (y - avenues[jbest, AV_Y0] - amp * math.sin(phase)) / math.sqrt(1.0 + slope * slope)
    hw = avenues[jbest, AV_HALF]
    lanes = int(avenues[jbest, AV_LANES])
    ad = abs(dbest)
    # Nearest cross street (binary search: cross_x is increasing).
    lo, hi = 0, cross_x.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if cross_x[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    kbest = 0
    ubest = 1e9
    for kk in range(lo - 1, lo + 1):
        if 0 <= kk < cross_x.shape[0]:
            u = x - cross_x[kk]
            if abs(u) < abs(ubest):
                ubest = u
                kbest = kk
    hk = cross_half[kbest] if cross_x.shape[0] > 0 else 0.0
    au = abs(ubest)
    if ad >= hw + sw + LOT_DEPTH and au >= hk + sw:
        return GRASS, 0
    on_av = ad < hw
    on_cs = au < hk
    if on_av or on_cs:
        bits = DRIVABLE
        mat = ASPHALT
        if on_av and au >= hk + sw:
            # Avenue markings, outside the intersection.
            if 0.1 < ad < 0.25:
                mat = YELLOW_PAINT
            if ad < 0.3:
                bits |= DIVIDER
            for i in range(1, lanes):
                off = abs(ad - i * LANE_WIDTH)
                if off < 0.25:
                    bits |= DIVIDER
                    if off < 0.075 and (x % 9.0) < 3.0:
                        mat = WHITE_PAINT
            edge = abs(ad - lanes * LANE_WIDTH)
            if edge < 0.25:
                bits |= DIVIDER
                if edge < 0.1:
                    mat = WHITE_PAINT
            approach = (dbest < 0.0 and ubest < 0.0) or (dbest > 0.0 and ubest > 0.0)
            if approach and hk + sw + 0.3 < au < hk + sw + 0.8 and ad < lanes * LANE_WIDTH:
                bits |= STOP_LINE
                mat = WHITE_PAINT
        elif on_av and hk <= au < hk + sw:
            bits |= CROSSING
            if (ad % 1.2) < 0.6 and ad < hw - 0.3:
                mat = WHITE_PAINT
        elif on_cs and not on_av and ad >= hw + sw:
            if au < 0.25:
                bits |= DIVIDER
                if au < 0.08 and (y % 6.0) < 3.0:
                    mat = YELLOW_PAINT
            approach = (ubest > 0.0 and dbest < 0.0) or (ubest < 0.0 and dbest > 0.0)
            if approach and hw + sw + 0.3 < ad < hw + sw + 0.8:
                bits |= STOP_LINE
                mat = WHITE_PAINT
        elif on_cs and hw <= ad < hw + sw:
            bits |= CROSSING
            if (au % 1.2) < 0.6 and au < hk - 0.3:
                mat = WHITE_PAINT
        return mat, bits
    if ad < hw + sw or au < hk + sw:
        return SIDEWALK, WALKWAY
    for m in range(lots.shape[0]):
        if int(lots[m, 0]) != jbest or not lots[m, 2] <= x <= lots[m, 3]:
            continue
        dd = lots[m, 1] * dbest - hw - sw
        if 0.0 <= dd <= LOT_DEPTH:
            mat = PARKING
            along = (x - lots[m, 2]) % SLOT_PITCH
            in_row = (0.5 <= dd <= 0.5 + SLOT_DEPTH) or (LOT_DEPTH - 0.5 - SLOT_DEPTH <= dd <= LOT_DEPTH - 0.5)
            if in_row and along < 0.1:
                mat = WHITE_PAINT
            return mat, CARPARK
    return GRASS, 0


def ground_grid(town: Town, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Material (uint8) and map bits (uint8) at global points ``xs, ys`` (flattened)."""
    warm_up()
    return _ground_many(np.ascontiguousarray(xs, dtype=np.float64).ravel(), np.ascontiguousarray(ys, dtype=np.float64).ravel(),
                        town.avenues, town.cross_x, town.cross_half, town.lots)


@njit(cache=True)
def _ground_many(xs, ys, avenues, cross_x, cross_half, lots):
    mats = np.empty(xs.shape[0], np.uint8)
    bits = np.empty(xs.shape[0], np.uint8)
    for i in range(xs.shape[0]):
        m, b = ground_at(xs[i], ys[i], avenues, cross_x, cross_half, lots)
        mats[i] = m
        bits[i] = b
    return mats, bits
