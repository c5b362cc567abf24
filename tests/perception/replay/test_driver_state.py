"""The driver state of a replay: the driver head's output per new cabin image through the monitor."""
from __future__ import annotations

import numpy as np

from perception.model.prediction import Prediction
from perception.monitor import MonitorFrame, run_monitor
from perception.replay.driver_state import DriverTrack
from sensors.classes import GAZE_ZONES


def _prediction(eye_closed: float, zone: int, phone: float = 0.0) -> Prediction:
    gaze = np.full(len(GAZE_ZONES), 0.01)
    gaze[zone] = 0.9
    return Prediction(eye_closed=eye_closed, gaze=gaze, head_pose=np.array([5.0, -2.0, 1.0]), phone=phone)


def test_events_match_the_monitor_on_the_same_stream():
    # 10 Hz: eyes open 1 s, closed 2.5 s (a sleep-length closure), open again, then 4 s looking at the phone
    script = [(0.05, 0, 0.0)] * 10 + [(0.95, 0, 0.0)] * 25 + [(0.05, 0, 0.0)] * 10 + [(0.05, 6, 0.9)] * 40 \
        + [(0.05, 0, 0.0)] * 5
    track = DriverTrack()
    ended = []
    for k, (closed, zone, phone) in enumerate(script):
        update = track.update(1_000_000 + k * 100_000, _prediction(closed, zone, phone))
        assert update is not None
        ended += update.ended
        assert update.state["gaze_zone"] == GAZE_ZONES[zone] and update.state["eye_closed_p"] == closed
        assert update.state["head_yaw_deg"] == 5.0 and 0.0 <= update.state["perclos"] <= 1.0
    ended += track.finish()
    # the same stream built here: openness = 1 - P(closed), argmax zone, phone at P >= 0.5
    expected = run_monitor(MonitorFrame((1_000_000 + k * 100_000) * 1e-6, 1.0 - closed, GAZE_ZONES[zone], phone >= 0.5)
                           for k, (closed, zone, phone) in enumerate(script))
    assert expected and sorted(ended, key=lambda e: (e.start_s, e.kind)) == sorted(expected, key=lambda e: (e.start_s, e.kind))


def test_repeated_or_older_cabin_images_and_missing_driver_head_are_skipped():
    track = DriverTrack()
    assert track.update(2_000_000, _prediction(0.1, 0)) is not None
    assert track.update(2_000_000, _prediction(0.1, 0)) is None  # the same image in the next frame
    assert track.update(1_900_000, _prediction(0.1, 0)) is None  # out of order
    assert track.update(2_100_000, Prediction()) is None  # no driver head
    assert track.update(2_100_000, _prediction(0.1, 0)) is not None


def test_cabin_image_without_a_driver_head_and_repeated_images(sim_frames):
    """A model without a driver head still shows the cabin camera; an image in two frames is logged once."""
    import dataclasses

    import foxglove

    from perception.replay.foxglove_sink import TOPICS, FoxglovePublisher
    from sensors.frame import BevGrid

    logged: list[str] = []

    class Recorder(FoxglovePublisher):
        def _channel(self, kind: str, camera: str = ""):
            logged.append(TOPICS[kind].format(camera=camera))
            return super()._channel(kind, camera)

    publisher = Recorder(foxglove.Context(), BevGrid())
    frame = dataclasses.replace(sim_frames[0], cameras={}, annotations=None)
    publisher.write(frame, Prediction())  # no driver head
    publisher.write(dataclasses.replace(frame, timestamp=frame.timestamp + 50_000), Prediction())  # same cabin image
    assert logged.count(TOPICS["cabin"]) == 1 and TOPICS["driver_state"] not in logged
    publisher.write(dataclasses.replace(sim_frames[1], cameras={}, annotations=None), _prediction(0.2, 0))
    assert logged.count(TOPICS["cabin"]) == 2 and logged.count(TOPICS["driver_state"]) == 1
