"""``DriverScript(scripted=True)``: every event kind the monitor reports happens, with the documented
durations, measured here from the per-frame labels alone (runs of closed eyes / off-road gaze)."""
from __future__ import annotations

import numpy as np

from sensors.classes import EYE_STATES, GAZE_ZONES
from sensors.sim.driver import DriverScript

HZ = 50.0
OFF_ROAD = {GAZE_ZONES.index(z) for z in ("instrument_cluster", "infotainment", "lap_or_phone")}


def _runs(flags: np.ndarray) -> list[float]:
    """Durations (s) of the maximal runs of True in ``flags`` sampled at :data:`HZ`."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return list((edges[1::2] - edges[0::2]) / HZ)


def _labels(script: DriverScript, seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = [script.state(i / HZ).labels() for i in range(int(seconds * HZ))]
    closed = np.array([lab.eye_state == EYE_STATES.index("closed") for lab in labels])
    off_road = np.array([lab.gaze_zone in OFF_ROAD or lab.phone for lab in labels])
    return closed, off_road, np.array([lab.gaze_zone for lab in labels])


def test_scripted_stream_has_every_event_kind():
    closed, off_road, _ = _labels(DriverScript(5, scripted=True), 300.0)
    closures = _runs(closed)
    glances = _runs(off_road)
    assert sum(1.0 <= d < 3.0 for d in closures) >= 2, closures  # microsleeps
    assert sum(3.0 <= d < 6.0 for d in closures) >= 2, closures  # sleep
    assert sum(d >= 3.0 for d in glances) >= 4, glances  # long distractions (and unresponsive ones)
    assert sum(d >= 6.0 for d in glances) >= 2, glances  # unresponsive
    # short distraction: >= 10 s off road within a 30 s window from glances of under 3 s each
    short_only = off_road.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], off_road.astype(np.int8), [0]])))
    for start, end in zip(edges[0::2], edges[1::2]):
        if (end - start) / HZ >= 3.0:
            short_only[start:end] = False
    counts = np.convolve(short_only.astype(np.int32), np.ones(int(30 * HZ), np.int32), mode="valid") / HZ
    assert counts.max() >= 10.0


def test_default_script_is_unchanged_by_the_option():
    a, b = DriverScript(3), DriverScript(3, scripted=False)
    for t in np.linspace(0.0, 120.0, 97):
        assert a.state(float(t)) == b.state(float(t))
