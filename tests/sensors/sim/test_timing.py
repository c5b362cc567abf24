"""The simulator fires each sensor at its own time, as the real nuScenes car does."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sensors.frame import CAMERA_NAMES
from sensors.geometry import sensor_to_reference_ego
from sensors.projection import project_points
from sensors.sim import SimConfig
from sensors.sim.drive import DriveSimulator
from sensors.sim.rig import NUSCENES_RIG, cabin_camera, camera_to_ego

#: Camera trigger times relative to the LiDAR in the first sample of real nuScenes scene-0061 (us).
REAL_OFFSETS_US = {"CAM_FRONT_LEFT": -43107, "CAM_FRONT": -35491, "CAM_FRONT_RIGHT": -27612,
                   "CAM_BACK_RIGHT": -20058, "CAM_BACK": -10426, "CAM_BACK_LEFT": -528}
FAST = SimConfig(image_size=(90, 160), num_lidar_beams=8, lidar_azimuth_steps=360, cabin_size=(60, 80),
                 sweeps_per_keyframe=2, ego_speed=12.0, num_agents=20)


@pytest.fixture(scope="module")
def fast_frame():
    return DriveSimulator(FAST, seed=3, duration=3.0, scene_name="scene-0061").keyframe(2)


def _mounting(frame, camera):
    """The camera's calibration (ego frame at its own time), recovered from the frame."""
    return sensor_to_reference_ego(camera.cam_to_ego, frame.ego_to_global, camera.ego_to_global)


def test_camera_offsets_follow_the_lidar_beam(fast_frame):
    frame = fast_frame
    for name, camera in frame.cameras.items():
        axis = _mounting(frame, camera)[:3, 2]
        azimuth = np.degrees(np.arctan2(axis[1], axis[0]))
        # the beam turns clockwise at 20 rev/s and points along 106 deg at the LiDAR timestamp
        expected_s = -((azimuth - FAST.lidar_stamp_azimuth_deg) % 360.0) / 360.0 / FAST.lidar_rate_hz
        assert abs((camera.timestamp - frame.timestamp) - expected_s * 1e6) <= 1.0, name
        # ... which is how the real nuScenes rig fires (within 0.5 ms)
        assert abs((camera.timestamp - frame.timestamp) - REAL_OFFSETS_US[name]) < 500, name
    stamps = [frame.cameras[name].timestamp for name in CAMERA_NAMES]
    assert np.all(np.diff(stamps) > 0) and frame.timestamp - 50_000 < stamps[0] and stamps[-1] <= frame.timestamp
    # the free-running 30 Hz cabin camera: its latest frame before the LiDAR
    assert frame.cabin.timestamp <= frame.timestamp < frame.cabin.timestamp + 1e6 / FAST.cabin_rate_hz


def test_camera_poses_are_the_ego_poses_of_their_times(fast_frame):
    frame = fast_frame
    previous = frame.sweeps[-1]  # the sweep 50 ms before the key one
    span = frame.timestamp - previous.timestamp
    for name, camera in [*frame.cameras.items(), ("CAM_CABIN", frame.cabin)]:
        mounting = cabin_camera(FAST.cabin_size)[1] if name == "CAM_CABIN" else camera_to_ego(*NUSCENES_RIG[name][:4])
        np.testing.assert_allclose(_mounting(frame, camera), mounting, atol=1e-9, err_msg=name)
        # between the two sweep poses, where a linear interpolation in time puts it (smooth drive)
        w = (camera.timestamp - previous.timestamp) / span
        position = (1 - w) * previous.ego_to_global[:3, 3] + w * frame.ego_to_global[:3, 3]
        np.testing.assert_allclose(camera.ego_to_global[:3, 3], position, atol=2e-3, err_msg=name)
        # and really elsewhere: the car drives faster than 9 m/s
        moved = np.linalg.norm(camera.ego_to_global[:3, 3] - frame.ego_to_global[:3, 3])
        assert moved > 9.0 * (frame.timestamp - camera.timestamp) * 1e-6, name


def _bilinear(depth: np.ndarray, uv: np.ndarray) -> np.ndarray:
    x, y = uv[:, 0] - 0.5, uv[:, 1] - 0.5
    x0 = np.clip(np.floor(x).astype(int), 0, depth.shape[1] - 2)
    y0 = np.clip(np.floor(y).astype(int), 0, depth.shape[0] - 2)
    ax, ay = np.clip(x - x0, 0, 1), np.clip(y - y0, 0, 1)
    return (depth[y0, x0] * (1 - ax) * (1 - ay) + depth[y0, x0 + 1] * ax * (1 - ay)
            + depth[y0 + 1, x0] * (1 - ax) * ay + depth[y0 + 1, x0 + 1] * ax * ay)


def test_images_are_rendered_at_their_own_time():
    """LiDAR points (LiDAR time) projected with cam_to_ego land where the image (camera time) has
    the same depth; the cameras' calibration alone (timing ignored) agrees visibly less often."""
    config = dataclasses.replace(FAST, image_size=(450, 800), num_lidar_beams=16, lidar_azimuth_steps=720,
                                 lidar_range_noise=0.0, lidar_dropout=0.0, enable_cabin=False, sweeps_per_keyframe=1)
    frame = DriveSimulator(config, seed=3, duration=3.0, scene_name="scene-0061").keyframe(2)
    for name in ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"):
        camera = frame.cameras[name]
        static = dataclasses.replace(camera, cam_to_ego=_mounting(frame, camera))
        agree = []
        for cam in (camera, static):
            uv, depth, valid = project_points(frame.lidar.points, cam)
            rendered = _bilinear(cam.depth, uv[valid])
            agree.append(np.mean(np.abs(rendered - depth[valid]) < 0.002 * depth[valid]))
        assert agree[0] > 0.9, (name, agree)
        assert agree[1] < agree[0] - 0.1, (name, agree)


def test_kitti_trigger_fires_the_front_camera_with_the_lidar():
    config = dataclasses.replace(FAST, lidar_stamp_azimuth_deg=0.0, enable_cabin=False)
    frame = DriveSimulator(config, seed=3, duration=3.0, scene_name="scene-0061").keyframe(1)
    front = frame.cameras["CAM_FRONT"]
    assert front.timestamp == frame.timestamp
    np.testing.assert_allclose(front.cam_to_ego, camera_to_ego(*NUSCENES_RIG["CAM_FRONT"][:4]), atol=1e-12)
    assert frame.cameras["CAM_FRONT_LEFT"].timestamp < frame.timestamp
