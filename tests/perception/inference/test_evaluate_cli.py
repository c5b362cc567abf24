"""``perception evaluate`` end to end: a random tiny model on a tiny simulated drive, and a
submission file scored against a nuScenes root written from simulated frames."""
from __future__ import annotations

import json
import math

import pytest
from eval_setup import tiny_config, write_checkpoint

from evaluation.nuscenes_det.submission import boxes_to_entries, write_submission
from perception.cli import main
from sensors.dataset import open_dataset

REPORT_FILES = ("metrics.json", "report.md", "tp_errors.png", "pr_curves.png", "gaze_confusion.png",
                "depth_vs_distance.png", "samples/sample_000.png", "results_nusc.json")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def test_model_on_simulated_drive_writes_every_metric(tmp_path, capsys):
    checkpoint, config_file = write_checkpoint(tiny_config(frames_per_scene=2), tmp_path)
    out = tmp_path / "eval"
    code = main(["evaluate", "--config", str(config_file), "--checkpoint", str(checkpoint), "--data", "sim",
                 "--split", "val", "--out", str(out), "--cabin-seconds", "3", "--samples", "1"])
    assert code == 0, capsys.readouterr().err
    assert "NDS" in capsys.readouterr().out
    for name in REPORT_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    m = json.loads((out / "metrics.json").read_text())
    det = m["nuscenes_detection"]
    assert _finite(det["nd_score"]) and _finite(det["mean_ap"]) and all(_finite(v) for v in det["tp_errors"].values())
    assert _finite(m["bev_segmentation"]["miou"]) and m["bev_segmentation"]["samples"] == 2
    assert all(_finite(v) for v in m["depth"]["per_image"].values())
    frames = m["driver"]["frames"]
    assert frames["eye_closed"]["frames"] == 2 + 30  # drive cabin frames + 3 s of cabin stream at 10 Hz
    assert all(_finite(frames[k]["accuracy"]) for k in ("eye_closed", "phone", "gaze"))
    assert all(_finite(v) for v in frames["head_pose_mae_deg"].values())
    assert all(_finite(v["false_alerts_per_hour"]) for v in m["driver"]["events"].values())
    for stage in ("preprocessing", "image_encoder", "view_transform", "lidar_encoder", "fuser", "bev_backbone",
                  "head_detection", "head_segmentation", "head_depth", "model", "postprocessing", "total"):
        assert _finite(m["latency"][stage]["median_ms"]) and _finite(m["latency"][stage]["p99_ms"]), stage
        assert m["latency"][stage]["count"] == 2
    report = (out / "report.md").read_text()
    for section in ("## nuScenes detection", "## BEV segmentation", "## Depth", "## Driver monitoring", "## Latency",
                    "samples/sample_000.png"):
        assert section in report
    submission = json.loads((out / "results_nusc.json").read_text())
    assert len(submission["results"]) == 2


def test_predictions_file_scored_against_nuscenes_root(nuscenes_root, tmp_path, capsys):
    frames = list(open_dataset(nuscenes_root, split="mini_val"))
    results = {}
    for f in frames:
        boxes = f.annotations.boxes
        results[f.token] = boxes_to_entries(boxes.select(boxes.num_lidar_points > 0), f.ego_to_global, f.token)
    write_submission(tmp_path / "results.json", results)
    out = tmp_path / "eval"
    code = main(["evaluate", "--predictions", str(tmp_path / "results.json"), "--data", str(nuscenes_root),
                 "--split", "mini_val", "--out", str(out), "--samples", "1"])
    assert code == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    det = m["nuscenes_detection"]
    present = [c for c, n in det["counts"].items() if n["gt"] > 0]
    assert present and all(det["mean_dist_aps"][c] == pytest.approx(1.0) for c in present)
    assert all(det["label_tp_errors"][c]["trans_err"] == pytest.approx(0.0, abs=1e-6) for c in present)
    assert (out / "samples" / "sample_000.png").is_file() and (out / "pr_curves.png").is_file()


def test_dropped_cameras_leave_no_depth_to_score(tmp_path, capsys):
    checkpoint, config_file = write_checkpoint(tiny_config(frames_per_scene=1), tmp_path)
    out = tmp_path / "eval"
    code = main(["evaluate", "--config", str(config_file), "--checkpoint", str(checkpoint), "--data", "sim",
                 "--split", "val", "--out", str(out), "--cabin-seconds", "0", "--samples", "0", "--drop", "camera"])
    assert code == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    assert m.get("depth") is None  # no camera input: nothing to predict depth from
    assert _finite(m["nuscenes_detection"]["nd_score"]) and _finite(m["bev_segmentation"]["miou"])


def test_drop_with_a_predictions_file_is_a_one_line_error(tmp_path, capsys):
    code = main(["evaluate", "--predictions", str(tmp_path / "r.json"), "--data", "sim", "--out", str(tmp_path / "o"),
                 "--drop", "lidar"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--drop" in err


def test_model_on_nuscenes_root(nuscenes_root, tmp_path, capsys):
    """``perception evaluate --checkpoint --data <nuScenes root>``: the official ground-truth loader
    scores the model's submission of every sample of the split."""
    checkpoint, _ = write_checkpoint(tiny_config(), tmp_path)
    out = tmp_path / "eval"
    code = main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(nuscenes_root), "--split", "mini_val",
                 "--out", str(out), "--samples", "0"])
    assert code == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    tokens = [f.token for f in open_dataset(nuscenes_root, split="mini_val")]
    assert m["meta"]["frames"] == len(tokens) and m["meta"]["data"] == str(nuscenes_root)
    assert sorted(json.loads((out / "results_nusc.json").read_text())["results"]) == sorted(tokens)
    assert _finite(m["nuscenes_detection"]["nd_score"]) and _finite(m["bev_segmentation"]["miou"])
