"""Seeded generation of the town layout (:func:`make_town`): streets, parking lots,
construction sites, buildings and trees. Global frame, metres."""
from __future__ import annotations

import math

import numpy as np

from sensors.sim.shapes import FACADE, PLAIN, Parts
from sensors.sim.town import (
    AV_HALF,
    BIKE_LANE_WIDTH,
    GRASS,
    LANE_WIDTH,
    SIDEWALK_WIDTH,
    Town,
    avenue_frame,
    ground_grid,
)

BUILDING_COLORS = np.array(
    [[196, 186, 166], [158, 84, 64], [146, 146, 152], [214, 208, 196], [118, 108, 98], [186, 166, 136], [170, 180, 188]],
    dtype=np.float64,
)
#: Margin (m) of town generated beyond the drive in each direction along x.
TOWN_MARGIN = 160.0


def make_town(seed: int, x_min: float, x_max: float) -> Town:
    """The town of ``seed`` covering at least global x in ``[x_min, x_max]`` (metres).

    The ego route is the main avenue (index 1, centred on y = 0 at its mean), starting
    mid-block near x = 0. Every block's content is drawn from its own generator
    ``(seed, block)``, so the town near the route does not depend on the drive length.
    """
    rng = np.random.default_rng([seed, 1])
    avenues = np.array([
        [-rng.uniform(75, 95), rng.uniform(2, 8), rng.uniform(250, 450), rng.uniform(0, 2 * math.pi), 0, 1],
        [0.0, rng.uniform(4, 9), rng.uniform(260, 420), rng.uniform(0, 2 * math.pi), 0, 2],
        [rng.uniform(75, 95), rng.uniform(2, 8), rng.uniform(250, 450), rng.uniform(0, 2 * math.pi), 0, 1],
    ])
    avenues[:, AV_HALF] = avenues[:, 5] * LANE_WIDTH + BIKE_LANE_WIDTH
    cross_x = _cross_streets(seed, x_min - TOWN_MARGIN, x_max + TOWN_MARGIN)
    cross_half = np.array([LANE_WIDTH * (2 if np.random.default_rng([seed, 3, k]).uniform() < 0.25 else 1)
                           for k in range(len(cross_x))])
    lots, sites = [], []
    for k in range(len(cross_x) - 1):
        brng = np.random.default_rng([seed, 17, k])
        lo = cross_x[k] + cross_half[k] + SIDEWALK_WIDTH + 4.0
        hi = cross_x[k + 1] - cross_half[k + 1] - SIDEWALK_WIDTH - 4.0
        side = brng.choice([-1.0, 1.0])
        lot_len = min(brng.uniform(30, 55), (hi - lo) * 0.6)
        start = brng.uniform(lo, hi - lot_len)
        lots.append([1, side, start, start + lot_len])
        site_len = min(24.0, hi - lo - 2)
        site_start = brng.uniform(lo, hi - site_len)
        sites.append([1, -side, site_start, site_start + site_len])
        for j in (0, 2):
            if brng.uniform() < 0.5:
                lot_len = min(brng.uniform(25, 45), (hi - lo) * 0.6)
                start = brng.uniform(lo, hi - lot_len)
                lots.append([j, brng.choice([-1.0, 1.0]), start, start + lot_len])
    town = Town(avenues, cross_x, cross_half, np.array(lots, dtype=np.float64).reshape(-1, 4), Parts.empty(), 1,
                np.array(sites, dtype=np.float64).reshape(-1, 4))
    town.buildings = _scenery(seed, town)
    return town


def _cross_streets(seed: int, x_lo: float, x_hi: float) -> np.ndarray:
    xs = [np.random.default_rng([seed, 2, 0]).uniform(30, 50)]
    k = 1
    while xs[-1] < x_hi:
        xs.append(xs[-1] + np.random.default_rng([seed, 2, 1, k]).uniform(80, 120))
        k += 1
    k = 0
    while xs[0] > x_lo:
        xs.insert(0, xs[0] - np.random.default_rng([seed, 2, 2, k]).uniform(80, 120))
        k += 1
    return np.array(xs)


def _footprint_free(town: Town, cx: float, cy: float, yaw: float, half_l: float, half_w: float) -> bool:
    """True if the rectangle lies entirely on grass (no road, walkway or lot under it)."""
    a = np.linspace(-1, 1, 5)
    u, v = np.meshgrid(a * half_l, a * half_w)
    c, s = math.cos(yaw), math.sin(yaw)
    mats, _ = ground_grid(town, cx + c * u - s * v, cy + s * u + c * v)
    return bool(np.all(mats == GRASS))


def _in_ranges(x0: float, x1: float, ranges: list[tuple[float, float]]) -> bool:
    return any(x1 > a and x0 < b for a, b in ranges)


def _scenery(seed: int, town: Town) -> Parts:
    """Buildings along every street side, and trees on the sidewalks (static, unannotated)."""
    centers, halves, yaws, colors, textures = [], [], [], [], []

    def add(center, half, yaw, color, texture):
        centers.append(center)
        halves.append(half)
        yaws.append(yaw)
        colors.append(color)
        textures.append(texture)

    cx, ch = town.cross_x, town.cross_half
    for j, avenue in enumerate(town.avenues):
        hw = avenue[AV_HALF]
        for k in range(len(cx) - 1):
            rng = np.random.default_rng([seed, 23, j, k])
            for side in (-1.0, 1.0):
                blocked = [(lot[2] - 2, lot[3] + 2) for lot in town.lots if lot[0] == j and lot[1] == side]
                blocked += [(s[2] - 2, s[3] + 2) for s in town.sites if s[0] == j and s[1] == side]
                x = cx[k] + ch[k] + SIDEWALK_WIDTH + rng.uniform(1, 4)
                end = cx[k + 1] - ch[k + 1] - SIDEWALK_WIDTH - 1
                while x < end - 8:
                    length = min(rng.uniform(10, 26), end - x)
                    depth, setback = rng.uniform(10, 20), rng.uniform(1, 5)
                    height = rng.choice([rng.uniform(6, 12), rng.uniform(12, 30)], p=[0.6, 0.4])
                    if not _in_ranges(x, x + length, blocked):
                        _, theta = avenue_frame(avenue, x + length / 2)
                        d = side * (hw + SIDEWALK_WIDTH + setback + depth / 2)
                        yc, _ = avenue_frame(avenue, x + length / 2)
                        px, py = x + length / 2 - d * math.sin(theta), yc + d * math.cos(theta)
                        if _footprint_free(town, px, py, theta, length / 2, depth / 2):
                            add([px, py, height / 2], [length / 2, depth / 2, height / 2], theta,
                                BUILDING_COLORS[rng.integers(len(BUILDING_COLORS))], FACADE)
                    x += length + rng.choice([rng.uniform(0.3, 2), rng.uniform(4, 9)], p=[0.7, 0.3])
                # Trees on the outer edge of the sidewalk.
                x = cx[k] + ch[k] + SIDEWALK_WIDTH + 6
                while x < cx[k + 1] - ch[k + 1] - SIDEWALK_WIDTH - 6:
                    if rng.uniform() < 0.45:
                        yc, theta = avenue_frame(avenue, x)
                        d = side * (hw + SIDEWALK_WIDTH - 0.6)
                        px, py = x - d * math.sin(theta), yc + d * math.cos(theta)
                        crown = rng.uniform(1.2, 2.0)
                        add([px, py, 1.4], [0.15, 0.15, 1.4], theta, np.array([92.0, 70, 52]), PLAIN)
                        # Crown: two boxes 45 degrees apart make a rounder, octagonal canopy.
                        leaf = np.array([58.0, 96, 48]) * rng.uniform(0.8, 1.15)
                        turn = rng.uniform(0, 1)
                        add([px, py, 2.8 + crown], [crown, crown, crown * 0.8], theta + turn, leaf, PLAIN)
                        add([px, py, 2.8 + crown], [crown * 0.9, crown * 0.9, crown], theta + turn + np.pi / 4,
                            leaf * 0.92, PLAIN)
                    x += rng.uniform(9, 16)
    # Buildings along the cross streets, between and beyond the avenues.
    ys = np.sort(town.avenues[:, 0])
    for k in range(len(cx)):
        for side in (-1.0, 1.0):
            rng = np.random.default_rng([seed, 29, k, int(side > 0)])
            y = ys[0] - 70.0
            while y < ys[-1] + 70.0:
                length, depth = rng.uniform(10, 24), rng.uniform(10, 18)
                height = rng.uniform(6, 24)
                px = cx[k] + side * (ch[k] + SIDEWALK_WIDTH + rng.uniform(1, 4) + depth / 2)
                py = y + length / 2
                if _footprint_free(town, px, py, math.pi / 2, length / 2, depth / 2):
                    add([px, py, height / 2], [length / 2, depth / 2, height / 2], math.pi / 2,
                        BUILDING_COLORS[rng.integers(len(BUILDING_COLORS))], FACADE)
                y += length + rng.uniform(0.5, 6)
    n = len(centers)
    colors_arr = np.array(colors, dtype=np.float64).reshape(n, 3)
    textures_arr = np.array(textures, dtype=np.int64)
    return Parts(
        np.array(centers, dtype=np.float64).reshape(n, 3), np.array(halves, dtype=np.float64).reshape(n, 3),
        np.array(yaws, dtype=np.float64), colors_arr,
        np.where(textures_arr == FACADE, 45.0, 20.0), textures_arr, np.full(n, -1, np.int64),
    )

