"""Driver-monitoring scoring: per-frame metrics, and events of the temporal monitor run on the
predicted and on the ground-truth per-frame labels of each continuous cabin stream.

Streams are scored together: each stream is run through its own fresh monitor, then shifted in
time so that streams follow each other with a gap (events of different streams never overlap),
and the event metrics use the summed stream durations.

Partly labelled data (real datasets, see :class:`sensors.frame.DriverLabels`): each per-frame
metric uses the frames labelled for it. A stream is scored for the event kinds its labels decide
(:data:`KINDS_NEEDING`): drowsiness events where every frame has an eye state, distraction events
where every frame has a gaze (a zone, or whether the driver looks at the road), unresponsiveness
where both; each kind's duration is the time of the streams scored for it, and streams with none
of them are counted under ``events_skipped_streams``. In the ground-truth monitor input unlabelled
eyes count as open, an unlabelled gaze as on the road and an unlabelled phone as none (only the
kinds those labels decide are kept), and a frame labelled only "not looking at the road" stands in
as the off-road zone :data:`OFF_ROAD_STAND_IN` (the monitor treats every off-road zone alike).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from evaluation.driver import Event, event_metrics, frame_metrics
from perception.inference.records import DriverObservation
from perception.monitor import MonitorConfig, MonitorFrame, run_monitor
from sensors.classes import EYE_STATES, GAZE_ZONES
from sensors.frame import DriverLabels

#: Seconds between consecutive streams on the shared time line.
STREAM_GAP_S = 100.0
#: The monitor's on-road zones (the defaults the scoring runs the monitor with).
ON_ROAD_ZONES = MonitorConfig().on_road_zones
#: Monitor gaze zone of a frame labelled only as not looking at the road.
OFF_ROAD_STAND_IN = next(z for z in GAZE_ZONES if z not in ON_ROAD_ZONES and z != "eyes_closed")
#: Event kind -> the labels a stream needs on every frame to be scored for it.
KINDS_NEEDING: dict[str, tuple[str, ...]] = {
    "long_distraction": ("gaze",), "short_distraction": ("gaze",), "microsleep": ("eyes",), "sleep": ("eyes",),
    "unresponsive": ("eyes", "gaze"),
}


def predicted_monitor_frame(obs: DriverObservation, phone_threshold: float = 0.5) -> MonitorFrame:
    """Monitor input from the driver head: openness = 1 - P(closed), argmax gaze, phone if P >= threshold."""
    return MonitorFrame.from_closed_probability(obs.timestamp_s, min(max(obs.eye_closed_p, 0.0), 1.0),
                                                obs.predicted_zone_name(), obs.phone_p >= phone_threshold)


def ground_truth_monitor_frame(obs: DriverObservation) -> MonitorFrame:
    """Monitor input from the ground-truth labels of the same image (unlabelled parts: see the module docstring)."""
    gt = obs.gt
    if gt.gaze_zone is not None:
        zone = GAZE_ZONES[gt.gaze_zone]
    else:
        zone = OFF_ROAD_STAND_IN if gt.looking_at_road is False else "road"
    return MonitorFrame(obs.timestamp_s, 1.0 if gt.eye_openness is None else gt.eye_openness, zone, bool(gt.phone))


def _gaze_known(gt: DriverLabels) -> bool:
    return gt.gaze_zone is not None or gt.looking_at_road is not None


def _off_road(gt: DriverLabels) -> bool | None:
    """Ground truth of looking off the road with open eyes; None when the gaze is not labelled."""
    if gt.gaze_zone is not None:
        zone = GAZE_ZONES[gt.gaze_zone]
        return None if zone == "eyes_closed" else zone not in ON_ROAD_ZONES
    return None if gt.looking_at_road is None else not gt.looking_at_road


def _duration(times: np.ndarray) -> float:
    """Span of a stream in seconds, counting the last frame as lasting one median frame interval."""
    if len(times) < 2:
        return 0.0
    return float(times[-1] - times[0] + np.median(np.diff(times)))


def score_driver(observations: Sequence[DriverObservation], phone_threshold: float = 0.5,
                 eye_threshold: float = 0.5) -> dict:
    """``{"frames": evaluation.driver.frame_metrics, "events": evaluation.driver.event_metrics}``.

    ``events`` is left out when no stream labelled for any event kind spans any time (see the module
    docstring). Raises ValueError without observations or with a timestamp repeated within a stream.
    """
    if not observations:
        raise ValueError("driver monitoring: no cabin images with labels to score")
    closed = EYE_STATES.index("closed")
    eyes = [o for o in observations if o.gt.eye_state is not None]
    phone = [o for o in observations if o.gt.phone is not None]
    gaze = [o for o in observations if o.gt.gaze_zone is not None]
    pose = [o for o in observations if o.gt.head_pose is not None]
    road = [(o, off) for o in observations if (off := _off_road(o.gt)) is not None]
    result: dict = {"frames": frame_metrics(
        np.array([o.eye_closed_p >= eye_threshold for o in eyes]), np.array([o.gt.eye_state == closed for o in eyes]),
        np.array([o.phone_p >= phone_threshold for o in phone]), np.array([o.gt.phone for o in phone]),
        np.array([o.gaze_zone for o in gaze], np.int64), np.array([o.gt.gaze_zone for o in gaze], np.int64),
        np.array([o.head_pose_deg for o in pose]).reshape(-1, 3), np.array([o.gt.head_pose for o in pose]).reshape(-1, 3),
        np.array([o.predicted_zone_name() not in ON_ROAD_ZONES | {"eyes_closed"} for o, _ in road]),
        np.array([off for _, off in road]),
    )}
    streams: dict[str, list[DriverObservation]] = defaultdict(list)
    for obs in observations:
        streams[obs.stream].append(obs)
    predicted: list[Event] = []
    target: list[Event] = []
    offset = 0.0
    durations: dict[str, float] = defaultdict(float)
    skipped = 0
    for name, stream in streams.items():
        stream = sorted(stream, key=lambda o: o.timestamp_s)
        times = np.array([o.timestamp_s for o in stream])
        if np.any(np.diff(times) <= 0):
            raise ValueError(f"driver monitoring: stream {name!r} has repeated timestamps")
        labelled = {"eyes": all(o.gt.eye_openness is not None for o in stream),
                    "gaze": all(_gaze_known(o.gt) for o in stream)}
        kinds = {kind for kind, needs in KINDS_NEEDING.items() if all(labelled[n] for n in needs)}
        if not kinds:
            skipped += 1
            continue
        duration = _duration(times)
        if duration <= 0:
            continue
        shift = offset - times[0]
        for events, out in ((run_monitor(predicted_monitor_frame(o, phone_threshold) for o in stream), predicted),
                            (run_monitor(ground_truth_monitor_frame(o) for o in stream), target)):
            out.extend(Event(e.kind, e.start_s + shift, e.end_s + shift) for e in events if e.kind in kinds)
        offset += duration + STREAM_GAP_S
        for kind in kinds:
            durations[kind] += duration
    if durations:
        result["events"] = event_metrics(predicted, target, dict(durations))
    if skipped:
        result["events_skipped_streams"] = skipped
    return result
