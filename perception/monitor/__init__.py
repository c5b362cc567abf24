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
    "EVENT_KINDS",
    "LONG_DISTRACTION",
    "MICROSLEEP",
    "SHORT_DISTRACTION",
    "SLEEP",
    "UNRESPONSIVE",
    "DriverEvent",
    "DriverMonitor",
    "MonitorConfig",
    "MonitorFrame",
    "MonitorState",
    "run_monitor",
]
