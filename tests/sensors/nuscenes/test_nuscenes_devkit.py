"""The official nuscenes-devkit 1.2.0 loads what our writer produces."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nuscenes_frames import SCENE, TRACKS

from sensors.frame import Frame
from sensors.nuscenes.splits import SPLITS

nuscenes = pytest.importorskip("nuscenes")
from nuscenes.nuscenes import NuScenes
from nuscenes.utils import splits as devkit_splits
from nuscenes.utils.data_classes import LidarPointCloud
from pyquaternion import Quaternion


@pytest.fixture(scope="module")
def nusc(nuscenes_root: Path) -> NuScenes:
    return NuScenes(version="v1.0-mini", dataroot=str(nuscenes_root), verbose=False)


def test_split_lists_equal_the_devkit() -> None:
    for name, scenes in SPLITS.items():
        assert sorted(scenes) == sorted(getattr(devkit_splits, name))


def test_devkit_iterates_samples_boxes_and_points(nusc: NuScenes, nuscenes_root: Path, frames: list[Frame]) -> None:
    assert [s["name"] for s in nusc.scene] == [SCENE]
    assert len(nusc.sample) == len(frames)
    sample = nusc.get("sample", nusc.scene[0]["first_sample_token"])
    count = 0
    while True:
        frame = frames[count]
        assert set(sample["data"]) == {"LIDAR_TOP", "CAM_FRONT", "CAM_BACK", "CAM_CABIN"}
        path, boxes, _ = nusc.get_sample_data(sample["data"]["LIDAR_TOP"])
        cloud = LidarPointCloud.from_file(path)
        assert cloud.points.shape == (4, len(frame.lidar.points))
        # Devkit boxes are in the LiDAR sensor frame: back to ego they match the frame's boxes.
        calib = nusc.get("calibrated_sensor", nusc.get("sample_data", sample["data"]["LIDAR_TOP"])["calibrated_sensor_token"])
        assert len(boxes) == len(frame.annotations.boxes)
        expected = dict(zip(["vehicle.car", "human.pedestrian.adult"], frame.annotations.boxes.center))
        for box in boxes:
            ego = Quaternion(calib["rotation"]).rotate(box.center) + np.array(calib["translation"])
            np.testing.assert_allclose(ego, expected[box.name], atol=1e-6)
        cam_path, cam_boxes, K = nusc.get_sample_data(sample["data"]["CAM_FRONT"])
        np.testing.assert_allclose(K, frame.cameras["CAM_FRONT"].intrinsics)
        for ann_token in sample["anns"]:
            ann = nusc.get("sample_annotation", ann_token)
            velocity = nusc.box_velocity(ann_token)
            track = "car-1" if ann["category_name"] == "vehicle.car" else "ped-7"
            if ann["prev"] or ann["next"]:
                np.testing.assert_allclose(velocity, TRACKS[track]["velocity"], atol=1e-6)
            assert nusc.get("instance", ann["instance_token"])["nbr_annotations"] == (3 if track == "car-1" else 2)
        count += 1
        if not sample["next"]:
            break
        sample = nusc.get("sample", sample["next"])
    assert count == len(frames)


def test_devkit_multisweep_and_splits(nusc: NuScenes, nuscenes_root: Path) -> None:
    sample = nusc.sample[-1]
    cloud, times = LidarPointCloud.from_file_multisweep(nusc, sample, "LIDAR_TOP", "LIDAR_TOP", nsweeps=3, min_distance=0.0)
    assert cloud.points.shape[1] == 3 * 300
    np.testing.assert_allclose(np.unique(times), [0.0, 0.05, 0.1], atol=1e-6)
    scenes = devkit_splits.create_splits_scenes()
    assert SCENE in scenes["mini_train"]
    assert all(len(record["token"]) == 32 for table in ("sample", "sample_data", "instance") for record in getattr(nusc, table))
