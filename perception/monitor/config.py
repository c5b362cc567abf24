"""Thresholds of the temporal driver monitor (defaults follow the Euro NCAP DSM protocol).

All durations are in seconds of timestamp time (not frames); see ``docs/monitor.md`` for the
reasoning behind each default.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sensors.classes import GAZE_ZONES


@dataclass(frozen=True)
class MonitorConfig:
    """Configuration of :class:`perception.monitor.DriverMonitor`.

    Attributes:
        closed_max_openness: an eye openness (0 = shut, 1 = fully open) at or below this value
            counts as closed; 0.2 is the P80 criterion (at least 80 % closed).
        perclos_window_s: length of the sliding PERCLOS window (s).
        long_distraction_s: continuous off-road time that makes a long distraction (s).
        short_distraction_total_s: accumulated off-road time that makes a short distraction (s).
        short_distraction_window_s: window over which off-road time is accumulated (s).
        short_distraction_reset_s: continuous on-road time that resets the accumulation (s).
        microsleep_min_s: shortest eye closure reported as a microsleep (s); shorter ones are blinks.
        sleep_s: eye closure at or above this duration is sleep, below it a microsleep (s).
        unresponsive_s: continuous time with eyes off the road or closed that makes an
            unresponsive driver (s).
        max_gap_s: a frame's state is held until the next frame, but for at most this long; a longer
            gap is a frame drop: the unobserved time is neither on- nor off-road, ends every
            continuous episode and is left out of PERCLOS.
        on_road_zones: gaze zones that count as looking at the driving scene (eyes open).
        phone_counts_as_off_road: phone use makes a frame off-road whatever the gaze zone.
        time_eps_s: tolerance for comparing durations with thresholds (timestamps are floats).
    """

    closed_max_openness: float = 0.2
    perclos_window_s: float = 60.0
    long_distraction_s: float = 3.0
    short_distraction_total_s: float = 10.0
    short_distraction_window_s: float = 30.0
    short_distraction_reset_s: float = 2.0
    microsleep_min_s: float = 1.0
    sleep_s: float = 3.0
    unresponsive_s: float = 6.0
    max_gap_s: float = 1.0
    on_road_zones: frozenset[str] = field(
        default_factory=lambda: frozenset({"road", "left_mirror", "right_mirror", "rear_mirror"})
    )
    phone_counts_as_off_road: bool = True
    time_eps_s: float = 1e-6

    def __post_init__(self) -> None:
        if not 0.0 <= self.closed_max_openness < 1.0:
            raise ValueError(
                f"MonitorConfig.closed_max_openness must be in [0, 1), got {self.closed_max_openness}"
            )
        for name in (
            "perclos_window_s", "long_distraction_s", "short_distraction_total_s",
            "short_distraction_window_s", "short_distraction_reset_s", "sleep_s",
            "unresponsive_s", "max_gap_s",
        ):
            value = getattr(self, name)
            if not value > 0.0:
                raise ValueError(f"MonitorConfig.{name} must be > 0 s, got {value}")
        if not 0.0 <= self.microsleep_min_s < self.sleep_s:
            raise ValueError(
                "MonitorConfig.microsleep_min_s must be in [0, sleep_s), "
                f"got {self.microsleep_min_s} with sleep_s={self.sleep_s}"
            )
        if self.short_distraction_total_s > self.short_distraction_window_s:
            raise ValueError(
                "MonitorConfig.short_distraction_total_s cannot exceed short_distraction_window_s "
                f"({self.short_distraction_total_s} > {self.short_distraction_window_s})"
            )
        unknown = set(self.on_road_zones) - set(GAZE_ZONES)
        if unknown or "eyes_closed" in self.on_road_zones:
            raise ValueError(
                f"MonitorConfig.on_road_zones has invalid zones {sorted(unknown | ({'eyes_closed'} & set(self.on_road_zones)))}; "
                f"allowed: {[z for z in GAZE_ZONES if z != 'eyes_closed']}"
            )
        if self.time_eps_s < 0.0:
            raise ValueError(f"MonitorConfig.time_eps_s must be >= 0, got {self.time_eps_s}")
