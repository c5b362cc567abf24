"""The driver's state along a replay: the driver head's per-frame output run through the temporal
monitor (:class:`perception.monitor.DriverMonitor`), giving PERCLOS and driver-state events."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from perception.model.prediction import Prediction
from perception.monitor import DriverEvent, DriverMonitor, MonitorFrame
from sensors.classes import GAZE_ZONES

#: Probability at or above which the driver counts as using a phone.
PHONE_THRESHOLD = 0.5


@dataclass
class DriverUpdate:
    """The state published for one cabin image.

    Attributes:
        state: JSON-ready mapping: ``eye_closed_p``, ``phone_p`` (probabilities), ``gaze_zone``
            (name), ``gaze_p`` (zone -> probability), ``head_yaw_deg``, ``head_pitch_deg``,
            ``head_roll_deg``, ``perclos`` (0-1), ``eyes_closed``, ``off_road`` (bools),
            ``active_events`` (kinds in progress).
        ended: events that ended at this image.
    """

    state: dict
    ended: list[DriverEvent] = field(default_factory=list)


class DriverTrack:
    """Feeds the driver head's output of each new cabin image to one :class:`DriverMonitor`.

    A cabin image whose time is not after the previous one (the same image synchronised into two
    LiDAR frames, or a timestamp out of order) is skipped: the monitor needs increasing times.
    """

    def __init__(self) -> None:
        self.monitor = DriverMonitor()
        self.last_us: int | None = None

    def update(self, timestamp_us: int, prediction: Prediction) -> DriverUpdate | None:
        """The state after the cabin image taken at ``timestamp_us``; None when it is not newer than
        the last one or the prediction has no driver output."""
        if prediction.eye_closed is None or prediction.gaze is None or prediction.head_pose is None:
            return None
        if self.last_us is not None and timestamp_us <= self.last_us:
            return None
        self.last_us = int(timestamp_us)
        eye_closed = float(np.clip(prediction.eye_closed, 0.0, 1.0))
        phone = float(prediction.phone or 0.0)
        zone = GAZE_ZONES[int(np.argmax(prediction.gaze))]
        result = self.monitor.update(MonitorFrame.from_closed_probability(
            timestamp_us * 1e-6, eye_closed, zone, phone >= PHONE_THRESHOLD))
        yaw, pitch, roll = (float(v) for v in prediction.head_pose)
        state = {
            "eye_closed_p": eye_closed, "phone_p": phone, "gaze_zone": zone,
            "gaze_p": {z: float(p) for z, p in zip(GAZE_ZONES, prediction.gaze)},
            "head_yaw_deg": yaw, "head_pitch_deg": pitch, "head_roll_deg": roll,
            "perclos": result.perclos, "eyes_closed": result.eyes_closed, "off_road": result.off_road,
            "active_events": sorted(result.active),
        }
        return DriverUpdate(state, list(result.ended))

    def finish(self) -> list[DriverEvent]:
        """Events still open at the last image (the stream ends there)."""
        return self.monitor.finish()
