"""A small model config and sensor-failure scenarios for the export tests."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from perception.config import Config, load_config
from sensors.frame import BevGrid, Frame

REPO = Path(__file__).resolve().parents[2]
#: Small, fast simulator settings.
SIM = {"image_size": [90, 160], "num_lidar_beams": 16, "lidar_azimuth_steps": 360, "sweeps_per_keyframe": 1,
       "cabin_size": [60, 80], "num_agents": 40}


def small_config() -> Config:
    """configs/tiny.yaml on a 25.6 m BEV square, two cameras, 64 x 128 images: every head, small tensors."""
    config = load_config(REPO / "configs" / "tiny.yaml")
    m = config.model
    grid = BevGrid(-25.6, 25.6, -25.6, 25.6, 0.8)
    heads = dataclasses.replace(m.heads, segmentation=dataclasses.replace(m.heads.segmentation, grid=grid))
    m = dataclasses.replace(
        m, cameras=("CAM_FRONT", "CAM_BACK"),
        image=dataclasses.replace(m.image, height=64, width=128, cabin_height=64, cabin_width=64),
        lidar=dataclasses.replace(m.lidar, point_range=(-25.6, -25.6, -5.0, 25.6, 25.6, 3.0), max_voxels=8000),
        bev=dataclasses.replace(m.bev, grid=grid), heads=heads,
    )
    data = dataclasses.replace(config.data, sim=dict(SIM), frames_per_scene=2, val_scenes=1)
    return dataclasses.replace(config, model=m, data=data)


#: The sensor scenarios of :func:`scenario`.
SCENARIOS = ("all", "missing_camera", "lidar_only", "camera_only")


def scenario(frame: Frame, name: str) -> Frame:
    """``frame`` with all sensors (``all``), the back camera missing (``missing_camera``), no street
    camera (``lidar_only``) or no LiDAR (``camera_only``)."""
    if name == "all":
        return frame
    if name == "missing_camera":
        return dataclasses.replace(frame, cameras={k: v for k, v in frame.cameras.items() if k != "CAM_BACK"})
    if name == "lidar_only":
        return dataclasses.replace(frame, cameras={})
    if name == "camera_only":
        return dataclasses.replace(frame, lidar=None)
    raise ValueError(f"unknown scenario {name!r}")
