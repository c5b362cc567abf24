"""Report writing: metrics.json, report.md tables and plots."""
from __future__ import annotations

import json

import numpy as np
from nuscenes_eval_db import jittered_predictions, make_database, val_sample_tokens
from PIL import Image

from evaluation.depth import DepthMetric
from evaluation.driver import event_metrics, frame_metrics
from evaluation.kitti.evaluate import evaluate_kitti
from evaluation.kitti.labels import KittiLabels
from evaluation.latency import summarize_latency
from evaluation.nuscenes_det.evaluate import evaluate_detection
from evaluation.nuscenes_det.ground_truth import load_ground_truth
from evaluation.nuscenes_det.submission import parse_submission
from evaluation.report import PlotInputs, write_report
from evaluation.segmentation import BevSegmentationMetric


def _all_metrics(tmp_path):
    anns = make_database(tmp_path / "nusc", samples_per_scene=4, instances_per_scene=20, seed=1)
    tokens = val_sample_tokens(tmp_path / "nusc")
    gt = load_ground_truth(tmp_path / "nusc", "v1.0-mini", "mini_val")
    predictions, _ = parse_submission({"meta": {}, "results": jittered_predictions(anns, tokens, seed=2)}, tokens)
    detection = evaluate_detection(gt, predictions)
    seg = BevSegmentationMetric()
    rng = np.random.default_rng(0)
    target = rng.random((6, 20, 20)) < 0.3
    seg.update(np.clip(target + rng.normal(0, 0.3, target.shape), 0, 1), target)
    depth = DepthMetric()
    gt_depth = rng.uniform(1, 90, (30, 40))
    depth.update(gt_depth * rng.uniform(0.9, 1.1, gt_depth.shape), gt_depth)
    gaze = rng.integers(0, 8, 200)
    kitti_row = ["Car", "0", "0", "0", "100", "100", "200", "200", "1.5", "1.6", "4", "2", "1.5", "20", "0.3"]
    kitti_gt = KittiLabels.from_rows([kitti_row])
    kitti = evaluate_kitti([kitti_gt], [KittiLabels.from_rows([kitti_row + ["0.9"]])])
    metrics = {
        "nuscenes_detection": detection.to_dict(),
        "kitti": kitti.to_dict(),
        "bev_segmentation": seg.result().to_dict(),
        "depth": depth.result(),
        "driver": {
            "frames": frame_metrics(rng.random(200) < 0.2, rng.random(200) < 0.2, rng.random(200) < 0.1,
                                    rng.random(200) < 0.1, np.where(rng.random(200) < 0.8, gaze, 0), gaze,
                                    rng.normal(0, 5, (200, 3)), np.zeros((200, 3))),
            "events": event_metrics([("microsleep", 1.0, 2.0)], [("microsleep", 1.2, 2.5)], duration_s=600.0),
        },
        "latency": summarize_latency({"backbone": [0.010, 0.012, 0.011], "head": [0.002, 0.003, 0.002]}),
        "run": {"checkpoint": "tiny.pt"},
    }
    return metrics, detection


def test_write_report_files_tables_and_plots(tmp_path):
    metrics, detection = _all_metrics(tmp_path)
    out = tmp_path / "report"
    written = write_report(metrics, out, PlotInputs(detection=detection))
    assert set(written) == {"metrics.json", "report.md", "tp_errors.png", "pr_curves.png", "depth_vs_distance.png",
                            "gaze_confusion.png"}
    loaded = json.loads((out / "metrics.json").read_text())  # strict JSON: NaN written as null
    assert loaded["nuscenes_detection"]["nd_score"] == detection.nd_score
    assert loaded["nuscenes_detection"]["label_tp_errors"]["traffic_cone"]["orient_err"] is None
    report = (out / "report.md").read_text()
    assert f"**NDS {detection.nd_score:.4f}**" in report
    assert "| car |" in report and "| barrier |" in report
    assert "## KITTI detection" in report and "## BEV segmentation" in report and "## Latency" in report
    assert "**AOS**" in report and abs(loaded["kitti"]["aos"]["Car"]["easy"]["R11"] - 100 / 11) < 1e-9
    assert "| backbone | 3 | 11.000 |" in report
    assert '"checkpoint": "tiny.pt"' in report
    assert "![Precision-recall curves](pr_curves.png)" in report
    for name in ("tp_errors.png", "pr_curves.png", "depth_vs_distance.png", "gaze_confusion.png"):
        image = np.asarray(Image.open(out / name).convert("L"))
        assert image.shape[0] > 200 and image.std() > 5  # a real picture, not a blank canvas
    assert not list(out.glob(".*.tmp*"))  # no temp file of sensors.atomic left


def test_report_without_plot_inputs_skips_pr_curves(tmp_path):
    metrics = {"latency": summarize_latency({"total": [0.1]})}
    written = write_report(metrics, tmp_path)
    assert set(written) == {"metrics.json", "report.md"}
