"""Fixtures of the export tests: the pinned simulated frame of the shipped checkpoint."""
from __future__ import annotations

import pytest
from pins.shipped import load_frame

from sensors.frame import Frame


@pytest.fixture(scope="session")
def pinned_frame() -> Frame:
    """The stored simulated key frame of tests/pins (all six cameras, LiDAR, cabin)."""
    return load_frame()
