"""Temporal driver monitor: per-frame driver observations -> PERCLOS and driver-state events."""
from perception.monitor.config import MonitorConfig
from perception.monitor.monitor import DriverMonitor, run_monitor
from perception.monitor.types import (
    EVENT_KINDS,
    LONG_DISTRACTION,
    MICROSLEEP,
    SHORT_DISTRACTION,
    SLEEP,
    UNRESPONSIVE,
    DriverEvent,
    MonitorFrame,
    MonitorState,
)

__all__ = [
    "DriverEvent", "DriverMonitor", "EVENT_KINDS", "LONG_DISTRACTION", "MICROSLEEP",
    "MonitorConfig", "MonitorFrame", "MonitorState", "SHORT_DISTRACTION", "SLEEP",
    "UNRESPONSIVE", "run_monitor",
]
