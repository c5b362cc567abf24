"""``perception train``: one-line user errors, and a short real run of the fusion model with resume."""
from __future__ import annotations

import argparse
import csv

import pytest
import torch

from perception.cli_train import add_train_parser, run_train

TINY = """
model:
  cameras: [CAM_FRONT, CAM_BACK]
  image: {fpn_channels: 16, height: 64, width: 176, cabin_height: 48, cabin_width: 64}
  view_transform: {depth_bins: 8, channels: 8}
  lidar: {voxel_size: [0.8, 0.8, 8.0], point_range: [-25.6, -25.6, -5.0, 25.6, 25.6, 3.0], max_points: 8,
          max_voxels: 4000, channels: 8}
  bev:
    grid: {xmin: -25.6, xmax: 25.6, ymin: -25.6, ymax: 25.6, resolution: 1.6}
    fuser_channels: 8
    layers: [1, 1]
    channels: [8, 16]
    strides: [1, 2]
    neck_channels: 8
  heads:
    detection: {channels: 8}
    segmentation: {channels: 8, grid: {xmin: -25.6, xmax: 25.6, ymin: -25.6, ymax: 25.6, resolution: 1.6}}
    depth: {channels: 8}
    driver: {hidden: 16}
data:
  dataset: sim
  sim: {image_size: [90, 160], num_lidar_beams: 8, lidar_azimuth_steps: 256, cabin_size: [48, 64],
        sweeps_per_keyframe: 1}
  train_scenes: 1
  frames_per_scene: 2
train: {batch_size: 2, steps: 2, warmup_steps: 1, checkpoint_every: 1, log_every: 1, amp: false}
"""


def train(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers(dest="command"))
    return run_train(parser.parse_args(["train", "--no-progress", *argv]))


@pytest.fixture()
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def one_line_error(capsys, *fragments: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("perception train: error:"), err
    for fragment in fragments:
        assert fragment in err, err


def test_missing_config_file(tmp_path, capsys):
    assert train("--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "run")) == 2
    one_line_error(capsys, "nope.yaml", "does not exist")


def test_unknown_yaml_key(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  stepz: 3\n")
    assert train("--config", str(path), "--out", str(tmp_path / "run")) == 2
    one_line_error(capsys, "bad.yaml", "stepz")


def test_missing_data_path(tiny_config, tmp_path, capsys):
    assert train("--config", str(tiny_config), "--out", str(tmp_path / "run"), "--data", str(tmp_path / "nuscenes")) == 2
    one_line_error(capsys, "nuscenes", "does not exist")


def test_unknown_strategy(tiny_config, tmp_path, capsys):
    assert train("--config", str(tiny_config), "--out", str(tmp_path / "run"), "--data", "sim",
                 "--strategy", "magic", "--cache-dir", str(tmp_path / "cache"), "--steps", "1") == 2
    one_line_error(capsys, "magic")


def test_resume_without_checkpoint(tiny_config, tmp_path, capsys):
    assert train("--config", str(tiny_config), "--out", str(tmp_path / "run"), "--resume") == 2
    one_line_error(capsys, "nothing to resume")


@pytest.mark.slow  # about 40 s of simulator start-up (numba compilation) before two quick steps
def test_fusion_model_trains_and_resumes(tiny_config, tmp_path, capsys):
    out = tmp_path / "run"
    common = ("--config", str(tiny_config), "--out", str(out), "--cache-dir", str(tmp_path / "cache"))
    assert train(*common, "--strategy", "pcgrad") == 0
    assert "trained 2 steps (0 skipped)" in capsys.readouterr().out
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 2 and state["strategy_name"] == "PCGradStrategy"
    assert (out / "config.yaml").is_file()

    assert train(*common, "--strategy", "pcgrad") == 2  # the run exists: refuse to overwrite it
    one_line_error(capsys, "--resume")

    assert train(*common, "--strategy", "pcgrad", "--resume", "--steps", "3") == 0
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["step"] == 3
    rows = list(csv.DictReader((out / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert all(float(r["loss/detection"]) > 0 and r["cos/detection/segmentation"] != "" for r in rows)

    assert train(*common, "--strategy", "equal", "--resume", "--steps", "4") == 2  # other strategy
    one_line_error(capsys, "strategy PCGradStrategy")


def test_init_and_resume_exclude_each_other(tiny_config, tmp_path, capsys):
    assert train("--config", str(tiny_config), "--out", str(tmp_path / "run"), "--resume",
                 "--init", str(tmp_path / "a.pt")) == 2
    one_line_error(capsys, "--init and --resume")


def test_init_from_missing_checkpoint(tiny_config, tmp_path, capsys):
    assert train("--config", str(tiny_config), "--out", str(tmp_path / "run"), "--init", str(tmp_path / "a.pt")) == 2
    one_line_error(capsys, "a.pt", "does not exist")


def test_non_positive_learning_rate(tiny_config, tmp_path, capsys):
    assert train("--config", str(tiny_config), "--out", str(tmp_path / "run"), "--lr", "0") == 2
    one_line_error(capsys, "--lr must be > 0")
