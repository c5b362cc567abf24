"""``perception simulate`` argument handling and the plain (no dataset) run."""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pytest

from perception.cli_simulate import add_simulate_parser, run_simulate


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_simulate_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["simulate", *argv])


def test_simulate_writes_preview(tmp_path: Path):
    args = _parse(["--out", str(tmp_path), "--frames", "1", "--format", "none", "--preview", "--size", "90x160",
                   "--no-progress"])
    assert args.size == (90, 160)
    assert run_simulate(args) == 0
    image = cv2.imread(str(tmp_path / "preview.png"))
    assert image is not None and image.std() > 20


def test_bad_arguments():
    with pytest.raises(SystemExit):
        _parse(["--out", "x", "--size", "big"])
    with pytest.raises(ValueError, match="--frames"):
        run_simulate(_parse(["--out", "x", "--frames", "0"]))


def test_kitti_format_triggers_the_camera_with_the_lidar(tmp_path: Path):
    """KITTI's camera fires as the scanner faces forward: the written calibration is the static
    mounting of CAM_FRONT (a camera fired 35 ms earlier at 8.5 m/s would be about 0.3 m off)."""
    from sensors.kitti.calib import read_calib
    from sensors.sim.rig import NUSCENES_RIG, camera_to_ego

    assert run_simulate(_parse(["--out", str(tmp_path), "--frames", "1", "--format", "kitti", "--size", "90x160",
                                "--no-progress"])) == 0
    calib = read_calib(tmp_path / "training" / "calib" / "000000.txt")
    np.testing.assert_allclose(calib.camera_to_ego(2), camera_to_ego(*NUSCENES_RIG["CAM_FRONT"][:4]), atol=1e-9)
