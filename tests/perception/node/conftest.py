"""Fixtures of the ROS node tests: a small simulated drive written as a rosbag2, the shipped tiny
checkpoint, and what ``perception replay``'s loop predicts on that bag."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from node_setup import SIM, TINY


@pytest.fixture(scope="session")
def sim_bag(tmp_path_factory) -> Path:
    """Four keyframes (0.5 s apart) of a seeded simulated drive, as the simulator's rosbag2."""
    from sensors.ros.writer import write_rosbag2
    from sensors.sim import SimConfig, simulate_drive

    frames = list(simulate_drive(SimConfig(**SIM), seed=5, num_frames=4, scene_name="scene-node"))
    return write_rosbag2(frames, tmp_path_factory.mktemp("bags") / "drive")


@pytest.fixture(scope="session")
def tiny_model():
    """(model, config) of the shipped tiny checkpoint on the CPU."""
    from perception.model import load_model

    return load_model(TINY, None, torch.device("cpu"))


class _Capture:
    def __init__(self) -> None:
        self.items = []

    def write(self, frame, prediction) -> None:
        self.items.append((frame, prediction))


@pytest.fixture(scope="session")
def replayed(sim_bag, tiny_model):
    """[(frame, prediction)] of the replay loop (:func:`perception.replay.runner.replay`) on the bag."""
    from perception.replay.runner import replay
    from sensors.ros import open_recording

    capture = _Capture()
    replay(open_recording(sim_bag, profile="sim"), tiny_model[0], [capture], torch.device("cpu"), progress=False)
    return capture.items
