"""Scripted driver behaviour for the cabin camera: attentive, distracted and drowsy episodes.

The script is a seeded sequence of episodes, each with its glances (gaze zone changes), blinks
and phone use; :meth:`DriverScript.state` gives the exact state at any time ``t`` (seconds), so
the cabin of a drive (2 Hz) and a dense cabin stream (e.g. 10 Hz) show the same behaviour.

With ``scripted=True`` every other episode is a scripted event episode, cycling through
:data:`SCRIPTED_EVENTS`, so that a long stream holds many events of every kind the driver monitor
reports (``perception/monitor``, Euro NCAP thresholds): a microsleep (eyes closed about 1.2-2.5 s),
sleep (3.7-5.7 s), a long distraction (one 3.8-5.5 s glance away from the road), a short
distraction (five 2.0-2.6 s glances with under 2 s back on the road between them) and an
unresponsive driver (7-9 s looking down). The episodes in between are drawn as without it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensors.classes import EYE_STATES, GAZE_ZONES
from sensors.frame import DriverLabels

#: Eye openness at or below which the eyes count as closed.
CLOSED_OPENNESS = 0.2
#: Seconds a head turn takes to settle into a glance.
TURN_TIME = 0.25

#: Gaze zone -> (head yaw deg (left +), head pitch deg (up +), eye-in-head offset x (driver's
#: left +), eye offset y (down +)), offsets in [-1, 1] of the eye opening.
ZONE_POSE: dict[str, tuple[float, float, float, float]] = {
    "road": (0.0, 0.0, 0.0, 0.0),
    "left_mirror": (42.0, -3.0, 0.65, 0.1),
    "right_mirror": (-38.0, -5.0, -0.75, 0.1),
    "rear_mirror": (-22.0, 12.0, -0.5, -0.55),
    "instrument_cluster": (0.0, -14.0, 0.0, 0.75),
    "infotainment": (-28.0, -22.0, -0.55, 0.6),
    "lap_or_phone": (-4.0, -38.0, 0.0, 0.9),
}
EPISODES = ("attentive", "distracted", "drowsy")
#: Scripted event episodes of ``DriverScript(scripted=True)``, in the order they come.
SCRIPTED_EVENTS = ("microsleep", "long_distraction", "sleep", "short_distraction", "unresponsive")


@dataclass
class DriverState:
    """What the driver does at one instant (angles in degrees, openness 0-1)."""

    openness: float
    zone: str
    yaw: float
    pitch: float
    roll: float
    eye_dx: float
    eye_dy: float
    phone: str | None  # None, "ear" or "lap"
    episode: str

    def labels(self) -> DriverLabels:
        closed = self.openness <= CLOSED_OPENNESS
        zone = "eyes_closed" if closed else self.zone
        return DriverLabels(
            eye_openness=self.openness, eye_state=EYE_STATES.index("closed" if closed else "open"),
            gaze_zone=GAZE_ZONES.index(zone), head_pose=(self.yaw, self.pitch, self.roll), phone=self.phone is not None,
        )


@dataclass
class _Episode:
    start: float
    end: float
    kind: str
    base_openness: float
    phone: str | None
    glances: list[tuple[float, float, str, float, float]]  # start, end, zone, yaw jitter, pitch jitter
    blinks: list[tuple[float, float, bool]]  # start, duration, nod (microsleep)


class DriverScript:
    """The behaviour of the driver of seed ``seed`` over unbounded time (episodes are generated
    in order, on demand, from one random stream, so the answer never depends on query order).
    ``scripted``: every other episode is a scripted event (see the module docstring)."""

    def __init__(self, seed: int, scripted: bool = False) -> None:
        self._rng = np.random.default_rng([seed, 47])
        self._episodes: list[_Episode] = []
        self.scripted = scripted

    def _episode_at(self, t: float) -> _Episode:
        if t < 0:
            t = 0.0
        while not self._episodes or self._episodes[-1].end <= t:
            start = self._episodes[-1].end if self._episodes else 0.0
            n = len(self._episodes)
            if self.scripted and n % 2 == 1:
                self._episodes.append(self._make_scripted(start, SCRIPTED_EVENTS[(n // 2) % len(SCRIPTED_EVENTS)]))
            else:
                self._episodes.append(self._make(start, "attentive" if not self._episodes else None))
        for episode in reversed(self._episodes):
            if episode.start <= t:
                return episode
        return self._episodes[0]

    def _make(self, start: float, kind: str | None) -> _Episode:
        rng = self._rng
        kind = kind or str(rng.choice(EPISODES, p=[0.45, 0.33, 0.22]))
        end = start + rng.uniform(6.0, 16.0)
        glances, blinks = [], []
        phone = None
        if kind == "attentive":
            base = rng.uniform(0.8, 0.95)
            t = start + rng.uniform(1.0, 3.0)
            while t < end - 1.0:
                zone = str(rng.choice(["left_mirror", "right_mirror", "rear_mirror", "instrument_cluster"]))
                dur = rng.uniform(0.6, 1.3)
                glances.append((t, t + dur, zone, rng.uniform(-4, 4), rng.uniform(-3, 3)))
                t += dur + rng.uniform(2.5, 6.0)
            blink_gap, blink_dur = (2.0, 6.0), (0.1, 0.25)
        elif kind == "distracted":
            base = rng.uniform(0.8, 0.95)
            phone = str(rng.choice(["ear", "lap"])) if rng.uniform() < 0.5 else None
            t = start + rng.uniform(0.3, 1.5)
            while t < end - 0.8:
                if phone == "lap":
                    zone = "lap_or_phone" if rng.uniform() < 0.75 else "road"
                elif phone == "ear":
                    zone = "road" if rng.uniform() < 0.6 else str(rng.choice(["left_mirror", "infotainment"]))
                else:
                    zone = str(rng.choice(["infotainment", "lap_or_phone", "left_mirror", "right_mirror", "rear_mirror"],
                                          p=[0.35, 0.25, 0.14, 0.13, 0.13]))
                dur = rng.uniform(1.2, 3.5)
                glances.append((t, min(t + dur, end - 0.3), zone, rng.uniform(-5, 5), rng.uniform(-4, 4)))
                t += dur + rng.uniform(0.5, 2.0)
            blink_gap, blink_dur = (2.0, 5.0), (0.1, 0.25)
        else:
            base = rng.uniform(0.45, 0.7)
            blink_gap, blink_dur = (1.2, 3.5), (0.3, 0.8)
        t = start + rng.uniform(*blink_gap) / 2
        while t < end - 0.3:
            dur = rng.uniform(*blink_dur)
            nod = False
            if kind == "drowsy" and rng.uniform() < 0.3:
                nod = rng.uniform() < 0.5
                dur = rng.uniform(2.0, 4.0) if nod else rng.uniform(1.0, 2.0)  # microsleep / long closure
            dur = min(dur, end - t - 0.05)
            blinks.append((t, dur, nod))
            t += dur + rng.uniform(*blink_gap)
        return _Episode(start, end, kind, base, phone, glances, blinks)

    def _make_scripted(self, start: float, event: str) -> _Episode:
        """An episode of ``event`` (one of :data:`SCRIPTED_EVENTS`) after 2-4 s of attentive driving.

        Closures use the long-blink shape of :meth:`state` (closed, i.e. openness <= 0.2, for
        about 82 % of the entry's duration); a glance counts from half-way through its 0.25 s turn.
        """
        rng = self._rng
        t = start + rng.uniform(2.0, 4.0)
        glances: list[tuple[float, float, str, float, float]] = []
        blinks: list[tuple[float, float, bool]] = []
        kind = "drowsy" if event in ("microsleep", "sleep") else "distracted"
        if event in ("microsleep", "sleep"):
            dur = rng.uniform(1.5, 3.0) if event == "microsleep" else rng.uniform(4.5, 7.0)
            blinks.append((t, dur, event == "sleep"))
            t += dur
        elif event == "long_distraction":
            dur = rng.uniform(3.8, 5.5)
            glances.append((t, t + dur, str(rng.choice(["infotainment", "instrument_cluster"])), 0.0, 0.0))
            t += dur
        elif event == "short_distraction":
            for _ in range(5):
                dur = rng.uniform(2.0, 2.6)
                glances.append((t, t + dur, str(rng.choice(["infotainment", "lap_or_phone"])), 0.0, 0.0))
                t += dur + rng.uniform(0.8, 1.5)
        else:
            dur = rng.uniform(7.0, 9.0)
            glances.append((t, t + dur, "lap_or_phone", 0.0, 0.0))
            t += dur
        end = t + rng.uniform(3.0, 5.0)
        first = glances[0][0] if glances else blinks[0][0]
        b = start + rng.uniform(0.5, 1.5)  # ordinary blinks before the event
        while b < first - 0.5:
            dur = rng.uniform(0.1, 0.25)
            blinks.append((b, dur, False))
            b += dur + rng.uniform(2.0, 5.0)
        blinks.sort()
        return _Episode(start, end, kind, rng.uniform(0.8, 0.95), None, glances, blinks)

    def state(self, t: float) -> DriverState:
        """The driver's state at time ``t`` seconds."""
        ep = self._episode_at(t)
        rng_t = np.random.default_rng([int(round(t * 1000)) & 0xFFFFFFFF, 53])
        zone, weight, jy, jp = "road", 0.0, 0.0, 0.0
        for g0, g1, gz, gy, gp in ep.glances:
            if g0 <= t < g1:
                weight = min(1.0, (t - g0) / TURN_TIME, (g1 - t) / TURN_TIME)
                zone, jy, jp = gz, gy, gp
                break
        road = ZONE_POSE["road"]
        target = ZONE_POSE[zone]
        yaw = road[0] + weight * (target[0] + jy) + rng_t.normal(0, 1.0)
        pitch = road[1] + weight * (target[1] + jp) + rng_t.normal(0, 1.0)
        eye_dx, eye_dy = weight * target[2], weight * target[3]
        roll = rng_t.normal(0, 1.5) + (8.0 if ep.phone == "ear" else 0.0)
        labelled_zone = zone if weight >= 0.5 else "road"
        closure = 0.0
        for b0, dur, nod in ep.blinks:
            if b0 <= t < b0 + dur:
                phase = (t - b0) / dur
                if dur < 0.9:
                    closure = min(1.0, 1.5 * np.sin(np.pi * phase))
                else:
                    closure = min(1.0, phase / 0.12, (1 - phase) / 0.12)
                    if nod:
                        pitch -= 20.0 * closure
                break
        openness = float(np.clip(ep.base_openness * (1.0 - closure) + rng_t.normal(0, 0.015), 0.0, 1.0))
        return DriverState(openness, labelled_zone, float(yaw), float(pitch), float(roll), eye_dx, eye_dy, ep.phone, ep.kind)
