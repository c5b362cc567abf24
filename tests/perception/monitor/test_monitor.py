"""Hand-built driver timelines for every event type of the temporal driver monitor."""
from __future__ import annotations

import numpy as np
import pytest

from perception.monitor import (
    LONG_DISTRACTION,
    MICROSLEEP,
    SHORT_DISTRACTION,
    SLEEP,
    UNRESPONSIVE,
    DriverEvent,
    DriverMonitor,
    MonitorConfig,
    MonitorFrame,
    run_monitor,
)

# segment kind -> (eye openness, gaze zone, phone use)
KINDS = {
    "road": (0.9, "road", False),
    "off": (0.9, "infotainment", False),
    "cluster": (0.9, "instrument_cluster", False),
    "mirror": (0.9, "left_mirror", False),
    "phone": (0.9, "road", True),
    "closed": (0.05, "road", False),
}


def timeline(segments: list[tuple[float, str]], hz: float = 10.0, t0: float = 0.0) -> list[MonitorFrame]:
    """Frames at ``hz`` for consecutive (duration s, kind) segments; ends with one road frame."""
    frames = []
    t = t0
    for duration, kind in segments:
        n = int(round(duration * hz))
        for i in range(n):
            openness, zone, phone = KINDS[kind]
            frames.append(MonitorFrame(round(t + i / hz, 9), openness, zone, phone))
        t = round(t + n / hz, 9)
    frames.append(MonitorFrame(t, *KINDS["road"]))
    return frames


def kinds(events: list[DriverEvent]) -> list[str]:
    return [e.kind for e in events]


def test_long_distraction_exactly_at_threshold_is_reported_with_its_times():
    events = run_monitor(timeline([(5.0, "road"), (3.0, "off"), (5.0, "road")]))
    assert events == [DriverEvent(LONG_DISTRACTION, 5.0, 8.0)]


def test_glance_just_under_threshold_is_not_a_long_distraction():
    assert run_monitor(timeline([(5.0, "road"), (2.9, "off"), (5.0, "road")])) == []


def test_mirrors_are_on_road_but_cluster_and_phone_are_off_road():
    assert run_monitor(timeline([(2.0, "road"), (4.0, "mirror"), (3.0, "road")])) == []
    assert kinds(run_monitor(timeline([(2.0, "road"), (4.0, "cluster"), (3.0, "road")]))) == [LONG_DISTRACTION]
    assert kinds(run_monitor(timeline([(2.0, "road"), (4.0, "phone"), (3.0, "road")]))) == [LONG_DISTRACTION]
    no_phone = MonitorConfig(phone_counts_as_off_road=False)
    assert run_monitor(timeline([(2.0, "road"), (4.0, "phone"), (3.0, "road")]), no_phone) == []


def test_short_distraction_accumulates_glances_and_ends_at_the_resetting_on_road_stretch():
    # four 2.5 s glances separated by 1.5 s on road (never 2 s): 10 s off road within 30 s.
    segments = [(2.0, "road")]
    for _ in range(4):
        segments += [(2.5, "off"), (1.5, "road")]
    segments += [(5.0, "road")]
    events = run_monitor(timeline(segments))
    assert kinds(events) == [SHORT_DISTRACTION]
    # starts at the first glance; ends where the resetting on-road stretch began (after the
    # last glance: 2 + 4 * 4 - 1.5 = 16.5 s).
    assert events[0].start_s == pytest.approx(2.0)
    assert events[0].end_s == pytest.approx(16.5)


@pytest.mark.parametrize("on_road_s, expected", [(2.0, []), (1.9, [SHORT_DISTRACTION])])
def test_two_seconds_on_road_reset_the_accumulation(on_road_s, expected):
    segments = [(2.0, "road")]
    for _ in range(6):
        segments += [(2.5, "off"), (on_road_s, "road")]
    assert kinds(run_monitor(timeline(segments))) == expected


def test_off_road_time_older_than_the_window_is_forgotten():
    # 0.9 s off / 1.9 s on never resets but holds at most 30 / 2.8 * 0.9 = 9.6 s in 30 s.
    segments = [(1.0, "road")] + [(0.9, "off"), (1.9, "road")] * 40
    monitor = DriverMonitor()
    peak = 0.0
    for frame in timeline(segments):
        state = monitor.update(frame)
        peak = max(peak, state.off_road_accumulated_s)
        assert SHORT_DISTRACTION not in state.active
    assert 9.0 < peak < 10.0
    assert monitor.finish() == []
    # the same glances with 1.7 s on road reach 30 / 2.6 * 0.9 = 10.4 s.
    dense = [(1.0, "road")] + [(0.9, "off"), (1.7, "road")] * 40
    assert kinds(run_monitor(timeline(dense))) == [SHORT_DISTRACTION]


@pytest.mark.parametrize(
    "closed_s, expected",
    [(0.3, []), (0.9, []), (1.0, [MICROSLEEP]), (2.9, [MICROSLEEP]), (3.0, [SLEEP]), (4.5, [SLEEP])],
)
def test_eye_closure_durations(closed_s, expected):
    events = run_monitor(timeline([(2.0, "road"), (closed_s, "closed"), (3.0, "road")]))
    assert kinds(events) == expected
    if expected:
        assert (events[0].start_s, events[0].end_s) == pytest.approx((2.0, 2.0 + closed_s))


def test_unresponsive_covers_off_road_then_closed_eyes():
    events = run_monitor(timeline([(1.0, "road"), (3.0, "off"), (3.5, "closed"), (2.0, "road")]))
    assert events == [
        DriverEvent(LONG_DISTRACTION, 1.0, 4.0),
        DriverEvent(UNRESPONSIVE, 1.0, 7.5),
        DriverEvent(SLEEP, 4.0, 7.5),
    ]


def test_unresponsive_needs_six_seconds():
    events = run_monitor(timeline([(1.0, "road"), (3.0, "off"), (2.9, "closed"), (2.0, "road")]))
    assert UNRESPONSIVE not in kinds(events)


def test_streaming_state_reports_running_durations_and_active_events():
    monitor = DriverMonitor()
    states = [monitor.update(f) for f in timeline([(1.0, "road"), (4.0, "off")])[:-1]]
    last = states[-1]  # t = 4.9 s, off road since 1.0 s
    assert last.off_road and not last.eyes_closed
    assert last.off_road_s == pytest.approx(3.9)
    assert LONG_DISTRACTION in last.active
    before = next(s for s in states if s.timestamp_s == pytest.approx(3.9))
    assert LONG_DISTRACTION not in before.active
    assert monitor.finish() == [DriverEvent(LONG_DISTRACTION, 1.0, 4.9)]


def test_irregular_frame_rate_gives_the_same_events_as_a_steady_stream():
    rng = np.random.default_rng(0)
    # ground truth: road until 2, off 2..6, road 6..9, closed 9..10.5, road 10.5..14.
    def kind_at(t: float) -> str:
        if 2.0 <= t < 6.0:
            return "off"
        if 9.0 <= t < 10.5:
            return "closed"
        return "road"

    times = np.cumsum(rng.uniform(0.01, 0.12, size=400))
    times = times[times < 14.0]
    frames = [MonitorFrame(float(t), *KINDS[kind_at(float(t))]) for t in times]
    events = run_monitor(frames)
    assert kinds(events) == [LONG_DISTRACTION, MICROSLEEP]
    # edges land on the first frame at or after the true change: within one frame interval.
    assert events[0].start_s == pytest.approx(2.0, abs=0.12)
    assert events[0].end_s == pytest.approx(6.0, abs=0.12)
    assert events[1].start_s == pytest.approx(9.0, abs=0.12)
    assert events[1].end_s == pytest.approx(10.5, abs=0.12)


def test_a_frame_drop_longer_than_max_gap_breaks_an_episode_but_a_short_one_does_not():
    frames = timeline([(1.0, "road"), (4.0, "closed"), (2.0, "road")])
    short_drop = [f for f in frames if not 2.0 <= f.timestamp_s < 2.5]  # 0.6 s gap
    assert run_monitor(short_drop) == [DriverEvent(SLEEP, 1.0, 5.0)]
    long_drop = [f for f in frames if not 2.0 <= f.timestamp_s < 3.5]  # 1.6 s gap
    # closed 1.0..1.9 held until 2.9 (max_gap 1 s) -> 1.9 s microsleep; then 3.5..5.0 microsleep.
    assert run_monitor(long_drop) == [
        DriverEvent(MICROSLEEP, 1.0, pytest.approx(2.9)),
        DriverEvent(MICROSLEEP, 3.5, 5.0),
    ]


def test_non_monotonic_or_repeated_timestamps_raise():
    monitor = DriverMonitor()
    monitor.update(MonitorFrame(1.0, 0.9, "road"))
    with pytest.raises(ValueError, match="increase strictly"):
        monitor.update(MonitorFrame(0.5, 0.9, "road"))
    with pytest.raises(ValueError, match="increase strictly"):
        monitor.update(MonitorFrame(1.0, 0.9, "road"))


def test_perclos_on_a_known_blink_pattern():
    # every second: 0.25 s at openness 0.2 (counts as closed, P80), 0.75 s at 0.21 (open).
    monitor = DriverMonitor()
    state = None
    for i in range(20 * 90):  # 90 s at 20 Hz
        t = i / 20.0
        openness = 0.2 if (i % 20) < 5 else 0.21
        state = monitor.update(MonitorFrame(t, openness, "road"))
        if i == 20 * 10:  # t = 10 s: only 10 s observed
            assert state.perclos_observed_s == pytest.approx(10.0)
            assert state.perclos == pytest.approx(0.25)
    assert state is not None
    assert state.perclos_observed_s == pytest.approx(60.0)
    assert state.perclos == pytest.approx(0.25, abs=1e-6)


def test_perclos_window_forgets_old_closures():
    monitor = DriverMonitor()
    frames = timeline([(30.0, "closed"), (90.0, "road")], hz=5.0)
    perclos = [monitor.update(f).perclos for f in frames]
    assert perclos[5 * 30] == pytest.approx(1.0)  # t = 30 s: all observed time closed
    assert perclos[5 * 60] == pytest.approx(0.5)  # t = 60 s: 30 of 60 s closed
    assert perclos[5 * 90] == pytest.approx(0.0)  # t = 90 s: closure left the window


def test_eyes_closed_gaze_zone_counts_as_closed_and_closed_probability_constructor():
    frame = MonitorFrame.from_closed_probability(0.0, 0.9, "road")
    assert frame.eye_openness == pytest.approx(0.1)
    state = DriverMonitor().update(MonitorFrame(0.0, 0.8, "eyes_closed"))
    assert state.eyes_closed and not state.off_road


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"timestamp_s": float("nan"), "eye_openness": 0.5, "gaze_zone": "road"}, "timestamp_s"),
        ({"timestamp_s": 0.0, "eye_openness": 1.5, "gaze_zone": "road"}, "eye_openness"),
        ({"timestamp_s": 0.0, "eye_openness": 0.5, "gaze_zone": "sky"}, "gaze_zone"),
    ],
)
def test_bad_frames_raise_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        MonitorFrame(**kwargs)


def test_bad_config_raises_naming_the_field():
    with pytest.raises(ValueError, match="microsleep_min_s"):
        MonitorConfig(microsleep_min_s=3.0)
    with pytest.raises(ValueError, match="on_road_zones"):
        MonitorConfig(on_road_zones=frozenset({"road", "eyes_closed"}))
    with pytest.raises(ValueError, match="max_gap_s"):
        MonitorConfig(max_gap_s=0.0)
