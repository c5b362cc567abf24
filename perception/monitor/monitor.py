"""Temporal driver monitor: PERCLOS and Euro NCAP-style distraction / drowsiness events.

A frame's state holds from its timestamp until the next frame's (sample and hold), for at most
``MonitorConfig.max_gap_s``; everything is measured in timestamp seconds, so irregular frame rates
and dropped frames give the same durations as a steady stream.
"""
from __future__ import annotations

from collections.abc import Iterable

from perception.monitor.config import MonitorConfig
from perception.monitor.types import (
    LONG_DISTRACTION,
    MICROSLEEP,
    SHORT_DISTRACTION,
    SLEEP,
    UNRESPONSIVE,
    DriverEvent,
    MonitorFrame,
    MonitorState,
)
from perception.monitor.window import SlidingIntervalSum


class DriverMonitor:
    """Streaming state machine over :class:`MonitorFrame` s; see ``docs/monitor.md``."""

    def __init__(self, config: MonitorConfig | None = None) -> None:
        self.config = config or MonitorConfig()
        self._reset()

    def _reset(self) -> None:
        cfg = self.config
        self._last: MonitorFrame | None = None
        self._last_closed = False
        self._last_off = False
        self._closed_start: float | None = None  # running eye closure
        self._off_start: float | None = None  # running off-road glance (eyes open)
        self._unresp_start: float | None = None  # running "off road or closed"
        self._on_start: float | None = None  # running on-road gaze (eyes open)
        self._short_start: float | None = None  # short distraction in progress since
        self._perclos = SlidingIntervalSum(cfg.perclos_window_s)
        self._off_road = SlidingIntervalSum(cfg.short_distraction_window_s)

    # -- classification of one frame ------------------------------------------------------------
    def _is_closed(self, frame: MonitorFrame) -> bool:
        return frame.eye_openness <= self.config.closed_max_openness or frame.gaze_zone == "eyes_closed"

    def _is_off_road(self, frame: MonitorFrame, closed: bool) -> bool:
        if closed:
            return False
        phone = frame.phone_use and self.config.phone_counts_as_off_road
        return phone or frame.gaze_zone not in self.config.on_road_zones

    # -- episodes ----------------------------------------------------------------------------------
    def _reached(self, duration_s: float, threshold_s: float) -> bool:
        return duration_s >= threshold_s - self.config.time_eps_s

    def _end_closure(self, end_s: float, out: list[DriverEvent]) -> None:
        start, self._closed_start = self._closed_start, None
        if start is None:
            return
        duration = end_s - start
        if self._reached(duration, self.config.sleep_s):
            out.append(DriverEvent(SLEEP, start, end_s))
        elif self._reached(duration, self.config.microsleep_min_s):
            out.append(DriverEvent(MICROSLEEP, start, end_s))

    def _end_off_road(self, end_s: float, out: list[DriverEvent]) -> None:
        start, self._off_start = self._off_start, None
        if start is not None and self._reached(end_s - start, self.config.long_distraction_s):
            out.append(DriverEvent(LONG_DISTRACTION, start, end_s))

    def _end_unresponsive(self, end_s: float, out: list[DriverEvent]) -> None:
        start, self._unresp_start = self._unresp_start, None
        if start is not None and self._reached(end_s - start, self.config.unresponsive_s):
            out.append(DriverEvent(UNRESPONSIVE, start, end_s))

    def _end_on_road(self, end_s: float, out: list[DriverEvent]) -> None:
        start, self._on_start = self._on_start, None
        if start is not None:
            self._check_reset(start, end_s, out)

    def _check_reset(self, on_start: float, now_s: float, out: list[DriverEvent]) -> None:
        """Reset the short-distraction accumulation after enough continuous on-road gaze."""
        if not self._reached(now_s - on_start, self.config.short_distraction_reset_s):
            return
        self._off_road.clear()
        if self._short_start is not None:
            out.append(DriverEvent(SHORT_DISTRACTION, self._short_start, on_start))
            self._short_start = None

    # -- public API --------------------------------------------------------------------------------
    def update(self, frame: MonitorFrame) -> MonitorState:
        """Process the next frame and return the state at ``frame.timestamp_s``.

        Raises:
            ValueError: if the timestamp is not strictly after the previous frame's.
        """
        cfg = self.config
        now = frame.timestamp_s
        ended: list[DriverEvent] = []
        if self._last is not None:
            prev_t = self._last.timestamp_s
            if not now > prev_t:
                raise ValueError(
                    f"driver monitor: timestamps must increase strictly, got {now} s after {prev_t} s"
                )
            hold_end = min(now, prev_t + cfg.max_gap_s)
            self._perclos.add(prev_t, hold_end, 1.0 if self._last_closed else 0.0)
            if self._last_off:
                self._off_road.add(prev_t, hold_end)
            if hold_end < now:  # frame drop: unobserved time ends every continuous episode
                self._end_closure(hold_end, ended)
                self._end_off_road(hold_end, ended)
                self._end_unresponsive(hold_end, ended)
                self._end_on_road(hold_end, ended)

        closed = self._is_closed(frame)
        off_road = self._is_off_road(frame, closed)
        on_road = not closed and not off_road
        if closed:
            self._closed_start = now if self._closed_start is None else self._closed_start
        else:
            self._end_closure(now, ended)
        if off_road:
            self._off_start = now if self._off_start is None else self._off_start
        else:
            self._end_off_road(now, ended)
        if closed or off_road:
            self._unresp_start = now if self._unresp_start is None else self._unresp_start
        else:
            self._end_unresponsive(now, ended)
        if on_road:
            if self._on_start is None:
                self._on_start = now
            else:
                self._check_reset(self._on_start, now, ended)
        else:
            self._end_on_road(now, ended)

        accumulated = self._off_road.observed(now)
        if self._short_start is None and self._reached(accumulated, cfg.short_distraction_total_s):
            self._short_start = self._off_road.first_start(now)

        self._last, self._last_closed, self._last_off = frame, closed, off_road
        return MonitorState(
            timestamp_s=now,
            perclos=self._perclos_value(now),
            perclos_observed_s=self._perclos.observed(now),
            eyes_closed=closed,
            off_road=off_road,
            eyes_closed_s=0.0 if self._closed_start is None else now - self._closed_start,
            off_road_s=0.0 if self._off_start is None else now - self._off_start,
            off_road_accumulated_s=accumulated,
            active=self._active(now),
            ended=tuple(sorted(ended, key=_event_order)),
        )

    def finish(self) -> list[DriverEvent]:
        """End the stream at the last frame's timestamp, return the events still open, and reset."""
        ended: list[DriverEvent] = []
        if self._last is not None:
            end = self._last.timestamp_s
            self._end_closure(end, ended)
            self._end_off_road(end, ended)
            self._end_unresponsive(end, ended)
            if self._short_start is not None:
                ended.append(DriverEvent(SHORT_DISTRACTION, self._short_start, end))
        self._reset()
        return sorted(ended, key=_event_order)

    def _perclos_value(self, now_s: float) -> float:
        observed = self._perclos.observed(now_s)
        return self._perclos.weighted(now_s) / observed if observed > 0.0 else 0.0

    def _active(self, now_s: float) -> frozenset[str]:
        cfg = self.config
        active: set[str] = set()
        if self._closed_start is not None:
            closed_s = now_s - self._closed_start
            if self._reached(closed_s, cfg.sleep_s):
                active.add(SLEEP)
            elif self._reached(closed_s, cfg.microsleep_min_s):
                active.add(MICROSLEEP)
        if self._off_start is not None and self._reached(now_s - self._off_start, cfg.long_distraction_s):
            active.add(LONG_DISTRACTION)
        if self._unresp_start is not None and self._reached(now_s - self._unresp_start, cfg.unresponsive_s):
            active.add(UNRESPONSIVE)
        if self._short_start is not None:
            active.add(SHORT_DISTRACTION)
        return frozenset(active)


def _event_order(event: DriverEvent) -> tuple[float, float, str]:
    return event.start_s, event.end_s, event.kind


def run_monitor(frames: Iterable[MonitorFrame], config: MonitorConfig | None = None) -> list[DriverEvent]:
    """Run a fresh :class:`DriverMonitor` over ``frames`` and return every event, ordered by start."""
    monitor = DriverMonitor(config)
    events: list[DriverEvent] = []
    for frame in frames:
        events.extend(monitor.update(frame).ended)
    events.extend(monitor.finish())
    return sorted(events, key=_event_order)
