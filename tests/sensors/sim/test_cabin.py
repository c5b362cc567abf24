"""Driver behaviour and cabin rendering: label consistency and learnability."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sensors.classes import EYE_STATES, GAZE_ZONES
from sensors.sim import render_preview, simulate_cabin_sequence
from sensors.sim.driver import DriverState
from sensors.sim.face import render_cabin


def test_labels_consistent_and_behaviour_varied():
    frames = list(simulate_cabin_sequence(seed=7, duration_s=120.0, fps=5.0, size=(60, 80)))
    assert len(frames) == 600
    labels = [lab for _, lab in frames]
    closed = EYE_STATES.index("closed")
    for lab in labels:
        assert (lab.eye_state == closed) == (lab.eye_openness <= 0.2)
        assert (lab.gaze_zone == GAZE_ZONES.index("eyes_closed")) == (lab.eye_state == closed)
    zones = {lab.gaze_zone for lab in labels}
    assert len(zones) >= 5
    assert any(lab.phone for lab in labels) and not all(lab.phone for lab in labels)
    assert 0.01 < np.mean([lab.eye_state == closed for lab in labels]) < 0.5
    stamps = [cam.timestamp for cam, _ in frames]
    assert np.all(np.diff(stamps) == 200_000)


def test_cabin_stream_matches_drive_cabin(small_drive):
    frame = small_drive[1]  # LiDAR at t = 0.95 s; the 30 Hz cabin camera's latest frame is 28 / 30 s
    stream = list(simulate_cabin_sequence(seed=3, duration_s=1.0, fps=30.0, size=(60, 80)))
    cam, lab = stream[28]
    assert cam.timestamp == frame.cabin.timestamp == frame.timestamp - 16_667
    np.testing.assert_array_equal(cam.image, frame.cabin.image)
    assert lab == frame.annotations.driver


def _render(openness, yaw, pitch, eye_dx, eye_dy, zone="road"):
    state = DriverState(openness, zone, yaw, pitch, 0.0, eye_dx, eye_dy, None, "attentive")
    return render_cabin(state, (240, 320), np.random.default_rng(0))[:, :, 0].astype(int)


def _pupil_x(yaw, pitch, eye_dx, eye_dy):
    """Mean image column (fraction of the width) of the iris pixels: much darker with the eyes
    open than closed in the same pose."""
    iris = (_render(0.05, yaw, pitch, eye_dx, eye_dy) - _render(0.9, yaw, pitch, eye_dx, eye_dy)) > 90
    assert iris.sum() > 10
    return np.nonzero(iris)[1].mean() / iris.shape[1]


def test_gaze_zones_look_different():
    road = _pupil_x(0, 0, 0, 0)
    # The driver's left is the image right: pupils move right when looking at the left mirror.
    assert _pupil_x(42, -3, 0.65, 0.1) > road + 0.04
    assert _pupil_x(-38, -5, -0.75, 0.1) < road - 0.04
    open_eyes, closed = _render(0.9, 0, 0, 0, 0), _render(0.05, 0, 0, 0, 0)
    assert np.abs(open_eyes - closed).mean() > 0.3
    down = _render(0.9, 0, -38, 0, 0.9)
    assert np.abs(down - open_eyes).mean() > 2.0


def test_preview_written(small_drive, tmp_path: Path):
    path = tmp_path / "sub" / "preview.png"
    render_preview(small_drive[2], path)
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] > 500 and image.shape[1] > 1500
    assert image.std() > 20
    assert [p.name for p in path.parent.iterdir()] == ["preview.png"]  # no temp file left


def test_preview_of_a_frame_without_cameras(tmp_path: Path):
    from sensors.sim import SimConfig, simulate_drive

    config = SimConfig(num_lidar_beams=8, lidar_azimuth_steps=180, sweeps_per_keyframe=0, enable_cameras=False,
                       enable_depth=False, enable_cabin=False)
    frame = next(simulate_drive(config, seed=1, num_frames=1))
    render_preview(frame, tmp_path / "p.png")
    image = cv2.imread(str(tmp_path / "p.png"))
    assert image is not None and image[:, -450:].std() > 10  # the BEV panel has content
