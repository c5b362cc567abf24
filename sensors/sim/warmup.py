"""Compile the simulator's Numba kernels once per process, one process at a time.

The kernels are cached on disk (``cache=True``). Numba's cache is not safe when several
processes compile the same functions at the same moment (numba/numba#4807: a cache written
concurrently can crash a later run), which is what parallel test workers or data-loader
processes do on a fresh checkout. :func:`warm_up` therefore compiles (or loads) every kernel
under an exclusive file lock before first use; the other processes wait, then load the cache.
"""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np

_state = {"ready": False}


def _lock_path() -> Path:
    tag = hashlib.md5(str(Path(__file__).resolve().parent).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"sensors-sim-numba-{tag}.lock"


def _exercise() -> None:
    """Run every kernel once on a tiny world, with the argument types of real use."""
    from sensors.sim.cameras import make_scene, render_view
    from sensors.sim.config import SimConfig
    from sensors.sim.lidar import beam_directions, lidar_sweep
    from sensors.sim.raycast import count_in_boxes
    from sensors.sim.rig import camera_to_ego
    from sensors.sim.shapes import PLAIN, Parts
    from sensors.sim.town import Town, ground_grid

    town = Town(np.array([[0.0, 1.0, 300.0, 0.0, 5.0, 1.0]]), np.array([50.0]), np.array([3.5]),
                np.array([[0.0, 1.0, 10.0, 30.0]]), Parts.empty(), 0, np.zeros((0, 4)))
    parts = Parts(np.array([[10.0, 0.0, 1.0]]), np.ones((1, 3)), np.zeros(1), np.full((1, 3), 100.0),
                  np.array([50.0]), np.array([PLAIN]), np.array([0]))
    ground_grid(town, np.zeros((2, 2)), np.ones((2, 2)))
    config = SimConfig(num_lidar_beams=2, lidar_azimuth_steps=8)
    lidar_sweep(config, town, parts, np.eye(4), np.random.default_rng(0), beam_directions(config))
    k = np.array([[8.0, 0.0, 8.0], [0.0, 8.0, 8.0], [0.0, 0.0, 1.0]])
    render_view(make_scene(town, parts, np.zeros(3)), camera_to_ego(0.0, 0.0, 1.5, 0.0), k, (16, 16))
    count_in_boxes(np.zeros((3, 3)), np.zeros((1, 3)), np.ones((1, 3)), np.ones(1), np.zeros(1))


def warm_up() -> None:
    """Make sure this process has every simulator kernel compiled (no-op after the first call)."""
    if _state["ready"]:
        return
    _state["ready"] = True  # the kernels' wrappers call warm_up() themselves
    try:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, compile directly
            _exercise()
            return
        with open(_lock_path(), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                _exercise()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    except BaseException:
        _state["ready"] = False
        raise
