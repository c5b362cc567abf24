"""Fixtures of the evaluation tests: a tiny simulated validation set written as nuScenes."""
from __future__ import annotations

from pathlib import Path

import pytest
from eval_setup import SIM


@pytest.fixture(scope="session")
def nuscenes_root(tmp_path_factory) -> Path:
    """Two simulated key frames of the mini_val scene ``scene-0103`` written as a nuScenes v1.0-mini root,
    with the town as map expansion."""
    from sensors.nuscenes.writer import write_nuscenes
    from sensors.sim import SimConfig
    from sensors.sim.drive import drive_simulator
    from sensors.sim.town_map import town_map

    root = tmp_path_factory.mktemp("nusc") / "nuscenes"
    sim = drive_simulator(SimConfig(**SIM), seed=3, num_frames=2, scene_name="scene-0103")
    write_nuscenes([sim.keyframe(k) for k in range(2)], root, maps={"scene-0103": town_map(sim.town)})
    return root
