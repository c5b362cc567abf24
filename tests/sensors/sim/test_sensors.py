"""Physical consistency of the simulated sensors: LiDAR surfaces, box point counts, depth."""
from __future__ import annotations

import numpy as np

from sensors.projection import project_points
from sensors.sim import SimConfig, simulate_drive
from sensors.sim.drive import DriveSimulator


def test_lidar_point_count_and_ground(small_drive, small_config):
    rays = small_config.num_lidar_beams * small_config.lidar_azimuth_steps
    for frame in small_drive:
        pts = frame.lidar.points
        assert 0.4 * rays < len(pts) < (1 - small_config.lidar_dropout + 0.03) * rays
        assert np.linalg.norm(pts[:, :3] - [0.94, 0, 1.84], axis=1).max() < small_config.lidar_max_range + 0.2
        assert pts[:, 2].min() > -0.15  # nothing below the ground
        ground = np.abs(pts[:, 2]) < 0.1
        assert ground.mean() > 0.3
        for sweep in frame.sweeps:
            assert np.abs(sweep.points[:, 2]).min() < 0.05 and sweep.points[:, 2].min() > -0.15


def test_num_lidar_points_counts_points_in_boxes(small_drive):
    total = 0
    for frame in small_drive:
        boxes = frame.annotations.boxes
        expected = boxes.points_inside(frame.lidar.points).sum(axis=1)
        np.testing.assert_array_equal(boxes.num_lidar_points, expected)
        total += expected.sum()
    assert total > 50


def test_agent_returns_lie_on_their_boxes(small_config):
    sim = DriveSimulator(small_config, seed=5, duration=2.0, scene_name="s")
    points, owner, pose = sim.sweep(9)
    boxes = sim.boxes(9 / small_config.lidar_rate_hz, pose, points)
    on_agents = owner >= 0
    assert on_agents.sum() > 20
    grown = boxes.select(np.arange(len(boxes)))
    grown.size = grown.size + 0.15  # range noise
    inside_any = grown.points_inside(points[on_agents]).any(axis=0)
    assert inside_any.mean() > 0.99


def test_camera_depth_agrees_with_lidar():
    config = SimConfig(image_size=(180, 320), num_lidar_beams=16, lidar_azimuth_steps=540, sweeps_per_keyframe=0,
                       lidar_range_noise=0.0, enable_cabin=False)
    frame = next(simulate_drive(config, seed=2, num_frames=1))
    checked = 0
    for cam in frame.cameras.values():
        uv, z, valid = project_points(frame.lidar.points, cam)
        px = np.floor(uv[valid]).astype(int)
        rendered = cam.depth[px[:, 1], px[:, 0]]
        rel = np.abs(rendered - z[valid]) / z[valid]
        # The LiDAR sits above the cameras, so some points are hidden from a camera: compare the bulk.
        assert np.median(rel) < 0.02
        assert np.mean(rel < 0.05) > 0.75
        checked += valid.sum()
    assert checked > 1000


def test_depth_is_zero_only_for_sky(small_drive):
    cam = small_drive[0].cameras["CAM_FRONT"]
    sky = cam.depth == 0
    assert sky[: cam.height // 4].mean() > 0.2 and sky[-cam.height // 4:].mean() == 0.0
    assert cam.depth.max() < 1600


def test_full_size_keyframe():
    frame = next(simulate_drive(SimConfig(), seed=0, num_frames=1))
    assert frame.cameras["CAM_FRONT"].image.shape == (450, 800, 3)
    assert frame.cabin.image.shape == (240, 320, 3)
    assert 20_000 < len(frame.lidar.points) < 35_000
    assert len(frame.sweeps) == 9
    k = frame.cameras["CAM_FRONT"].intrinsics
    assert abs(k[0, 0] - 1266.4 / 2) < 1 and abs(np.degrees(2 * np.arctan(400 / k[0, 0])) - 64.6) < 1
