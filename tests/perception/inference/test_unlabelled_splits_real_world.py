"""Splits without labels and frames without input, end to end (issue: real data and bad input, parts 2 and 6).

- KITTI ``--split test`` and nuScenes ``v1.0-test`` run inference and export (KITTI result files /
  ``results_nusc.json``) instead of scoring, and say so in one line;
- scoring a submission against an unlabelled split is a one-line user error;
- a frame with neither cameras nor LiDAR has no detections and no map, and is counted.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from eval_setup import SIM, tiny_config, write_checkpoint

from evaluation.nuscenes_det.boxes import DetectionBoxes, GroundTruth
from evaluation.nuscenes_det.evaluate import evaluate_detection
from perception.cli import main
from perception.config import build_sim_config
from perception.inference.pipeline import EvalOptions, evaluate_model
from perception.inference.sources import SIM as SIM_KIND
from perception.inference.sources import EvalSource, SimulatedDrives, sim_scene_names
from perception.model import FusionModel
from sensors.nuscenes.splits import SPLITS


def _unlabelled(frames):
    return [dataclasses.replace(f, annotations=None) for f in frames]


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    return write_checkpoint(tiny_config(), tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def kitti_test_root(tmp_path_factory):
    """Two simulated frames written as KITTI ``testing/`` (no label_2) with ``ImageSets/test.txt``, and one
    labelled training frame with the same id (which the test split must not read)."""
    from sensors.kitti import write_kitti
    from sensors.sim import SimConfig, simulate_drive

    root = tmp_path_factory.mktemp("kitti") / "kitti"
    frames = list(simulate_drive(SimConfig(**SIM), seed=5, num_frames=3))
    write_kitti(frames[:1], root, split="train")
    write_kitti(_unlabelled(frames[1:]), root, split="test", part="testing")
    return root


def test_kitti_test_split_exports_result_files_and_says_there_are_no_labels(kitti_test_root, model_files, tmp_path,
                                                                           capsys):
    checkpoint, config = model_files
    assert not (kitti_test_root / "testing" / "label_2").exists()
    out = tmp_path / "eval"
    code = main(["evaluate", "--checkpoint", str(checkpoint), "--config", str(config), "--data", str(kitti_test_root),
                 "--split", "test", "--out", str(out), "--samples", "0"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    notes = [line for line in printed.out.splitlines() if "no labels" in line]
    assert notes == [("kitti: no labels (unlabelled split): 2 predictions written to kitti_predictions/ as KITTI "
                      "result files for submission")]
    metrics = json.loads((out / "metrics.json").read_text())
    assert "kitti" not in metrics and "nuscenes_detection" not in metrics
    assert metrics["meta"]["frames"] == 2 and metrics["meta"]["split"] == "test"
    assert f"## Not scored\n\n- **kitti**: {notes[0][len('kitti: '):]}" in (out / "report.md").read_text()
    files = sorted((out / "kitti_predictions").glob("*.txt"))
    assert [f.name for f in files] == ["000000.txt", "000001.txt"]  # the testing ids
    for f in files:  # the official result format: 16 fields, score last in [0, 1]
        for line in f.read_text().splitlines():
            fields = line.split()
            assert len(fields) == 16 and 0.0 <= float(fields[15]) <= 1.0


@pytest.fixture(scope="module")
def nuscenes_test_root(tmp_path_factory):
    """Two simulated key frames of the test scene written as a ``v1.0-test`` root without annotations."""
    from sensors.nuscenes.writer import write_nuscenes
    from sensors.sim import SimConfig, simulate_drive

    root = tmp_path_factory.mktemp("nusc_test") / "nuscenes"
    frames = list(simulate_drive(SimConfig(**SIM), seed=3, num_frames=2, scene_name=SPLITS["test"][0]))
    write_nuscenes(_unlabelled(frames), root, version="v1.0-test")
    return root


def test_nuscenes_test_split_exports_the_submission(nuscenes_test_root, model_files, tmp_path, capsys):
    checkpoint, config = model_files
    out = tmp_path / "eval"
    code = main(["evaluate", "--checkpoint", str(checkpoint), "--config", str(config), "--data",
                 str(nuscenes_test_root), "--split", "test", "--out", str(out), "--samples", "0"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert [line for line in printed.out.splitlines() if line.startswith("nuscenes_detection:")] == [
        ("nuscenes_detection: no box annotations (unlabelled split): predictions of 2 samples written to "
         "results_nusc.json for submission")]
    metrics = json.loads((out / "metrics.json").read_text())
    assert "nuscenes_detection" not in metrics
    sample_tokens = {s["token"] for s in json.loads((nuscenes_test_root / "v1.0-test" / "sample.json").read_text())}
    assert set(json.loads((out / "results_nusc.json").read_text())["results"]) == sample_tokens


def test_scoring_a_submission_against_the_test_split_is_a_one_line_error(nuscenes_test_root, tmp_path, capsys):
    sample_tokens = [s["token"] for s in json.loads((nuscenes_test_root / "v1.0-test" / "sample.json").read_text())]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"meta": {}, "results": {t: [] for t in sample_tokens}}))
    code = main(["evaluate", "--predictions", str(path), "--data", str(nuscenes_test_root), "--split", "test",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "has no box annotations" in err
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_training_on_nuscenes_test_is_refused(nuscenes_test_root):
    from perception.train.data import build_train_dataset

    with pytest.raises(ValueError, match="split 'test' has no labels"):
        build_train_dataset(tiny_config(), str(nuscenes_test_root), split="test")


def test_evaluate_detection_refuses_ground_truth_without_boxes():
    gt = GroundTruth(["a"], np.zeros((1, 3)), DetectionBoxes.empty(), DetectionBoxes.empty())
    with pytest.raises(ValueError, match="ground truth holds no box"):
        evaluate_detection(gt, DetectionBoxes.empty())


def test_frame_without_cameras_and_lidar_is_counted_and_has_no_boxes(tmp_path, capsys):
    import torch

    from perception.cli_evaluate import notes

    config = tiny_config(frames_per_scene=2)
    heads = dataclasses.replace(config.model.heads, detection=dataclasses.replace(config.model.heads.detection,
                                                                                  score_threshold=0.0))
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, heads=heads))
    torch.manual_seed(0)
    model = FusionModel(config.model).eval()
    d = config.data
    drive = SimulatedDrives(build_sim_config(d), d.seed + d.train_scenes, sim_scene_names(1), 2)
    blind = dataclasses.replace(drive[1], lidar=None, cameras={})
    source = EvalSource(SIM_KIND, [drive[0], blind], None, "val")
    outcome = evaluate_model(model, config, source, EvalOptions(tmp_path / "eval", samples_to_draw=0,
                                                                cabin_seconds=0))
    assert outcome.metrics["meta"]["frames_without_bev_input"] == 1
    assert outcome.metrics["bev_segmentation"]["samples"] == 1  # the blind frame has no map prediction
    results = json.loads((tmp_path / "eval" / "results_nusc.json").read_text())["results"]
    assert results[blind.token] == [] and len(results[drive[0].token]) > 0  # every peak kept: boxes with input
    assert notes(outcome.metrics) == [("1 frame(s) had neither street cameras nor LiDAR: no detections and no map "
                                       "for them")]
