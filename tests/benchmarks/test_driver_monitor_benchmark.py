"""Pure parts of benchmarks/driver_monitor.py: the warning delay and the table."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from evaluation.driver import DriverTimeline, Event, event_metrics

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_driver_monitor", ROOT / "benchmarks" / "driver_monitor.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _timeline(events, warnings) -> DriverTimeline:
    empty = {"predicted": np.zeros(1), "true": np.zeros(1)}
    return DriverTimeline(np.zeros(1), empty, empty, empty, empty, events, warnings)


def test_warning_delay_is_measured_within_the_true_event():
    timeline = _timeline(
        {"true": [Event("sleep", 10.0, 15.0), Event("sleep", 30.0, 34.0), Event("microsleep", 40.0, 41.5)],
         "predicted": []},
        {"true": [(13.0, "sleep"), (33.0, "sleep"), (41.0, "microsleep")],
         # 13.4: 0.4 s late; the second sleep fires only after its true event ended (not counted);
         # a microsleep warning outside every true microsleep is not counted either
         "predicted": [(13.4, "sleep"), (34.5, "sleep"), (45.0, "microsleep")]})
    delays = bench.warning_delays(timeline)
    assert delays["sleep"] == [pytest.approx(0.4)]
    assert delays["microsleep"] == [] and delays["long_distraction"] == []


def test_table_lists_every_kind_and_all():
    events = event_metrics([Event("sleep", 1.0, 5.0)], [Event("sleep", 1.2, 5.0), Event("microsleep", 8, 9.5)],
                           3600.0)
    text = bench.table(events, {"sleep": [0.2, 0.4, 0.9]}, 1.0)
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()[2:]}
    assert set(rows) == {"long_distraction", "short_distraction", "microsleep", "sleep", "unresponsive", "all"}
    sleep = [c.strip() for c in rows["sleep"].split("|")]
    assert sleep[3:6] == ["1", "1", "1.00"] and sleep[-3] == "-0.20" and sleep[-2] == "0.40"
    assert [c.strip() for c in rows["microsleep"].split("|")][5] == "0.00"
    assert math.isclose(float([c.strip() for c in rows["all"].split("|")][5]), 0.5)
