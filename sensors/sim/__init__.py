"""Deterministic drive simulator: a procedural town, traffic, LiDAR, six cameras, the cabin
camera and ground truth for every task (see docs/simulator.md)."""
from sensors.sim.config import SimConfig
from sensors.sim.drive import simulate_cabin_sequence, simulate_drive
from sensors.sim.preview import render_preview

__all__ = ["SimConfig", "render_preview", "simulate_cabin_sequence", "simulate_drive"]
