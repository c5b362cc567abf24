"""Driver-monitoring and latency metrics."""
from __future__ import annotations

import numpy as np
import pytest

from evaluation.driver import (
    Event,
    binary_metrics,
    confusion_matrix,
    event_metrics,
    frame_metrics,
    head_pose_mae,
)
from evaluation.latency import summarize_latency
from sensors.classes import GAZE_ZONES


def test_binary_metrics_hand_computed():
    m = binary_metrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert binary_metrics([0, 0], [0, 0])["f1"] == 0.0


def test_confusion_rows_are_ground_truth():
    c = confusion_matrix([0, 1, 1, 2], [0, 0, 1, 2], n_classes=3)
    assert c.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([len(GAZE_ZONES)], [0])


def test_head_pose_error_wraps_angles():
    m = head_pose_mae([[179.0, 10.0, 0.0]], [[-179.0, 0.0, -4.0]])
    assert m["yaw"] == pytest.approx(2.0) and m["pitch"] == pytest.approx(10.0) and m["roll"] == pytest.approx(4.0)


def test_frame_metrics_bundle():
    gaze = np.array([0, 0, 6, 7])
    m = frame_metrics(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), np.zeros(4), np.zeros(4), gaze, gaze,
                      np.zeros((4, 3)), np.zeros((4, 3)))
    assert m["gaze"]["accuracy"] == 1.0 and len(m["gaze"]["confusion"]) == len(GAZE_ZONES)
    assert m["eye_closed"]["precision"] == 0.5


def test_event_metrics_hand_computed():
    target = [("microsleep", 10.0, 11.0), ("microsleep", 50.0, 51.0), ("long_distraction", 100.0, 104.0)]
    predicted = [("microsleep", 10.4, 11.2), ("microsleep", 30.0, 31.0), ("long_distraction", 101.5, 103.0),
                 ("long_distraction", 100.5, 101.0)]
    m = event_metrics(predicted, target, duration_s=1800.0)
    assert m["microsleep"]["precision"] == 0.5 and m["microsleep"]["recall"] == 0.5
    assert m["microsleep"]["mean_delay_s"] == pytest.approx(0.4)
    assert m["microsleep"]["false_alerts_per_hour"] == pytest.approx(2.0)
    assert m["long_distraction"]["mean_delay_s"] == pytest.approx(0.5)  # the earliest overlapping alert
    assert m["all"]["recall"] == pytest.approx(2 / 3) and m["all"]["precision"] == pytest.approx(0.75)
    assert np.isnan(m["sleep"]["precision"]) and np.isnan(m["sleep"]["recall"])


def test_event_kinds_do_not_match_across():
    m = event_metrics([("sleep", 0.0, 5.0)], [("microsleep", 0.0, 1.0)], duration_s=3600.0)
    assert m["sleep"]["precision"] == 0.0 and m["microsleep"]["recall"] == 0.0
    assert m["all"]["false_alerts_per_hour"] == 1.0


def test_event_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown event kind"):
        Event("yawn", 0.0, 1.0)
    with pytest.raises(ValueError, match="start_s <= end_s"):
        Event("sleep", 2.0, 1.0)


def test_latency_median_and_p99():
    summary = summarize_latency({"backbone": np.arange(1, 101) / 1000.0})
    assert summary["backbone"]["median_ms"] == pytest.approx(50.5)
    assert summary["backbone"]["p99_ms"] == pytest.approx(99.01)
    assert summary["backbone"]["count"] == 100
    with pytest.raises(ValueError, match="no timings"):
        summarize_latency({"x": []})


def test_event_metrics_with_per_kind_durations():
    """Kinds observed over different spans: each kind's false alerts per its own duration, the
    all-kinds rate their sum, kinds without a duration not scored."""
    predicted = [("microsleep", 10.0, 11.0), ("long_distraction", 50.0, 55.0), ("long_distraction", 90.0, 95.0)]
    target = [("long_distraction", 49.0, 56.0)]
    m = event_metrics(predicted, target, {"microsleep": 1800.0, "long_distraction": 3600.0})
    assert set(m) == {"microsleep", "long_distraction", "all"}
    assert m["microsleep"]["false_alerts_per_hour"] == 2.0 and m["microsleep"]["duration_s"] == 1800.0
    assert m["long_distraction"]["false_alerts_per_hour"] == 1.0 and m["long_distraction"]["recall"] == 1.0
    assert m["all"]["false_alerts_per_hour"] == 3.0 and m["all"]["predicted"] == 3
    with pytest.raises(ValueError, match="unknown event kind"):
        event_metrics([], [], {"nap": 10.0})
