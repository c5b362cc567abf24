"""A minimal hand-made dataset in the real nuScenes layout (no extras), with hand-computed answers."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sensors.classes import ATTRIBUTES, class_index
from sensors.dataset import open_dataset
from sensors.nuscenes.reader import NuScenesDataset

T = 1_533_151_603_547_590
YAW90 = [np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)]


def tok(i: int) -> str:
    return f"{i:032x}"


@pytest.fixture(scope="module")
def real_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real") / "nuscenes"
    log = "n008-2018-08-01-15-16-36-0400"
    tables: dict[str, list[dict]] = {
        "category": [{"token": tok(1), "name": "vehicle.car", "description": ""},
                     {"token": tok(2), "name": "animal", "description": ""},
                     {"token": tok(3), "name": "vehicle.bus.bendy", "description": ""}],
        "attribute": [{"token": tok(10), "name": "vehicle.moving", "description": ""}],
        "visibility": [{"token": "4", "level": "v80-100", "description": ""}],
        "sensor": [{"token": tok(20), "channel": "LIDAR_TOP", "modality": "lidar"},
                   {"token": tok(21), "channel": "CAM_FRONT", "modality": "camera"}],
        "calibrated_sensor": [
            {"token": tok(30), "sensor_token": tok(20), "translation": [1.0, 0.0, 2.0], "rotation": [1.0, 0, 0, 0],
             "camera_intrinsic": []},
            {"token": tok(31), "sensor_token": tok(21), "translation": [1.7, 0.0, 1.5],
             "rotation": [0.5, -0.5, 0.5, -0.5], "camera_intrinsic": [[5.0, 0, 5.0], [0, 5.0, 4.0], [0, 0, 1]]}],
        "ego_pose": [
            {"token": tok(40), "timestamp": T - 50_000, "rotation": YAW90, "translation": [100.0, 199.0, 0.0]},
            {"token": tok(41), "timestamp": T, "rotation": YAW90, "translation": [100.0, 200.0, 0.0]},
            {"token": tok(42), "timestamp": T, "rotation": YAW90, "translation": [100.0, 200.0, 0.0]},
            {"token": tok(43), "timestamp": T + 500_000, "rotation": YAW90, "translation": [100.0, 200.0, 0.0]}],
        "log": [{"token": tok(50), "logfile": log, "vehicle": "n008", "date_captured": "2018-08-01", "location": "boston-seaport"}],
        "map": [{"token": tok(51), "category": "semantic_prior", "filename": "maps/prior.png", "log_tokens": [tok(50)]}],
        "scene": [{"token": tok(60), "log_token": tok(50), "nbr_samples": 2, "first_sample_token": tok(70),
                   "last_sample_token": tok(71), "name": "scene-0103", "description": "Night, parked car"}],
        "sample": [{"token": tok(70), "timestamp": T, "prev": "", "next": tok(71), "scene_token": tok(60)},
                   {"token": tok(71), "timestamp": T + 500_000, "prev": tok(70), "next": "", "scene_token": tok(60)}],
        "instance": [{"token": tok(80), "category_token": tok(1), "nbr_annotations": 2, "first_annotation_token": tok(90),
                      "last_annotation_token": tok(91)},
                     {"token": tok(81), "category_token": tok(2), "nbr_annotations": 1, "first_annotation_token": tok(92),
                      "last_annotation_token": tok(92)}],
        "sample_annotation": [
            {"token": tok(90), "sample_token": tok(70), "instance_token": tok(80), "visibility_token": "4",
             "attribute_tokens": [tok(10)], "translation": [100.0, 210.0, 1.0], "size": [2.0, 5.0, 1.5],
             "rotation": YAW90, "prev": "", "next": tok(91), "num_lidar_pts": 7, "num_radar_pts": 0},
            {"token": tok(91), "sample_token": tok(71), "instance_token": tok(80), "visibility_token": "4",
             "attribute_tokens": [tok(10)], "translation": [100.0, 212.0, 1.0], "size": [2.0, 5.0, 1.5],
             "rotation": YAW90, "prev": tok(90), "next": "", "num_lidar_pts": 5, "num_radar_pts": 0},
            {"token": tok(92), "sample_token": tok(70), "instance_token": tok(81), "visibility_token": "4",
             "attribute_tokens": [], "translation": [90.0, 200.0, 0.5], "size": [0.5, 1.0, 0.8],
             "rotation": YAW90, "prev": "", "next": "", "num_lidar_pts": 1, "num_radar_pts": 0}],
    }

    def sd(token: int, sample: int, pose: int, cs: int, stamp: int, key: bool, name: str, prev: str, nxt: str,
           hw: tuple[int, int] = (0, 0)) -> dict:
        return {"token": tok(token), "sample_token": tok(sample), "ego_pose_token": tok(pose),
                "calibrated_sensor_token": tok(cs), "timestamp": stamp, "fileformat": "pcd" if name.endswith(".pcd.bin") else "jpg",
                "is_key_frame": key, "height": hw[0], "width": hw[1], "filename": name, "prev": prev, "next": nxt}

    lidar = lambda folder, stamp: f"{folder}/LIDAR_TOP/{log}__LIDAR_TOP__{stamp}.pcd.bin"
    camera = f"samples/CAM_FRONT/{log}__CAM_FRONT__{T}.jpg"
    tables["sample_data"] = [
        sd(100, 70, 40, 30, T - 50_000, False, lidar("sweeps", T - 50_000), "", tok(101)),
        sd(101, 70, 41, 30, T, True, lidar("samples", T), tok(100), tok(103)),
        sd(102, 70, 42, 31, T, True, camera, "", "", (8, 10)),
        sd(103, 71, 43, 30, T + 500_000, True, lidar("samples", T + 500_000), tok(101), ""),
    ]
    for name, rows in tables.items():
        (root / "v1.0-mini").mkdir(parents=True, exist_ok=True)
        (root / "v1.0-mini" / f"{name}.json").write_text(json.dumps(rows, indent=1))
    point = np.array([[1.0, 2.0, 0.0, 42.0, 7.0]], dtype=np.float32)  # sensor frame, ring 7
    for row in tables["sample_data"]:
        if row["fileformat"] == "pcd":
            path = root / row["filename"]
            path.parent.mkdir(parents=True, exist_ok=True)
            point.tofile(path)
    (root / camera).parent.mkdir(parents=True)
    Image.fromarray(np.full((8, 10, 3), 128, np.uint8)).save(root / camera)
    return root


def test_real_layout_frame(real_root: Path) -> None:
    dataset = open_dataset(real_root, split="mini_val", sweeps=2)
    assert len(dataset) == 2
    frame = dataset[0]
    assert frame.token == tok(70) and frame.scene == "scene-0103" and frame.timestamp == T
    # Sensor (1, 2, 0) + lidar mount (1, 0, 2) -> ego (2, 2, 2); the sweep point, taken 1 m further
    # back along global y = ego +x, lands at ego (1, 2, 2) 0.05 s earlier.
    np.testing.assert_allclose(frame.lidar.points, [[2, 2, 2, 42, 0], [1, 2, 2, 42, -0.05]], atol=1e-6)
    camera = frame.cameras["CAM_FRONT"]
    np.testing.assert_allclose(camera.cam_to_ego[:3, 2], [1, 0, 0], atol=1e-12)  # optical axis forward
    np.testing.assert_allclose(camera.cam_to_ego[:3, 0], [0, -1, 0], atol=1e-12)  # image right = ego right
    assert camera.image.shape == (8, 10, 3) and camera.intrinsics[0, 0] == 5.0
    boxes = frame.annotations.boxes
    assert len(boxes) == 1  # the animal is not a detection class
    np.testing.assert_allclose(boxes.center, [[10, 0, 1]], atol=1e-9)  # 10 m ahead of the ego car
    np.testing.assert_allclose(boxes.size, [[5, 2, 1.5]])
    np.testing.assert_allclose(boxes.yaw, [0], atol=1e-12)
    np.testing.assert_allclose(boxes.velocity, [[4, 0]], atol=1e-9)  # 2 m in 0.5 s along global y
    assert boxes.label[0] == class_index("car") and boxes.attribute[0] == ATTRIBUTES.index("vehicle.moving")
    assert boxes.num_lidar_points[0] == 7 and boxes.token == [tok(80)]
    assert frame.cabin is None and frame.annotations.bev_map is None
    assert frame.annotations.depth == {} and frame.annotations.driver is None
    assert len(open_dataset(real_root, split="mini_train")) == 0


def test_real_layout_version_detection(real_root: Path) -> None:
    assert NuScenesDataset(real_root).version == "v1.0-mini"
    with pytest.raises(Exception, match="v1.0-trainval"):
        NuScenesDataset(real_root, split="train")
