"""Fixtures of the export tests: the shipped checkpoint and frames derived from its pinned simulated frame."""
from __future__ import annotations

import dataclasses

import pytest

from pins.shipped import load_frame
from sensors.frame import Frame


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
    raise ValueError(name)


SCENARIOS = ("all", "missing_camera", "lidar_only", "camera_only")


@pytest.fixture(scope="session")
def pinned_frame() -> Frame:
    """The stored simulated key frame of tests/pins (all six cameras, LiDAR, cabin)."""
    return load_frame()
