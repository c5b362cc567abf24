"""Driver-monitoring scoring: per-frame metrics, and events of the temporal monitor run on the
predicted and on the ground-truth per-frame labels of each continuous cabin stream.

Streams are scored together: each stream is run through its own fresh monitor, then shifted in
time so that streams follow each other with a gap (events of different streams never overlap),
and the event metrics use the summed stream durations.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from evaluation.driver import DriverTimeline, Event, event_metrics, frame_metrics
from perception.inference.records import DriverObservation
from perception.monitor import DriverMonitor, MonitorFrame, run_monitor
from sensors.classes import EYE_STATES, GAZE_ZONES

#: Seconds between consecutive streams on the shared time line.
STREAM_GAP_S = 100.0


def predicted_monitor_frame(obs: DriverObservation, phone_threshold: float = 0.5) -> MonitorFrame:
    """Monitor input from the driver head: openness = 1 - P(closed), argmax gaze, phone if P >= threshold."""
    return MonitorFrame.from_closed_probability(obs.timestamp_s, min(max(obs.eye_closed_p, 0.0), 1.0),
                                                obs.predicted_zone_name(), obs.phone_p >= phone_threshold)


def ground_truth_monitor_frame(obs: DriverObservation) -> MonitorFrame:
    """Monitor input from the ground-truth labels of the same image."""
    gt = obs.gt
    return MonitorFrame(obs.timestamp_s, gt.eye_openness, GAZE_ZONES[gt.gaze_zone], gt.phone)


def _duration(times: np.ndarray) -> float:
    """Span of a stream in seconds, counting the last frame as lasting one median frame interval."""
    if len(times) < 2:
        return 0.0
    return float(times[-1] - times[0] + np.median(np.diff(times)))


def score_driver(observations: Sequence[DriverObservation], phone_threshold: float = 0.5,
                 eye_threshold: float = 0.5) -> dict:
    """``{"frames": evaluation.driver.frame_metrics, "events": evaluation.driver.event_metrics}``.

    ``events`` is left out when no stream spans any time. Raises ValueError without observations
    or with a timestamp repeated within a stream.
    """
    if not observations:
        raise ValueError("driver monitoring: no cabin images with labels to score")
    closed = EYE_STATES.index("closed")
    result: dict = {"frames": frame_metrics(
        np.array([o.eye_closed_p >= eye_threshold for o in observations]),
        np.array([o.gt.eye_state == closed for o in observations]),
        np.array([o.phone_p >= phone_threshold for o in observations]),
        np.array([o.gt.phone for o in observations]),
        np.array([o.gaze_zone for o in observations]),
        np.array([o.gt.gaze_zone for o in observations]),
        np.stack([o.head_pose_deg for o in observations]),
        np.array([o.gt.head_pose for o in observations]),
    )}
    streams: dict[str, list[DriverObservation]] = defaultdict(list)
    for obs in observations:
        streams[obs.stream].append(obs)
    predicted: list[Event] = []
    target: list[Event] = []
    offset = total = 0.0
    for name, stream in streams.items():
        stream = sorted(stream, key=lambda o: o.timestamp_s)
        times = np.array([o.timestamp_s for o in stream])
        if np.any(np.diff(times) <= 0):
            raise ValueError(f"driver monitoring: stream {name!r} has repeated timestamps")
        duration = _duration(times)
        if duration <= 0:
            continue
        shift = offset - times[0]
        for events, out in ((run_monitor(predicted_monitor_frame(o, phone_threshold) for o in stream), predicted),
                            (run_monitor(ground_truth_monitor_frame(o) for o in stream), target)):
            out.extend(Event(e.kind, e.start_s + shift, e.end_s + shift) for e in events)
        offset += duration + STREAM_GAP_S
        total += duration
    if total > 0:
        result["events"] = event_metrics(predicted, target, total)
    return result


def driver_timeline(observations: Sequence[DriverObservation], phone_threshold: float = 0.5) -> DriverTimeline:
    """The predicted and true driver state along one cabin stream (observations of one stream, any
    order): per-frame openness, gaze zone, phone, the monitor's PERCLOS, events, and the time each
    event became active (the warning). Times are seconds from the first frame.

    Raises:
        ValueError: no observations, several streams, or a repeated timestamp.
    """
    if not observations:
        raise ValueError("driver timeline: no cabin observations")
    if len({o.stream for o in observations}) > 1:
        raise ValueError("driver timeline: observations of several streams")
    stream = sorted(observations, key=lambda o: o.timestamp_s)
    t0 = stream[0].timestamp_s
    frames = {"predicted": [predicted_monitor_frame(o, phone_threshold) for o in stream],
              "true": [ground_truth_monitor_frame(o) for o in stream]}
    perclos: dict[str, np.ndarray] = {}
    events: dict[str, list[Event]] = {}
    warnings: dict[str, list[tuple[float, str]]] = {}
    for side, inputs in frames.items():
        monitor = DriverMonitor()
        values, ended, fired = [], [], []
        active: frozenset[str] = frozenset()
        for frame in inputs:
            state = monitor.update(frame)
            values.append(state.perclos)
            ended += state.ended
            fired += [(frame.timestamp_s - t0, kind) for kind in sorted(state.active - active)]
            active = state.active
        ended += monitor.finish()
        perclos[side] = np.array(values)
        events[side] = [Event(e.kind, e.start_s - t0, e.end_s - t0) for e in ended]
        warnings[side] = fired
    return DriverTimeline(
        times_s=np.array([o.timestamp_s - t0 for o in stream]),
        openness={"predicted": np.array([f.eye_openness for f in frames["predicted"]]),
                  "true": np.array([o.gt.eye_openness for o in stream])},
        gaze_zone={"predicted": np.array([o.gaze_zone for o in stream]),
                   "true": np.array([o.gt.gaze_zone for o in stream])},
        perclos=perclos,
        phone={"predicted": np.array([o.phone_p for o in stream]),
               "true": np.array([float(o.gt.phone) for o in stream])},
        events=events, warnings=warnings,
    )
