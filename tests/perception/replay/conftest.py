"""Fixtures of the replay tests: a few small simulated frames, the shipped tiny checkpoint, and a
reader of Foxglove MCAP files that decodes messages with protobuf from the schemas in the file."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from replay_setup import SIM, TINY


@pytest.fixture(scope="session")
def sim_frames():
    """Three keyframes (0.5 s apart) of a seeded simulated drive."""
    from sensors.sim import SimConfig, simulate_drive

    return list(simulate_drive(SimConfig(**SIM), seed=3, num_frames=3, scene_name="scene-0103"))


@pytest.fixture(scope="session")
def tiny_model():
    """(model, config) of the shipped tiny checkpoint on the CPU."""
    from perception.model import load_model

    return load_model(TINY, None, torch.device("cpu"))


@pytest.fixture(scope="session")
def sim_bag(sim_frames, tmp_path_factory) -> Path:
    """The simulated frames written as a rosbag2 (MCAP storage) by the simulator's bag writer."""
    from sensors.ros.writer import write_rosbag2

    return write_rosbag2(sim_frames, tmp_path_factory.mktemp("bags") / "drive")
