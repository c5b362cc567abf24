"""Shared small simulated drives (small images and few beams keep the suite fast)."""
from __future__ import annotations

import pytest

from sensors.sim import SimConfig, simulate_drive

SMALL = SimConfig(image_size=(90, 160), num_lidar_beams=8, lidar_azimuth_steps=360, cabin_size=(60, 80),
                  sweeps_per_keyframe=3)


@pytest.fixture(scope="session")
def small_config() -> SimConfig:
    """The small configuration of :func:`small_drive`."""
    return SMALL


@pytest.fixture(scope="session")
def small_drive():
    """Six keyframes (3 s) of seed 3 at small sizes."""
    return list(simulate_drive(SMALL, seed=3, num_frames=6, scene_name="scene-0061"))
