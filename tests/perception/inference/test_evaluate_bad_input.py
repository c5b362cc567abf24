"""Bad input to ``perception evaluate`` ends in one clear line on stderr and exit status 2."""
from __future__ import annotations

import dataclasses
import json
import math
import shutil

import pytest
from eval_setup import tiny_config, write_checkpoint

from evaluation.nuscenes_det.submission import boxes_to_entries, write_submission
from perception.cli import main
from sensors.dataset import open_dataset


def _fails(argv: list[str], capsys, *needles: str) -> str:
    code = main(["evaluate", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture(scope="module")
def submission(nuscenes_root) -> dict:
    frames = list(open_dataset(nuscenes_root, split="mini_val"))
    return {f.token: boxes_to_entries(f.annotations.boxes, f.ego_to_global, f.token) for f in frames}


def _corrupt(results: dict, how: str) -> tuple[dict, str]:
    results = json.loads(json.dumps(results))
    first = next(iter(results))
    if how == "unknown sample":
        results["0" * 32] = []
        return results, "not in the evaluated split"
    if how == "missing sample":
        del results[first]
        return results, "have no entry"
    box = results[first][0]
    if how == "nan box":
        box["translation"][0] = math.nan
        return results, "translation has NaN"
    if how == "unknown class":
        box["detection_name"] = "spaceship"
        return results, "unknown detection_name 'spaceship'"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["unknown sample", "missing sample", "nan box", "unknown class"])
def test_bad_submission(nuscenes_root, submission, tmp_path, capsys, how):
    results, needle = _corrupt(submission, how)
    write_submission(tmp_path / "results.json", results)
    _fails(["--predictions", str(tmp_path / "results.json"), "--data", str(nuscenes_root), "--split", "mini_val",
            "--out", str(tmp_path / "out")], capsys, "results.json", needle)
    assert not (tmp_path / "out" / "metrics.json").exists()


@pytest.mark.parametrize("split, needle", [("bogus", "unknown nuScenes split 'bogus'"),
                                           ("val", "v1.0-trainval"), ("mini_train", "has no frames")])
def test_split_that_does_not_exist_in_nuscenes_root(nuscenes_root, submission, tmp_path, capsys, split, needle):
    write_submission(tmp_path / "results.json", submission)
    _fails(["--predictions", str(tmp_path / "results.json"), "--data", str(nuscenes_root), "--split", split,
            "--out", str(tmp_path / "out")], capsys, needle)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    return write_checkpoint(tiny_config(), tmp_path_factory.mktemp("model"))


def test_split_that_does_not_exist_in_simulation(model_files, tmp_path, capsys):
    checkpoint, config = model_files
    _fails(["--checkpoint", str(checkpoint), "--config", str(config), "--data", "sim", "--split", "train",
            "--out", str(tmp_path)], capsys, "split 'train' does not exist for simulated data")


def test_dataset_root_with_missing_table(nuscenes_root, submission, tmp_path, capsys):
    root = tmp_path / "nusc"
    shutil.copytree(nuscenes_root, root)
    (root / "v1.0-mini" / "sample_annotation.json").unlink()
    write_submission(tmp_path / "results.json", submission)
    _fails(["--predictions", str(tmp_path / "results.json"), "--data", str(root), "--split", "mini_val",
            "--out", str(tmp_path / "out")], capsys, "sample_annotation")


def test_dataset_root_with_missing_lidar_file(nuscenes_root, model_files, tmp_path, capsys):
    root = tmp_path / "nusc"
    shutil.copytree(nuscenes_root, root)
    for path in (root / "samples" / "LIDAR_TOP").glob("*.pcd.bin"):
        path.unlink()
    checkpoint, config = model_files
    _fails(["--checkpoint", str(checkpoint), "--config", str(config), "--data", str(root), "--split", "mini_val",
            "--out", str(tmp_path / "out"), "--max-samples", "1"], capsys, "LIDAR_TOP", ".pcd.bin")


def test_checkpoint_of_another_config(model_files, tmp_path, capsys):
    checkpoint, _ = model_files
    other = tiny_config()
    other = dataclasses.replace(other, model=dataclasses.replace(other.model, cameras=("CAM_FRONT",)))
    _, other_config = write_checkpoint(other, tmp_path)
    _fails(["--checkpoint", str(checkpoint), "--config", str(other_config), "--data", "sim", "--out", str(tmp_path / "o")],
           capsys, "ckpt.pt", "model.cameras")


def test_corrupt_checkpoint(tmp_path, capsys):
    (tmp_path / "ckpt.pt").write_bytes(b"not a checkpoint")
    _fails(["--checkpoint", str(tmp_path / "ckpt.pt"), "--data", "sim", "--out", str(tmp_path / "o")], capsys,
           "ckpt.pt", "cannot read checkpoint")
