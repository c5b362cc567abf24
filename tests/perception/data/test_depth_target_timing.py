"""LiDAR depth targets of a camera that fired before the LiDAR agree with what the camera saw."""
from __future__ import annotations

import dataclasses

import numpy as np

from perception.data.transforms import depth_target
from sensors.geometry import sensor_to_reference_ego
from sensors.sim import SimConfig
from sensors.sim.drive import DriveSimulator

#: 12 m/s, noise-free LiDAR: the front cameras fire 28-43 ms (0.3-0.5 m) before the LiDAR.
CONFIG = SimConfig(image_size=(450, 800), num_lidar_beams=16, lidar_azimuth_steps=720, sweeps_per_keyframe=1,
                   ego_speed=12.0, lidar_range_noise=0.0, lidar_dropout=0.0, enable_cabin=False, num_agents=20)


def test_lidar_depth_targets_match_the_rendered_depth() -> None:
    frame = DriveSimulator(CONFIG, seed=3, duration=3.0, scene_name="scene-0061").keyframe(2)
    agree = {"cam_to_ego": [], "mounting alone": []}
    for name in ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"):
        camera = frame.cameras[name]
        mounting = sensor_to_reference_ego(camera.cam_to_ego, frame.ego_to_global, camera.ego_to_global)
        for key, pose in (("cam_to_ego", camera.cam_to_ego), ("mounting alone", mounting)):
            # no dense depth: the target is the LiDAR (LiDAR time) projected through the camera
            sparse = dataclasses.replace(camera, depth=None, cam_to_ego=pose)
            target = depth_target(sparse, None, frame.lidar.points, camera.intrinsics, camera.height, camera.width)
            known = target > 0
            assert known.sum() > 500
            agree[key].append(np.mean(np.abs(target[known] - camera.depth[known]) < 0.01 * target[known]))
    # the image's own depth (rendered at the camera's time) is where the targets say
    assert np.mean(agree["cam_to_ego"]) > 0.85, agree
    assert np.mean(agree["mounting alone"]) < np.mean(agree["cam_to_ego"]) - 0.1, agree
