"""Constants of the replay tests (imported by them and by conftest)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "perception" / "checkpoints" / "tiny.pt"
#: Small simulator settings: every frame has six cameras, LiDAR, the cabin and ground truth.
SIM = {"image_size": (90, 160), "num_lidar_beams": 16, "lidar_azimuth_steps": 360, "sweeps_per_keyframe": 1,
       "cabin_size": (60, 80), "num_agents": 40}
