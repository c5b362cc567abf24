"""The small model config and simulator settings shared by the evaluation and export tests: the
tiny architecture on a 51.2 m BEV square, two cameras at 64 x 128 and a tiny simulated split."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from perception.config import Config, load_config
from sensors.frame import BevGrid

REPO = Path(__file__).resolve().parents[1]
#: Small, fast simulator settings (the scene content is the default one: all classes appear).
SIM = {"image_size": [90, 160], "num_lidar_beams": 16, "lidar_azimuth_steps": 360, "sweeps_per_keyframe": 1,
       "cabin_size": [60, 80], "num_agents": 40}


def tiny_config(frames_per_scene: int = 2, val_scenes: int = 1) -> Config:
    """configs/tiny.yaml on a 51.2 m BEV square (0.8 m cells, the map head on the same grid), two
    cameras, 64 x 128 images, 8000 pillars, and a simulated split of ``val_scenes`` drives of
    ``frames_per_scene`` frames with :data:`SIM`."""
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
    data = dataclasses.replace(config.data, sim=dict(SIM), frames_per_scene=frames_per_scene, val_scenes=val_scenes)
    return dataclasses.replace(config, model=m, data=data)
