"""A tiny model config and simulator settings for the evaluation tests (imported by them and by conftest)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from perception.checkpoint import save_checkpoint
from perception.config import Config, config_to_dict, load_config, save_config
from perception.model import FusionModel
from sensors.frame import BevGrid

REPO = Path(__file__).resolve().parents[3]
#: Small, fast simulator settings (the scene content is the default one: all classes appear).
SIM = {"image_size": [90, 160], "num_lidar_beams": 16, "lidar_azimuth_steps": 360, "sweeps_per_keyframe": 1,
       "cabin_size": [60, 80], "num_agents": 40}


def tiny_config(frames_per_scene: int = 2, val_scenes: int = 1) -> Config:
    """configs/tiny.yaml on a 51.2 m BEV square, two cameras, small images, a tiny simulated val set."""
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


def write_checkpoint(config: Config, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """A randomly initialised model of ``config`` saved as (checkpoint, config YAML)."""
    torch.manual_seed(seed)
    model = FusionModel(config.model)
    checkpoint = save_checkpoint({"config": config_to_dict(config), "model": model.state_dict()}, folder / "ckpt.pt")
    return checkpoint, save_config(config, folder / "config.yaml")
