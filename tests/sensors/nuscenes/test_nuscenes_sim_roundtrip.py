"""A simulated drive written in the nuScenes layout reads back equal (boxes, points, calibration, poses)."""
from __future__ import annotations

import numpy as np
import pytest

from sensors.geometry import invert_transform, transform_points, wrap_angle
from sensors.nuscenes.reader import NuScenesDataset
from sensors.nuscenes.tokens import instance_token
from sensors.nuscenes.writer import write_nuscenes
from sensors.sim import SimConfig, simulate_drive

SIM = SimConfig(image_size=(90, 160), num_lidar_beams=8, lidar_azimuth_steps=360, sweeps_per_keyframe=3,
                cabin_size=(48, 64), num_agents=30)


@pytest.fixture(scope="module")
def drive(tmp_path_factory) -> tuple[list, list, list]:
    frames = list(simulate_drive(SIM, seed=5, num_frames=3, scene_name="scene-0103"))
    root = tmp_path_factory.mktemp("sim_nusc") / "nuscenes"
    write_nuscenes(frames, root)
    return frames, list(NuScenesDataset(root, split="mini_val")), list(NuScenesDataset(root, split="mini_val", sweeps=3))


def test_poses_calibration_and_points(drive):
    frames, read, _ = drive
    assert [f.token for f in read] == [f.token for f in frames]
    for original, loaded in zip(frames, read):
        assert loaded.timestamp == original.timestamp
        np.testing.assert_allclose(loaded.ego_to_global, original.ego_to_global, atol=1e-6)
        np.testing.assert_allclose(loaded.lidar.points[:, :4], original.lidar.points[:, :4], atol=1e-4)
        assert set(loaded.cameras) == set(original.cameras)
        for name, camera in original.cameras.items():
            np.testing.assert_allclose(loaded.cameras[name].intrinsics, camera.intrinsics, atol=1e-9)
            np.testing.assert_allclose(loaded.cameras[name].cam_to_ego, camera.cam_to_ego, atol=1e-6)
            # JPEG is lossy: compare the mean absolute difference; depth to the 1/256 m of its
            # 16-bit PNG, whose range ends at 256 m (farther depth is stored as 0, unknown)
            assert np.abs(loaded.cameras[name].image.astype(int) - camera.image.astype(int)).mean() < 4.0
            storable = camera.depth < 255.0
            np.testing.assert_allclose(loaded.cameras[name].depth[storable], camera.depth[storable], atol=1 / 256 + 1e-6)
            assert np.all(loaded.cameras[name].depth[~storable] == 0)


def test_boxes_round_trip(drive):
    frames, read, _ = drive
    for original, loaded in zip(frames, read):
        gt, back = original.annotations.boxes, loaded.annotations.boxes
        assert len(back) == len(gt) > 0
        order = {t: i for i, t in enumerate(back.token)}
        index = np.array([order[instance_token(original.scene, t)] for t in gt.token])
        back = back.select(index)
        np.testing.assert_allclose(back.center, gt.center, atol=1e-6)
        np.testing.assert_allclose(back.size, gt.size, atol=1e-6)
        np.testing.assert_allclose(wrap_angle(back.yaw - gt.yaw), 0.0, atol=1e-6)
        np.testing.assert_array_equal(back.label, gt.label)
        np.testing.assert_array_equal(back.attribute, gt.attribute)
        np.testing.assert_array_equal(back.num_lidar_points, gt.num_lidar_points)
        # the reader derives velocity from neighbouring annotations like the devkit: a centre
        # difference over 0.5-1 s, equal to the simulated velocity for agents moving straight
        known = np.all(np.isfinite(back.velocity), axis=1)
        assert known.any()
        error = np.linalg.norm(back.velocity[known] - gt.velocity[known], axis=1)
        assert np.median(error) < 0.05


def test_driver_extras_and_no_map_without_expansion(drive):
    frames, read, _ = drive
    for original, loaded in zip(frames, read):
        assert loaded.annotations.driver == original.annotations.driver
        assert loaded.annotations.bev_map is None  # written without maps (tests/sensors/nuscenes/test_nuscenes_map.py)
        assert loaded.cabin is not None and loaded.cabin.image.shape == original.cabin.image.shape


def test_multisweep_aggregation(drive):
    frames, _, multi = drive
    last = multi[-1]
    offsets = np.unique(np.round(last.lidar.points[:, 4], 3))
    # key sweep (0 s) and the two previous 20 Hz sweeps (-0.05 s, -0.1 s)
    np.testing.assert_allclose(offsets, [-0.1, -0.05, 0.0], atol=1e-3)
    key = last.lidar.points[last.lidar.points[:, 4] == 0]
    np.testing.assert_allclose(key[:, :3], frames[-1].lidar.points[:, :3], atol=1e-4)
    # ego-motion compensation: each earlier sweep lands where its own pose puts it in the key ego frame
    key_from_global = invert_transform(frames[-1].ego_to_global)
    for sweep in frames[-1].sweeps:
        offset = (sweep.timestamp - frames[-1].timestamp) * 1e-6
        got = last.lidar.points[np.isclose(last.lidar.points[:, 4], offset, atol=1e-4)]
        expected = transform_points(key_from_global @ sweep.ego_to_global, sweep.points)
        assert len(got) == len(expected) > 0
        np.testing.assert_allclose(got[:, :3], expected[:, :3], atol=1e-3)
