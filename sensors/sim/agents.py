"""The town's agents: what they are, where they go, and what they look like.

Each agent follows an analytic path of time (global frame, metres, seconds), so its pose at any
instant is exact and its ground-truth velocity is the time derivative of its position.
Path kinds (columns of ``Agents.params``):

* ``STATIC``: ``x, y, yaw``.
* ``AVENUE``: ``avenue, d, x0, vx``: lane or sidewalk at lateral offset ``d``; ``x = x0 + vx t``
  wrapped into the town's x range (the wrap happens beyond sensor range).
* ``CROSS``: ``street, u, y0, vy``: along cross street ``street`` at offset ``u``, y wrapped.
* ``AV_XWALK``: ``avenue, x, half_len, s0, speed``: back and forth across an avenue.
* ``CS_XWALK``: ``street, avenue, d, half_len, s0, speed``: back and forth across a cross street.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sensors.classes import ATTRIBUTES, DETECTION_CLASSES
from sensors.sim.shapes import BARRIER_STRIPE, GLASS_SIDES, PLAIN, WINDOW_BAND, Parts
from sensors.sim.town import (
    AV_AMP,
    AV_HALF,
    AV_LANES,
    AV_PHASE,
    AV_WAVELEN,
    AV_Y0,
    LANE_WIDTH,
    LOT_DEPTH,
    SIDEWALK_WIDTH,
    SLOT_DEPTH,
    SLOT_PITCH,
    Town,
    avenue_point,
)

STATIC, AVENUE, CROSS, AV_XWALK, CS_XWALK = range(5)

#: Mean (length, width, height) in metres per detection class (nuScenes-like).
CLASS_SIZE = {
    "car": (4.6, 1.9, 1.7), "truck": (7.0, 2.5, 3.0), "bus": (11.0, 2.9, 3.5), "trailer": (12.0, 2.9, 3.9),
    "construction_vehicle": (6.5, 2.8, 3.2), "pedestrian": (0.7, 0.7, 1.75), "motorcycle": (2.1, 0.8, 1.5),
    "bicycle": (1.7, 0.6, 1.3), "traffic_cone": (0.4, 0.4, 1.0), "barrier": (0.5, 2.5, 1.0),
}
CAR_COLORS = np.array([[235, 235, 235], [30, 30, 34], [170, 172, 176], [110, 112, 118], [150, 30, 30],
                       [40, 60, 130], [25, 40, 70], [200, 190, 160], [60, 90, 60]], dtype=np.float64)
CAR_COLOR_P = np.array([0.24, 0.2, 0.16, 0.14, 0.07, 0.07, 0.05, 0.04, 0.03])
CLOTHES = np.array([[40, 40, 50], [160, 40, 40], [40, 80, 150], [200, 200, 190], [90, 90, 90], [60, 110, 70],
                    [190, 150, 60], [20, 20, 20]], dtype=np.float64)
SKIN = np.array([[225, 190, 160], [190, 140, 105], [130, 90, 60]], dtype=np.float64)
WHEEL = np.array([22.0, 22.0, 24.0])

_ATTR = {name: i for i, name in enumerate(ATTRIBUTES)}
_CLS = {name: i for i, name in enumerate(DETECTION_CLASSES)}


@dataclass
class Agents:
    """N agents with their paths and their shapes.

    Attributes:
        label: (N,) int64 detection class index.
        size: (N, 3) float64 length, width, height of the tight box, metres.
        kind: (N,) int64 path kind; params: (N, 6) float64 path parameters (module doc).
        parked: (N,) bool, parked (vs stopped) when not moving; rider: (N,) bool (cycles).
        shape: the agents' parts in their own frame (x forward, origin on the ground at the
            box centre), ``owner`` = agent index.
        wrap: (x_lo, x_hi, y_lo, y_hi) range lane traffic wraps around in, metres.
        avenues, cross_x: the town's street tables the paths refer to (see :class:`Town`).
    """

    label: np.ndarray
    size: np.ndarray
    kind: np.ndarray
    params: np.ndarray
    parked: np.ndarray
    rider: np.ndarray
    shape: Parts
    wrap: tuple[float, float, float, float]
    avenues: np.ndarray
    cross_x: np.ndarray

    def __len__(self) -> int:
        return len(self.label)

    def positions(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Ground point (N, 2) of the box centre and yaw (N,) at time ``t`` seconds."""
        p, kind = self.params, self.kind
        x_lo, x_hi, y_lo, y_hi = self.wrap
        xy = p[:, :2].copy()
        yaw = p[:, 2].copy()
        m = kind == AVENUE
        x = x_lo + (p[m, 2] + p[m, 3] * t - x_lo) % (x_hi - x_lo)
        px, py, theta = _avenue_points(self.avenues[p[m, 0].astype(int)], x, p[m, 1])
        xy[m] = np.column_stack([px, py])
        yaw[m] = theta + np.where(p[m, 3] < 0, math.pi, 0.0)
        m = kind == CROSS
        y = y_lo + (p[m, 2] + p[m, 3] * t - y_lo) % (y_hi - y_lo)
        xy[m] = np.column_stack([self.cross_x[p[m, 0].astype(int)] + p[m, 1], y])
        yaw[m] = np.where(p[m, 3] >= 0, math.pi / 2, -math.pi / 2)
        m = kind == AV_XWALK
        d, direction = _pingpong(p[m, 3] + p[m, 4] * t, p[m, 2])
        px, py, theta = _avenue_points(self.avenues[p[m, 0].astype(int)], p[m, 1], d)
        xy[m] = np.column_stack([px, py])
        yaw[m] = theta + direction * math.pi / 2
        m = kind == CS_XWALK
        u, direction = _pingpong(p[m, 4] + p[m, 5] * t, p[m, 3])
        x = self.cross_x[p[m, 0].astype(int)] + u
        _, py, _ = _avenue_points(self.avenues[p[m, 1].astype(int)], x, p[m, 2])
        xy[m] = np.column_stack([x, py])
        yaw[m] = np.where(direction > 0, 0.0, math.pi)
        return xy, yaw

    def state(self, t: float, eps: float = 1e-3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Box centres (N, 3), yaws (N,) and velocities (N, 2, m/s) at time ``t``, global frame.

        Velocity is the central difference of the analytic path over ``eps`` seconds.
        """
        xy, yaw = self.positions(t)
        before, _ = self.positions(t - eps)
        after, _ = self.positions(t + eps)
        velocity = (after - before) / (2 * eps)
        velocity[np.linalg.norm(velocity, axis=1) > 60.0] = 0.0  # a lane wrap, far outside sensor range
        center = np.column_stack([xy, self.size[:, 2] / 2])
        return center, yaw, velocity

    def parts_at(self, t: float) -> Parts:
        """All agents' parts in the global frame at time ``t``."""
        xy, yaw = self.positions(t)
        return self.parts_for(xy, yaw)

    def parts_for(self, xy: np.ndarray, yaw: np.ndarray) -> Parts:
        """Agents' parts placed at ground points ``xy`` (N, 2) with yaws (N,)."""
        s = self.shape
        o = s.owner
        c, sn = np.cos(yaw[o]), np.sin(yaw[o])
        center = np.column_stack([
            xy[o, 0] + c * s.center[:, 0] - sn * s.center[:, 1],
            xy[o, 1] + sn * s.center[:, 0] + c * s.center[:, 1],
            s.center[:, 2],
        ])
        return Parts(center, s.half, s.yaw + yaw[o], s.color, s.intensity, s.texture, o)

    def attributes(self, speed: np.ndarray) -> np.ndarray:
        """(N,) attribute index per agent given its speed (m/s), -1 for cones and barriers."""
        out = np.full(len(self), -1, np.int64)
        for i, label in enumerate(self.label):
            name = DETECTION_CLASSES[label]
            moving = speed[i] > 0.2
            if name in ("car", "truck", "bus", "trailer", "construction_vehicle"):
                out[i] = _ATTR["vehicle.moving" if moving else ("vehicle.parked" if self.parked[i] else "vehicle.stopped")]
            elif name in ("motorcycle", "bicycle"):
                out[i] = _ATTR["cycle.with_rider" if self.rider[i] else "cycle.without_rider"]
            elif name == "pedestrian":
                out[i] = _ATTR["pedestrian.moving" if moving else "pedestrian.standing"]
        return out


def _pingpong(s: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in [-half, half] and directions (+1/-1) of walkers bouncing between the ends,
    ``s`` metres walked from -half."""
    q = (s + half) % (4 * half)
    forward = q < 2 * half
    return np.where(forward, q - half, 3 * half - q), np.where(forward, 1.0, -1.0)


def _avenue_points(rows: np.ndarray, x: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`sensors.sim.town.avenue_point`: global x, y and heading of avenue
    coordinates (x, d), one avenue row (of ``Town.avenues``) per point."""
    k = 2.0 * math.pi / rows[:, AV_WAVELEN]
    phase = k * x + rows[:, AV_PHASE]
    yc = rows[:, AV_Y0] + rows[:, AV_AMP] * np.sin(phase)
    theta = np.arctan(rows[:, AV_AMP] * k * np.cos(phase))
    return x - d * np.sin(theta), yc + d * np.cos(theta), theta


class _Builder:
    """Collects agents and their local parts."""

    def __init__(self) -> None:
        self.label, self.size, self.kind, self.params, self.parked, self.rider = [], [], [], [], [], []
        self.parts: list[tuple] = []

    def add(self, cls: str, size, kind: int, params, rng: np.random.Generator, parked=False, rider=True) -> None:
        index = len(self.label)
        self.label.append(_CLS[cls])
        self.size.append(size)
        self.kind.append(kind)
        self.params.append(list(params) + [0.0] * (6 - len(params)))
        self.parked.append(parked)
        self.rider.append(rider)
        for box in _shape(cls, np.asarray(size, dtype=np.float64), rng, rider):
            self.parts.append((*box, index))

    def build(self, town: Town, wrap) -> Agents:
        n = len(self.label)
        if self.parts:
            cols = list(zip(*self.parts))
            shape = Parts(np.array(cols[0], dtype=np.float64), np.array(cols[1], dtype=np.float64),
                          np.zeros(len(self.parts)), np.array(cols[2], dtype=np.float64),
                          np.array(cols[3], dtype=np.float64), np.array(cols[4], dtype=np.int64),
                          np.array(cols[5], dtype=np.int64))
        else:
            shape = Parts.empty()
        return Agents(np.array(self.label, np.int64), np.array(self.size, dtype=np.float64).reshape(n, 3),
                      np.array(self.kind, np.int64), np.array(self.params, dtype=np.float64).reshape(n, 6),
                      np.array(self.parked, bool), np.array(self.rider, bool), shape, wrap, town.avenues, town.cross_x)


def _box(x0, x1, y0, y1, z0, z1, color, intensity, texture=PLAIN):
    """A local part from its extents (metres)."""
    return ([(x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2], [(x1 - x0) / 2, (y1 - y0) / 2, (z1 - z0) / 2],
            color, intensity, texture)


def _shape(cls: str, size: np.ndarray, rng: np.random.Generator, rider: bool) -> list[tuple]:
    """Local parts of one agent; together they span exactly the box ``size`` (l, w, h)."""
    l, w, h = size / 2.0
    H = size[2]
    if cls in ("car", "truck", "bus", "trailer", "construction_vehicle"):
        color = CAR_COLORS[rng.choice(len(CAR_COLORS), p=CAR_COLOR_P)]
        inten = rng.uniform(35, 70)
        r = min(0.45, H * 0.17)
        axles = {"car": [0.75, -0.75], "truck": [0.9, -0.6, -1.9], "bus": [1.7, -2.4],
                 "trailer": [-1.0, -2.4], "construction_vehicle": [1.0, -1.0]}[cls]
        parts = []
        for a in axles:
            ax = l - a if a > 0 else -l - a
            for y0, y1 in ((-w, -w + 0.28), (w - 0.28, w)):
                parts.append(_box(ax - r, ax + r, y0, y1, 0, 2 * r, WHEEL, 10))
        if cls == "car":
            parts.append(_box(-l, l, -w, w, 0.28, 0.58 * H, color, inten))
            parts.append(_box(-0.62 * l, 0.38 * l, -w + 0.1, w - 0.1, 0.58 * H, H, color, inten, GLASS_SIDES))
        elif cls == "truck":
            cargo = np.array([230.0, 230, 228]) if rng.uniform() < 0.6 else color
            parts.append(_box(-l, l - 2.2, -w, w, 0.9, H, cargo, inten))
            parts.append(_box(l - 2.1, l, -w + 0.05, w - 0.05, 0.45, 0.5 * H, color, inten))
            parts.append(_box(l - 2.1, l - 0.1, -w + 0.1, w - 0.1, 0.5 * H, 0.82 * H, color, inten, GLASS_SIDES))
        elif cls == "bus":
            body = [np.array([235.0, 235, 230]), np.array([200, 40, 40.0]), np.array([230, 190, 40.0])][rng.integers(3)]
            parts.append(_box(-l, l, -w, w, 0.32, H, body, inten, WINDOW_BAND))
        elif cls == "trailer":
            parts.append(_box(-l, l - 0.6, -w, w, 1.05, H, np.array([205.0, 205, 200]), inten))
            parts.append(_box(l - 0.6, l, -0.2, 0.2, 0.9, 1.2, np.array([60.0, 60, 60]), 30))
        else:
            yellow = np.array([225.0, 175, 30])
            parts.append(_box(-l, 0.3 * l, -w, w, 0.0, 0.9, np.array([40.0, 38, 36]), 15))
            parts.append(_box(-l, 0.3 * l, -w + 0.2, w - 0.2, 0.9, 1.7, yellow, 80))
            parts.append(_box(-0.2 * l, 0.3 * l, -w + 0.3, 0.1, 1.7, H, yellow, 80, GLASS_SIDES))
            parts.append(_box(0.3 * l, l, -0.2, 0.2, 1.1, 0.75 * H, yellow, 80))
            parts.append(_box(0.8 * l, l, -0.6, 0.6, 0.1, 1.1, np.array([70.0, 70, 70]), 40))
        return parts
    if cls == "pedestrian":
        shirt, pants = CLOTHES[rng.integers(len(CLOTHES))], CLOTHES[rng.integers(len(CLOTHES))] * 0.7
        skin = SKIN[rng.integers(len(SKIN))]
        leg = 0.47 * H
        return [
            _box(l - 0.16, l, -0.16, -0.02, 0, leg, pants, 20),
            _box(-l, -l + 0.16, 0.02, 0.16, 0, leg, pants, 20),
            _box(-0.13, 0.13, -w + 0.12, w - 0.12, leg, 0.82 * H, shirt, 25),
            _box(-0.05, 0.05, -w, -w + 0.1, 0.45 * H, 0.8 * H, shirt, 25),
            _box(-0.05, 0.05, w - 0.1, w, 0.45 * H, 0.8 * H, shirt, 25),
            _box(-0.1, 0.1, -0.09, 0.09, 0.84 * H, H, skin, 20),
        ]
    if cls in ("motorcycle", "bicycle"):
        frame = CAR_COLORS[rng.integers(len(CAR_COLORS))]
        r = 0.33 if cls == "bicycle" else 0.3
        t = 0.03 if cls == "bicycle" else 0.07
        parts = [
            _box(l - 2 * r, l, -t, t, 0, 2 * r, WHEEL, 10),
            _box(-l, -l + 2 * r, -t, t, 0, 2 * r, WHEEL, 10),
            _box(-l + r, l - r, -0.05 if cls == "bicycle" else -0.2, 0.05 if cls == "bicycle" else 0.2, r, 2.6 * r,
                 frame, 40),
        ]
        if rider:
            shirt = CLOTHES[rng.integers(len(CLOTHES))]
            parts.append(_box(l - r - 0.12, l - r, -w, w, 2.6 * r, 2.6 * r + 0.08, WHEEL, 20))
            parts.append(_box(-0.35, 0.05, -0.2, 0.2, 2.6 * r, H - 0.25, shirt, 25))
            parts.append(_box(-0.22, -0.02, -0.1, 0.1, H - 0.25, H, SKIN[rng.integers(len(SKIN))], 20))
        else:
            parts.append(_box(l - r - 0.1, l - r, -w, w, 2.6 * r, H, WHEEL, 20))
        return parts
    if cls == "traffic_cone":
        orange = np.array([240.0, 100, 20])
        white = np.array([245.0, 245, 245])
        return [
            _box(-l, l, -w, w, 0, 0.04, np.array([30.0, 30, 30]), 20),
            _box(-0.55 * l, 0.55 * l, -0.55 * w, 0.55 * w, 0.04, 0.4 * H, orange, 130),
            _box(-0.42 * l, 0.42 * l, -0.42 * w, 0.42 * w, 0.4 * H, 0.65 * H, white, 240),
            _box(-0.3 * l, 0.3 * l, -0.3 * w, 0.3 * w, 0.65 * H, H, orange, 130),
        ]
    if cls == "barrier":
        grey = np.array([120.0, 120, 120])
        return [
            _box(-l, l, -w, -w + 0.15, 0, 0.35 * H, grey, 40),
            _box(-l, l, w - 0.15, w, 0, 0.35 * H, grey, 40),
            _box(-0.06, 0.06, -w, w, 0.35 * H, H, np.array([230.0, 40, 30]), 220, BARRIER_STRIPE),
        ]
    raise ValueError(f"no shape for class {cls!r}")


def _jitter(cls: str, rng: np.random.Generator, standing: bool = False) -> list[float]:
    size = np.array(CLASS_SIZE[cls]) * rng.uniform(0.9, 1.1, 3)
    if cls == "pedestrian":
        size[2] = rng.uniform(1.55, 1.92)
        size[0] = rng.uniform(0.35, 0.5) if standing else rng.uniform(0.6, 0.85)
    return size.tolist()


def spawn_agents(seed: int, town: Town, num_per_block: int, ego_lane: float,
                 ego_time_at: Callable[[float], float | None]) -> Agents:
    """All agents of the town (static and moving), ``num_per_block`` per block between cross
    streets.

    The ego's path stays clear: its lane (lateral offset ``ego_lane`` on the main avenue) gets
    no traffic, and cross traffic and pedestrians crossing the main avenue are timed so that the
    crossing is free when the ego passes (``ego_time_at(x)``: the time in seconds the ego passes
    global x, None if it never does).
    """
    b = _Builder()
    cx, ch = town.cross_x, town.cross_half
    ys = np.sort(town.avenues[:, 0])
    wrap = (float(cx[0]), float(cx[-1]), float(ys[0] - 70), float(ys[-1] + 70))
    speeds = np.random.default_rng([seed, 5])
    lane_speed = {}
    for j, av in enumerate(town.avenues):
        for lane in range(int(av[AV_LANES])):
            for side in (-1, 1):
                lane_speed[(j, side, lane)] = speeds.uniform(7, 13) if j == town.main_avenue else speeds.uniform(6, 11)
        for side in (-1, 1):
            lane_speed[(j, side, "bike")] = speeds.uniform(3.5, 6.0)
    cross_speed = {k: speeds.uniform(5, 10) for k in range(len(cx))}
    main = town.main_avenue
    for k in range(len(cx) - 1):
        rng = np.random.default_rng([seed, 31, k])
        n = num_per_block
        lo, hi = cx[k] + ch[k] + 1.0, cx[k + 1] - ch[k + 1] - 1.0
        # Traffic in the avenue lanes: sequential placement keeps a gap in each lane.
        n_vehicles = int(round(0.3 * n))
        for j, av in enumerate(town.avenues):
            lanes = int(av[AV_LANES])
            for side in (-1, 1):
                for lane in range(lanes):
                    d = side * (lane + 0.5) * LANE_WIDTH
                    if j == main and abs(d - ego_lane) < 0.5:
                        continue
                    share = n_vehicles * (0.5 if j == main else 0.25) / (2 * lanes)
                    x = lo + rng.uniform(0, 20)
                    must = ["bus", "truck", "motorcycle"] if (j == main and lane == lanes - 1) else []
                    count = 0
                    while x < hi - 14 and count < max(share, len(must)) + 1e-9:
                        cls = must.pop() if must else rng.choice(["car", "truck", "bus", "motorcycle"], p=[0.8, 0.08, 0.05, 0.07])
                        size = _jitter(cls, rng)
                        b.add(cls, size, AVENUE, [j, d, x + size[0] / 2, -side * lane_speed[(j, side, lane)]], rng)
                        x += size[0] + rng.uniform(6, 40)
                        count += 1
                # Cyclists in the bike lane.
                d = side * (lanes * LANE_WIDTH + 0.75)
                x = lo + rng.uniform(0, 40)
                while x < hi - 3:
                    cls = "bicycle" if rng.uniform() < 0.75 else "motorcycle"
                    size = _jitter(cls, rng)
                    b.add(cls, size, AVENUE, [j, d, x, -side * lane_speed[(j, side, "bike")]], rng)
                    x += rng.uniform(25, 90)
        # Cross-street traffic, with a gap at the main avenue when the ego passes.
        for side in (-1, 1):
            lane = []
            y = wrap[2] + rng.uniform(0, 30)
            while y < wrap[3] - 10:
                cls = str(rng.choice(["car", "truck", "motorcycle"], p=[0.88, 0.07, 0.05]))
                size = _jitter(cls, rng)
                lane.append((cls, size, y))
                y += size[0] + rng.uniform(15, 70)
            speed = side * cross_speed[k]
            t_ego = ego_time_at(cx[k])
            shift = 0.0
            if t_ego is not None and lane:
                y_cross = avenue_point(town.avenues[main], cx[k], 0.0)[1]
                shift = _gap_shift(np.array([c[2] for c in lane]), np.array([c[1][0] for c in lane]), speed * t_ego,
                                   y_cross, wrap[2], wrap[3])
            for cls, size, y in lane:
                b.add(cls, size, CROSS, [k, side * ch[k] / 2, y + shift, speed], rng)
        # Pedestrians on the sidewalks of the avenues (walking or standing) and on crosswalks.
        for _ in range(int(round(0.25 * n))):
            j = main if rng.uniform() < 0.6 else rng.choice([a for a in range(len(town.avenues)) if a != main])
            hw = town.avenues[j, AV_HALF]
            side = rng.choice([-1.0, 1.0])
            d = side * (hw + rng.uniform(0.5, SIDEWALK_WIDTH - 0.5))
            x = rng.uniform(lo, hi)
            if rng.uniform() < 0.3:
                size = _jitter("pedestrian", rng, standing=True)
                px, py, _ = avenue_point(town.avenues[j], x, d)
                b.add("pedestrian", size, STATIC, [px, py, rng.uniform(-math.pi, math.pi)], rng)
            else:
                b.add("pedestrian", _jitter("pedestrian", rng), AVENUE, [j, d, x, rng.choice([-1, 1]) * rng.uniform(0.9, 1.6)], rng)
        hw = town.avenues[main, AV_HALF]
        half = hw + SIDEWALK_WIDTH / 2  # kerb to kerb, turning on the sidewalks
        for _ in range(2):
            x = cx[k] + rng.choice([-1, 1]) * (ch[k] + SIDEWALK_WIDTH / 2 + rng.uniform(-1, 1))
            speed = rng.uniform(1.0, 1.5)
            t_ego = ego_time_at(x)
            if t_ego is None:
                s0 = rng.uniform(0, 4 * half)
            else:  # at a kerb end (on the sidewalk) when the ego passes
                s0 = (-speed * t_ego - half + rng.choice([0.0, 2 * half])) % (4 * half)
            b.add("pedestrian", _jitter("pedestrian", rng), AV_XWALK, [main, x, half, s0, speed], rng)
        d = rng.choice([-1, 1]) * (hw + SIDEWALK_WIDTH / 2)
        b.add("pedestrian", _jitter("pedestrian", rng), CS_XWALK, [k, main, d, ch[k], rng.uniform(0, 4 * ch[k]), rng.uniform(1.0, 1.5)], rng)
        # Parked bicycles on the sidewalk edge.
        for _ in range(max(1, int(round(0.03 * n)))):
            side = rng.choice([-1.0, 1.0])
            x = rng.uniform(lo + 5, hi - 5)
            px, py, theta = avenue_point(town.avenues[main], x, side * (hw + SIDEWALK_WIDTH - 0.5))
            b.add("bicycle", _jitter("bicycle", rng)[:2] + [1.05], STATIC, [px, py, theta + math.pi / 2], rng, parked=True, rider=False)
    _parked(b, town, seed)
    _construction(b, town, seed)
    return b.build(town, wrap)


def _gap_shift(y0: np.ndarray, length: np.ndarray, travelled: float, y_cross: float, lo: float, hi: float) -> float:
    """Shift (m) of a whole wrapped lane (vehicle centres ``y0`` at t = 0, ``length``s) that puts
    the middle of its largest gap at ``y_cross`` after the lane has moved ``travelled`` metres."""
    period = hi - lo
    pos = lo + (y0 + travelled - lo) % period
    order = np.argsort(pos)
    pos, length = pos[order], length[order]
    tail = pos + length / 2
    head = np.roll(pos - length / 2, -1)
    head[-1] += period
    i = int(np.argmax(head - tail))
    return float(y_cross - (tail[i] + head[i]) / 2)


def _parked(b: _Builder, town: Town, seed: int) -> None:
    """Cars and trucks in the parking-lot slots, trailers along the back of the lots."""
    for m, (j, side, x0, x1) in enumerate(town.lots):
        rng = np.random.default_rng([seed, 37, m])
        av = town.avenues[int(j)]
        base = av[AV_HALF] + SIDEWALK_WIDTH
        slot = x0 + SLOT_PITCH / 2
        while slot < x1 - SLOT_PITCH / 2:
            if rng.uniform() < 0.65:
                cls = "car" if rng.uniform() < 0.92 else "truck"
                size = _jitter(cls, rng) if cls == "car" else [5.2, 2.1, 2.4]
                d = side * (base + 0.5 + SLOT_DEPTH / 2)
                px, py, theta = avenue_point(av, slot, d)
                b.add(cls, size, STATIC, [px, py, theta + side * math.pi / 2 * rng.choice([-1, 1])], rng, parked=True)
            slot += SLOT_PITCH
        # Back row: trailers and trucks parked lengthwise.
        x = x0 + rng.uniform(1, 4)
        first = True
        while True:
            cls = "trailer" if first or rng.uniform() < 0.6 else "truck"
            first = False
            size = _jitter(cls, rng)
            if x + size[0] > x1:
                break
            d = side * (base + LOT_DEPTH - 0.8 - size[1] / 2)
            px, py, theta = avenue_point(av, x + size[0] / 2, d)
            b.add(cls, size, STATIC, [px, py, theta + (math.pi if rng.uniform() < 0.5 else 0.0)], rng, parked=True)
            x += size[0] + rng.uniform(1, 6)


def _construction(b: _Builder, town: Town, seed: int) -> None:
    """Construction sites behind the sidewalk: barriers facing the road, cones, a machine."""
    for m, (j, side, x0, x1) in enumerate(town.sites):
        rng = np.random.default_rng([seed, 41, m])
        av = town.avenues[int(j)]
        base = av[AV_HALF] + SIDEWALK_WIDTH
        x = x0 + 1.3
        while x < x1 - 1.3:
            px, py, theta = avenue_point(av, x, side * (base + 0.6))
            b.add("barrier", _jitter("barrier", rng), STATIC, [px, py, theta + math.pi / 2], rng)
            x += 2.9
        for _ in range(rng.integers(4, 9)):
            px, py, theta = avenue_point(av, rng.uniform(x0 + 1, x1 - 1), side * (base + rng.uniform(1.8, 9.0)))
            b.add("traffic_cone", _jitter("traffic_cone", rng), STATIC, [px, py, rng.uniform(-math.pi, math.pi)], rng)
        x = x0 + 2.0
        while x < x1 - 1.0:  # cones on the kerb in front of the site
            px, py, theta = avenue_point(av, x, side * (av[AV_HALF] + 0.35))
            b.add("traffic_cone", _jitter("traffic_cone", rng), STATIC, [px, py, rng.uniform(-math.pi, math.pi)], rng)
            x += rng.uniform(3.5, 6.0)
        for end in (x0 - 0.8, x1 + 0.8):
            for dd in (1.0, 3.5, 6.0):
                px, py, theta = avenue_point(av, end, side * (base + dd))
                b.add("traffic_cone", _jitter("traffic_cone", rng), STATIC, [px, py, theta], rng)
        px, py, theta = avenue_point(av, (x0 + x1) / 2 + rng.uniform(-3, 3), side * (base + 6.5))
        b.add("construction_vehicle", _jitter("construction_vehicle", rng), STATIC,
              [px, py, theta + rng.uniform(-0.6, 0.6) + (math.pi if rng.uniform() < 0.5 else 0)], rng, parked=True)
