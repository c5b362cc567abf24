"""The driver timeline of the report: warnings fire when the Euro NCAP thresholds are crossed,
checked on hand-built streams against times worked out in the test (10 Hz frames)."""
from __future__ import annotations

import numpy as np
import pytest

from perception.inference.driver_events import driver_timeline
from perception.inference.records import DriverObservation
from sensors.classes import EYE_STATES, GAZE_ZONES
from sensors.frame import DriverLabels

HZ = 10


def _stream(seconds: float, closed: tuple[float, float] | None = None, away: tuple[float, float] | None = None,
            predicted_shift_s: float = 0.0) -> list[DriverObservation]:
    """True labels with the eyes closed over ``closed`` and the gaze on the infotainment over ``away``;
    the prediction is the same, ``predicted_shift_s`` later."""
    out = []
    for i in range(int(seconds * HZ)):
        t = i / HZ

        def state(at: float) -> tuple[bool, bool]:
            return (closed is not None and closed[0] <= at < closed[1]), (away is not None and away[0] <= at < away[1])

        is_closed, is_away = state(t)
        zone = "eyes_closed" if is_closed else "infotainment" if is_away else "road"
        labels = DriverLabels(0.05 if is_closed else 0.9, EYE_STATES.index("closed" if is_closed else "open"),
                              GAZE_ZONES.index(zone), (0.0, 0.0, 0.0), False)
        p_closed, p_away = state(t - predicted_shift_s)
        gaze = np.zeros(len(GAZE_ZONES))
        gaze[GAZE_ZONES.index("eyes_closed" if p_closed else "infotainment" if p_away else "road")] = 1.0
        out.append(DriverObservation("s", 100.0 + t, 0.95 if p_closed else 0.05, gaze, np.zeros(3), 0.0, labels))
    return out


def test_eye_closure_warns_microsleep_after_1_s_and_sleep_after_3_s():
    timeline = driver_timeline(_stream(12.0, closed=(2.0, 6.5)))
    for side in ("true", "predicted"):
        warned = dict((kind, t) for t, kind in timeline.warnings[side])
        assert warned["microsleep"] == pytest.approx(3.0)
        assert warned["sleep"] == pytest.approx(5.0)
        assert [(e.kind, e.start_s, e.end_s) for e in timeline.events[side]] == [("sleep", 2.0, 6.5)]
    assert timeline.times_s[0] == 0.0 and len(timeline.times_s) == 120
    # PERCLOS over the observed time: 4.5 s closed of 12 s at the end (window 60 s)
    assert timeline.perclos["true"][-1] == pytest.approx(4.5 / 11.9, abs=1e-6)


def test_a_later_prediction_warns_later_by_the_same_time():
    timeline = driver_timeline(_stream(15.0, away=(2.0, 7.0), predicted_shift_s=0.5))
    true = dict((kind, t) for t, kind in timeline.warnings["true"])
    predicted = dict((kind, t) for t, kind in timeline.warnings["predicted"])
    assert true["long_distraction"] == pytest.approx(5.0)
    assert predicted["long_distraction"] == pytest.approx(5.5)
    assert np.array_equal(timeline.gaze_zone["true"][20:70], np.full(50, GAZE_ZONES.index("infotainment")))


def test_several_streams_are_refused():
    a, b = _stream(2.0), _stream(2.0)
    b = [DriverObservation("other", o.timestamp_s, o.eye_closed_p, o.gaze_p, o.head_pose_deg, o.phone_p, o.gt)
         for o in b]
    with pytest.raises(ValueError, match="several streams"):
        driver_timeline(a + b)
