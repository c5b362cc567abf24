"""``perception evaluate`` on a nuScenes root in the real layout (no depth or driver extras, a map
expansion): detection, the BEV map from the expansion and depth from the LiDAR are all scored;
without the expansion the map head is skipped, not scored as zero."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from eval_setup import tiny_config, write_checkpoint

from perception.cli import main


def _real_layout(nuscenes_root: Path, folder: Path) -> Path:
    root = folder / "nuscenes"
    shutil.copytree(nuscenes_root, root)
    for extra in ("depth.json", "driver_label.json"):
        (root / "v1.0-mini" / extra).unlink()
    shutil.rmtree(root / "depth")
    return root


def test_real_layout_root_scores_detection_map_and_depth(nuscenes_root: Path, tmp_path: Path, capsys) -> None:
    root = _real_layout(nuscenes_root, tmp_path)
    checkpoint, config_file = write_checkpoint(tiny_config(), tmp_path)
    out = tmp_path / "eval"
    code = main(["evaluate", "--config", str(config_file), "--checkpoint", str(checkpoint), "--data", str(root),
                 "--split", "mini_val", "--out", str(out), "--samples", "1"])
    assert code == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    assert m["nuscenes_detection"]["nd_score"] >= 0
    assert m["bev_segmentation"]["samples"] == 2 and m["bev_segmentation"]["miou"] is not None
    assert m["depth"]["per_image"]["abs_rel"] > 0  # LiDAR-projected ground truth (no dense depth on disk)
    assert "skipped" not in m

    (root / "maps" / "expansion" / "boston-seaport.json").unlink()
    capsys.readouterr()
    code = main(["evaluate", "--config", str(config_file), "--checkpoint", str(checkpoint), "--data", str(root),
                 "--split", "mini_val", "--out", str(tmp_path / "bare"), "--samples", "0"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "no map expansion for boston-seaport" in err
    m = json.loads((tmp_path / "bare" / "metrics.json").read_text())
    assert "bev_segmentation" not in m and "bev_segmentation" in m["skipped"]
    assert m["depth"]["per_image"]["abs_rel"] > 0


def test_training_samples_take_the_map_from_the_expansion(nuscenes_root: Path, tmp_path: Path) -> None:
    from perception.train.data import build_train_dataset

    root = _real_layout(nuscenes_root, tmp_path)
    config = tiny_config()
    sample = build_train_dataset(config, str(root), split="mini_val")[0]
    assert sample.has_bev_map and sample.bev_map[0].sum() > 0  # drivable area around the car
    (root / "maps" / "expansion" / "boston-seaport.json").unlink()
    assert not build_train_dataset(config, str(root), split="mini_val")[0].has_bev_map
