"""Cameras fire at their own times: our reader projects LiDAR points where the devkit does.

The reference is the official devkit's ``NuScenesExplorer.map_pointcloud_to_image`` (LiDAR
sensor -> ego at the LiDAR time -> global -> ego at the camera time -> camera), run on datasets
where the car moves fast and turns while the six cameras fire 0-43 ms before the LiDAR. Our side
is the reader's ``Camera.cam_to_ego`` and intrinsics with :func:`sensors.projection.project_points`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sensors.frame import CAMERA_NAMES, Camera, Frame, Lidar
from sensors.geometry import make_transform, rotation_z, transform_from_quaternion
from sensors.nuscenes.reader import NuScenesDataset
from sensors.nuscenes.writer import write_nuscenes
from sensors.projection import project_points
from sensors.sim import SimConfig, simulate_drive
from sensors.sim.rig import NUSCENES_RIG, camera_to_ego, intrinsics, lidar_to_ego

nuscenes = pytest.importorskip("nuscenes")
from nuscenes.nuscenes import NuScenes, NuScenesExplorer

SCENE = "scene-0061"
T0 = 1_532_402_927_647_951
SIZE = (225, 400)
#: Camera trigger times relative to the LiDAR in the first sample of real nuScenes scene-0061 (us).
REAL_OFFSETS_US = {"CAM_FRONT_LEFT": -43107, "CAM_FRONT": -35491, "CAM_FRONT_RIGHT": -27612,
                   "CAM_BACK_RIGHT": -20058, "CAM_BACK": -10426, "CAM_BACK_LEFT": -528}
SPEED = 12.0  # m/s
YAW_RATE = 0.5  # rad/s: a 24 m radius turn
#: The devkit drops points nearer than this to the camera (metres) and within 1 px of the border.
MIN_DIST = 1.0


def turning_pose(t: float) -> np.ndarray:
    """Ego pose at t seconds: a left turn of radius SPEED / YAW_RATE at SPEED m/s."""
    radius = SPEED / YAW_RATE
    yaw = YAW_RATE * t
    return make_transform(rotation_z(yaw), [radius * np.sin(yaw), radius * (1.0 - np.cos(yaw)), 0.0])


def turning_frames() -> list[Frame]:
    """Two key frames of a fast turn with static points all around; cameras at the real offsets."""
    rng = np.random.default_rng(4)
    world = rng.uniform([-40.0, -40.0, 0.0], [40.0, 40.0, 4.0], size=(4000, 3))
    frames = []
    for i in range(2):
        stamp = T0 + 500_000 * i
        pose = turning_pose((stamp - T0) * 1e-6)
        local = (world - pose[:3, 3]) @ pose[:3, :3]
        points = np.column_stack([local, np.full(len(local), 50.0), np.zeros(len(local))]).astype(np.float32)
        cameras = {}
        for name in CAMERA_NAMES:
            x, y, z, yaw, focal, cx, cy = NUSCENES_RIG[name]
            cam_stamp = stamp + REAL_OFFSETS_US[name]
            cam_pose = turning_pose((cam_stamp - T0) * 1e-6)
            # the camera's pose in the ego frame at the LiDAR time, written out independently
            cam_to_ego = np.linalg.inv(pose) @ cam_pose @ camera_to_ego(x, y, z, yaw)
            cameras[name] = Camera(name, np.full((*SIZE, 3), 90, np.uint8), intrinsics(focal, cx, cy, SIZE),
                                   cam_to_ego, cam_stamp, ego_to_global=cam_pose)
        frames.append(Frame(f"turn-{i}", SCENE, stamp, pose, Lidar(points, lidar_to_ego(), stamp), cameras))
    return frames


def devkit_and_ours(root: Path) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per (sample, camera): devkit pixels (n, 2) and depths (n,), ours for the same points, and
    ours ignoring the timing (the camera's calibration alone), as (name, dk_uv, dk_depth, uv, uv_static)."""
    nusc = NuScenes(version="v1.0-mini", dataroot=str(root), verbose=False)
    explorer = NuScenesExplorer(nusc)
    frames = {f.token: f for f in NuScenesDataset(root, version="v1.0-mini")}
    out = []
    for sample in nusc.sample:
        frame = frames[sample["token"]]
        for name in CAMERA_NAMES:
            dk_points, dk_depth, _ = explorer.map_pointcloud_to_image(sample["data"]["LIDAR_TOP"], sample["data"][name],
                                                                      min_dist=MIN_DIST)
            camera = frame.cameras[name]
            uv, depth, _ = project_points(frame.lidar.points, camera)
            keep = ((depth > MIN_DIST) & (uv[:, 0] > 1) & (uv[:, 0] < camera.width - 1)
                    & (uv[:, 1] > 1) & (uv[:, 1] < camera.height - 1))
            cs = nusc.get("calibrated_sensor", nusc.get("sample_data", sample["data"][name])["calibrated_sensor_token"])
            static = Camera(name, camera.image, camera.intrinsics,
                            transform_from_quaternion(cs["rotation"], cs["translation"]), camera.timestamp)
            uv_static, _, _ = project_points(frame.lidar.points[keep], static)
            out.append((name, dk_points[:2].T, dk_depth, uv[keep], uv_static, depth[keep]))
    return out


def check_against_devkit(root: Path, min_median_shift_px: float) -> None:
    shifts = []
    for name, dk_uv, dk_depth, uv, uv_static, depth in devkit_and_ours(root):
        assert len(uv) == len(dk_uv) > 20, name
        np.testing.assert_allclose(uv, dk_uv, atol=0.01, rtol=0, err_msg=name)
        np.testing.assert_allclose(depth, dk_depth, atol=1e-4, rtol=0, err_msg=name)
        shifts.append(np.median(np.linalg.norm(uv_static - uv, axis=1)))
    # the rule matters here: placing the cameras with their calibration alone is visibly wrong
    assert max(shifts) > min_median_shift_px, shifts


def test_fast_turn_projects_like_the_devkit(tmp_path: Path) -> None:
    root = tmp_path / "nuscenes"
    write_nuscenes(turning_frames(), root)
    check_against_devkit(root, min_median_shift_px=5.0)


def test_camera_ego_poses_are_written_and_read_back(tmp_path: Path) -> None:
    frames = turning_frames()
    root = tmp_path / "nuscenes"
    write_nuscenes(frames, root)
    nusc = NuScenes(version="v1.0-mini", dataroot=str(root), verbose=False)
    read = NuScenesDataset(root, version="v1.0-mini")
    # one calibrated_sensor per channel although each camera's mounting went through two poses
    assert len(nusc.calibrated_sensor) == len(CAMERA_NAMES) + 1
    for original, loaded in zip(frames, read):
        sample = nusc.get("sample", loaded.token)
        for name, camera in original.cameras.items():
            record = nusc.get("sample_data", sample["data"][name])
            pose = nusc.get("ego_pose", record["ego_pose_token"])
            assert record["timestamp"] == pose["timestamp"] == camera.timestamp
            np.testing.assert_allclose(transform_from_quaternion(pose["rotation"], pose["translation"]),
                                       camera.ego_to_global, atol=1e-9)
            np.testing.assert_allclose(loaded.cameras[name].ego_to_global, camera.ego_to_global, atol=1e-9)
            np.testing.assert_allclose(loaded.cameras[name].cam_to_ego, camera.cam_to_ego, atol=1e-9)


def test_simulated_fast_drive_projects_like_the_devkit(tmp_path: Path) -> None:
    """The simulator's own nuScenes output: 12 m/s along the curving avenue, cameras at the real
    nuScenes trigger times, each with its own ego_pose record."""
    config = SimConfig(image_size=(225, 400), num_lidar_beams=16, lidar_azimuth_steps=720, sweeps_per_keyframe=1,
                       ego_speed=12.0, num_agents=20, enable_depth=False, enable_cabin=False)
    frames = list(simulate_drive(config, seed=2, num_frames=2, scene_name=SCENE))
    root = tmp_path / "nuscenes"
    write_nuscenes(frames, root)
    nusc = NuScenes(version="v1.0-mini", dataroot=str(root), verbose=False)
    for sample in nusc.sample:
        lidar = nusc.get("ego_pose", nusc.get("sample_data", sample["data"]["LIDAR_TOP"])["ego_pose_token"])
        poses = [nusc.get("ego_pose", nusc.get("sample_data", sample["data"][name])["ego_pose_token"])
                 for name in CAMERA_NAMES]
        assert len({p["timestamp"] for p in poses} | {lidar["timestamp"]}) == len(CAMERA_NAMES) + 1
        positions = np.array([p["translation"] for p in [*poses, lidar]])
        gaps = np.linalg.norm(positions[:, None] - positions[None], axis=-1)[np.triu_indices(len(positions), 1)]
        assert gaps.min() > 1e-3  # every camera and the LiDAR at a distinct place (>= 0.5 ms at 12 m/s)
    check_against_devkit(root, min_median_shift_px=2.0)
