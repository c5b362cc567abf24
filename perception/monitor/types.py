"""Inputs and outputs of the temporal driver monitor: per-frame observations, events, state."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from sensors.classes import GAZE_ZONES

#: Event kinds the monitor emits.
LONG_DISTRACTION: Final = "long_distraction"
SHORT_DISTRACTION: Final = "short_distraction"
MICROSLEEP: Final = "microsleep"
SLEEP: Final = "sleep"
UNRESPONSIVE: Final = "unresponsive"
EVENT_KINDS: Final[tuple[str, ...]] = (
    LONG_DISTRACTION, SHORT_DISTRACTION, MICROSLEEP, SLEEP, UNRESPONSIVE,
)


@dataclass(frozen=True)
class MonitorFrame:
    """One per-frame observation of the driver (output of the driver-monitoring head).

    Attributes:
        timestamp_s: time of the frame (s); strictly increasing along a stream.
        eye_openness: 0 = eyes shut, 1 = fully open (mean of both eyes).
        gaze_zone: one of ``sensors.classes.GAZE_ZONES``; ``"eyes_closed"`` marks the eyes closed
            whatever ``eye_openness`` says.
        phone_use: the driver is using a phone.
    """

    timestamp_s: float
    eye_openness: float
    gaze_zone: str
    phone_use: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.timestamp_s):
            raise ValueError(f"MonitorFrame.timestamp_s must be finite, got {self.timestamp_s}")
        if not 0.0 <= self.eye_openness <= 1.0:
            raise ValueError(f"MonitorFrame.eye_openness must be in [0, 1], got {self.eye_openness}")
        if self.gaze_zone not in GAZE_ZONES:
            raise ValueError(
                f"MonitorFrame.gaze_zone {self.gaze_zone!r} is not one of {list(GAZE_ZONES)}"
            )

    @classmethod
    def from_closed_probability(
        cls, timestamp_s: float, p_closed: float, gaze_zone: str, phone_use: bool = False
    ) -> MonitorFrame:
        """Build a frame from an eyes-closed probability (openness = 1 - p_closed)."""
        if not 0.0 <= p_closed <= 1.0:
            raise ValueError(f"eyes-closed probability must be in [0, 1], got {p_closed}")
        return cls(timestamp_s, 1.0 - p_closed, gaze_zone, phone_use)


@dataclass(frozen=True)
class DriverEvent:
    """A detected driver-state event over ``[start_s, end_s]`` (s, stream timestamps)."""

    kind: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class MonitorState:
    """The monitor's view after one frame.

    Attributes:
        timestamp_s: time of the frame just processed (s).
        perclos: P80 PERCLOS, fraction of observed time in the last ``perclos_window_s`` with the
            eyes closed (0 when nothing has been observed yet).
        perclos_observed_s: observed time inside the PERCLOS window (s); below the window length
            at the start of a stream or after frame drops.
        eyes_closed: the eyes are closed in this frame.
        off_road: the driver is looking away from the driving scene (or using a phone) in this frame.
        eyes_closed_s: duration of the running eye closure (s), 0 if the eyes are open.
        off_road_s: duration of the running off-road glance (s), 0 if on road.
        off_road_accumulated_s: off-road time accumulated towards a short distraction (s).
        active: kinds of the events in progress at this frame.
        ended: events that ended at this frame.
    """

    timestamp_s: float
    perclos: float
    perclos_observed_s: float
    eyes_closed: bool
    off_road: bool
    eyes_closed_s: float
    off_road_s: float
    off_road_accumulated_s: float
    active: frozenset[str]
    ended: tuple[DriverEvent, ...]
