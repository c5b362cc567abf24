"""Evaluation on a KITTI root: predictions exported as KITTI label files and scored with KITTI AP."""
from __future__ import annotations

import json

import numpy as np
import pytest
from eval_setup import SIM, tiny_config, write_checkpoint

from evaluation.kitti.evaluate import evaluate_kitti
from evaluation.kitti.labels import read_label_folder
from evaluation.segmentation import DEFAULT_THRESHOLDS
from perception.cli import main
from perception.data import frame_to_sample
from perception.inference.pipeline import kitti_prediction_objects
from perception.inference.records import ground_truth_prediction, make_record
from perception.inference.scoring import score_records
from perception.inference.sources import open_eval_source


@pytest.fixture(scope="module")
def kitti_root(tmp_path_factory):
    from sensors.kitti import write_kitti
    from sensors.sim import SimConfig, simulate_drive

    root = tmp_path_factory.mktemp("kitti") / "kitti"
    # KITTI ignores boxes lower than 25 px: images large enough for near objects to count.
    sim = SimConfig(**{**SIM, "image_size": (360, 640)})
    write_kitti(list(simulate_drive(sim, seed=3, num_frames=2)), root, split="val")
    return root


def test_ground_truth_as_prediction_scores_like_the_labels(kitti_root, tmp_path):
    config = tiny_config()
    source = open_eval_source(str(kitti_root), "val", config)
    assert source.kind == "kitti" and len(source.frames) == 2
    records, objects = [], {}
    for i in range(len(source.frames)):
        frame = source.frames[i]
        sample = frame_to_sample(frame, config.model)
        prediction = ground_truth_prediction(frame, sample, config.model.cameras)
        prediction.boxes = frame.annotations.boxes  # KITTI keeps every labelled box
        records.append(make_record(i, frame, sample, prediction, config.model.cameras, np.asarray(DEFAULT_THRESHOLDS)))
        objects[frame.token] = kitti_prediction_objects(source, frame, prediction.boxes)
    scores = score_records(records, [], tmp_path, segmentation_grid=config.model.heads.segmentation.grid, kind="kitti",
                           kitti_objects=objects, kitti_label_dir=source.dataset.base / "label_2")
    ap = scores.metrics["kitti"]["ap"]
    assert "nuscenes_detection" not in scores.metrics
    # The label files themselves used as detections score exactly the same (KITTI AP of a perfect
    # detector is below 100 when a class has fewer than 40 boxes: recall is sampled at 1/40 steps).
    _, labels = read_label_folder(source.dataset.base / "label_2", [f.token for f in source.frames])
    assert ap == evaluate_kitti(labels, labels).to_dict()["ap"]
    assert ap["3d"]["Pedestrian"]["moderate"]["R40"] > 0
    assert (tmp_path / "kitti_predictions" / f"{source.frames[0].token}.txt").is_file()


def test_model_on_kitti_root(kitti_root, tmp_path, capsys):
    checkpoint, config = write_checkpoint(tiny_config(), tmp_path)
    out = tmp_path / "eval"
    code = main(["evaluate", "--checkpoint", str(checkpoint), "--config", str(config), "--data", str(kitti_root),
                 "--split", "val", "--out", str(out), "--max-samples", "1", "--samples", "1"])
    assert code == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["kitti"]["ap"]) == {"bbox", "bev", "3d"} and m["meta"]["frames"] == 1
    assert "depth" in m and "latency" in m
    assert "## KITTI detection" in (out / "report.md").read_text()
    assert len(list((out / "kitti_predictions").glob("*.txt"))) == 1
