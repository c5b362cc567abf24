"""Simulated frames go through the data pipeline and the model with every task present."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from model_frames import frames_batch, small_config

from perception.config import ConfigError, DataConfig, build_sim_config
from perception.model import FusionModel

SMALL_SIM = {
    "image_size": [90, 160], "num_lidar_beams": 16, "lidar_azimuth_steps": 400, "sweeps_per_keyframe": 1,
    "cabin_size": [60, 80], "num_agents": 20, "bev_grid": {"xmin": -30.0, "xmax": 30.0, "ymin": -30.0, "ymax": 30.0},
}


def test_sim_config_from_data_section() -> None:
    sim = build_sim_config(DataConfig(sim=SMALL_SIM))
    assert sim.image_size == (90, 160) and sim.bev_grid.xmax == 30.0
    with pytest.raises(ConfigError, match="data.sim.fps: unknown key"):
        build_sim_config(DataConfig(sim={"fps": 10}))


@pytest.mark.slow
def test_simulated_frame_trains_every_task() -> None:
    from sensors.sim import simulate_drive

    config = small_config()
    model_cfg = dataclasses.replace(config.model, cameras=("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_BACK"))
    frames = list(simulate_drive(build_sim_config(DataConfig(sim=SMALL_SIM)), seed=0, num_frames=1))
    batch = frames_batch(frames, model_cfg)
    assert batch.has_boxes.all() and batch.has_bev_map.all() and batch.has_depth.all() and batch.has_driver.all()
    assert batch.bev_map[0, 0].any()  # some drivable area on the grid
    torch.manual_seed(0)
    model = FusionModel(model_cfg).eval()  # eval: no dropout, BN on running stats
    losses = model.losses(model(batch), batch)
    for name, loss in losses.items():
        assert loss.present.all() and torch.isfinite(loss.per_sample).all(), name
