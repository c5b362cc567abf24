"""Fixtures of the nuScenes tests: hand-built frames (nuscenes_frames.py) and their nuScenes copy."""
from __future__ import annotations

from pathlib import Path

import pytest
from nuscenes_frames import make_frames

from sensors.frame import Frame
from sensors.nuscenes.writer import write_nuscenes


@pytest.fixture(scope="session")
def frames() -> list[Frame]:
    return make_frames()


@pytest.fixture(scope="session")
def nuscenes_root(tmp_path_factory: pytest.TempPathFactory, frames: list[Frame]) -> Path:
    root = tmp_path_factory.mktemp("nuscenes") / "data"
    write_nuscenes(frames, root)
    return root
