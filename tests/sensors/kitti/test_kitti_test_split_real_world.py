"""KITTI ``--split test`` (issue: real data and bad input, part 2): the test split reads ``testing/``,
has no labels, and its predictions are exported as KITTI result files instead of being scored.

The roots are built here in the layout of the official download: ``training/`` with ``label_2``,
``testing/`` without, ``ImageSets/test.txt`` listing ids that exist only in ``testing/``.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_kitti_real_format import CALIB_000000, LABEL_000000, _matrix, _to_4x4

from perception.config import Config
from perception.inference.pipeline import kitti_prediction_objects
from perception.inference.records import FrameRecord
from perception.inference.scoring import KITTI_PREDICTIONS_DIR, score_records
from perception.inference.sources import open_eval_source
from sensors.boxes import Boxes3D
from sensors.dataset import open_dataset
from sensors.kitti.reader import KittiDataset

POINTS = {"training": {"000000": 2000}, "testing": {"000000": 500, "000001": 300}}


def _write_part(root, part, with_labels):
    rng = np.random.default_rng(len(part))
    folders = ("velodyne", "image_2", "calib") + (("label_2",) if with_labels else ())
    for folder in folders:
        (root / part / folder).mkdir(parents=True)
    for frame_id, n in POINTS[part].items():
        scan = np.column_stack([rng.uniform(5, 60, n), rng.uniform(-20, 20, n), rng.uniform(-1.7, 1.0, n),
                                rng.uniform(0, 1, n)]).astype(np.float32)
        (root / part / "velodyne" / f"{frame_id}.bin").write_bytes(scan.tobytes())
        cv2.imwrite(str(root / part / "image_2" / f"{frame_id}.png"), np.full((375, 1242, 3), 90, np.uint8))
        (root / part / "calib" / f"{frame_id}.txt").write_text(CALIB_000000)
        if with_labels:
            (root / part / "label_2" / f"{frame_id}.txt").write_text(LABEL_000000)


@pytest.fixture
def kitti_root(tmp_path):
    _write_part(tmp_path, "training", True)
    _write_part(tmp_path, "testing", False)
    (tmp_path / "ImageSets").mkdir()
    (tmp_path / "ImageSets/train.txt").write_text("000000\n")
    (tmp_path / "ImageSets/test.txt").write_text("000000\n000001\n")  # 000001 exists only in testing/
    (tmp_path / "ImageSets/testing.txt").write_text("000000\n000001\n")
    return tmp_path


@pytest.mark.parametrize("split", ["test", "testing"])
def test_test_split_reads_testing_and_has_no_labels(kitti_root, split):
    dataset = open_dataset(kitti_root, split=split)
    assert dataset.base == kitti_root / "testing" and not dataset.has_labels
    assert [len(f.lidar.points) for f in dataset] == [500, 300]  # the testing scans, not training's 2000
    assert all(f.annotations is None for f in dataset)
    train = KittiDataset(kitti_root, split="train")
    assert train.has_labels and len(train[0].lidar.points) == 2000 and train[0].annotations is not None


def test_explicit_part_still_wins(kitti_root):
    assert len(KittiDataset(kitti_root, part="testing")) == 2
    with pytest.raises(ValueError, match="KITTI part must be one of"):
        KittiDataset(kitti_root, part="validation")


def _ego_box(center, size, yaw, score):
    return Boxes3D(center=[center], size=[size], yaw=[yaw], label=[0], score=[score])


def test_predictions_become_official_result_files_and_are_not_scored(kitti_root, tmp_path):
    config = Config()
    source = open_eval_source(str(kitti_root), "test", config)
    assert source.kind == "kitti" and len(source.frames) == 2
    # a car 15 m ahead in frame 000000, nothing in frame 000001
    car = _ego_box([15.0, 1.0, 0.85], [4.2, 1.8, 1.7], 0.1, 0.75)
    predictions = {"000000": car, "000001": Boxes3D.empty()}
    records, objects = [], {}
    for i, frame in enumerate(source.frames):
        records.append(FrameRecord(i, frame.token, frame.scene, frame.timestamp, frame.ego_to_global,
                                   pred_boxes=predictions[frame.token]))
        objects[frame.token] = kitti_prediction_objects(source, frame, predictions[frame.token])
    out = tmp_path / "out"
    scores = score_records(records, [], out, segmentation_grid=config.model.heads.segmentation.grid, kind="kitti",
                           kitti_objects=objects, kitti_label_dir=source.dataset.base / "label_2")
    assert "kitti" not in scores.metrics and "nuscenes_detection" not in scores.metrics
    assert scores.metrics["skipped"]["kitti"].startswith("no labels")
    folder = out / KITTI_PREDICTIONS_DIR
    assert sorted(p.name for p in folder.iterdir()) == ["000000.txt", "000001.txt"]
    assert (folder / "000001.txt").read_text() == ""  # a frame without detections: an empty file
    (line,) = (folder / "000000.txt").read_text().splitlines()
    fields = line.split()
    # type truncated occluded alpha left top right bottom h w l x y z rotation_y score
    assert len(fields) == 16 and fields[0] == "Car" and float(fields[15]) == pytest.approx(0.75)
    values = np.array(fields[1:], float)
    np.testing.assert_allclose(values[7:10], [1.7, 1.8, 4.2], atol=1e-6)  # h, w, l
    # location: the box centre taken through the devkit chain R0_rect @ Tr_velo_to_cam (velodyne =
    # ego minus the 1.73 m mounting height), then h / 2 down the camera y axis (KITTI's bottom centre)
    velo = np.array([15.0, 1.0, 0.85 - 1.73, 1.0])
    rect = (_to_4x4(_matrix("R0_rect")) @ _to_4x4(_matrix("Tr_velo_to_cam")) @ velo)[:3]
    np.testing.assert_allclose(values[10:13], rect + [0, 1.7 / 2, 0], atol=1e-5)
    # the 2D box is the projection of the corners by P2, inside the image
    left, top, right, bottom = values[3:7]
    assert 0 <= left < right <= 1242 and 0 <= top < bottom <= 375
    centre = _matrix("P2").reshape(3, 4) @ np.append(rect, 1.0)
    assert left < centre[0] / centre[2] < right and top < centre[1] / centre[2] < bottom


def test_training_on_the_test_split_is_refused(kitti_root):
    from perception.train.data import build_train_dataset

    with pytest.raises(ValueError, match=r"split 'test' has no labels \(a benchmark test split\)"):
        build_train_dataset(Config(), str(kitti_root), split="test")
    assert len(build_train_dataset(Config(), str(kitti_root), split="train")) == 1
