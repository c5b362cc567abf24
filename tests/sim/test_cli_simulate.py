"""``perception simulate`` argument handling and the plain (no dataset) run."""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
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
