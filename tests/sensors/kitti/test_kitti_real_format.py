"""A hand-made fixture in the exact formats of the real KITTI object dataset (frame 000000)."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensors.dataset import open_dataset
from sensors.kitti.annotate import boxes_to_objects
from sensors.kitti.reader import KittiDataset
from sensors.projection import project_boxes, project_points

# training/calib/000000.txt of the KITTI object benchmark, verbatim
CALIB_000000 = """\
P0: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 0.000000000000e+00 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P1: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 -3.875744000000e+02 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P2: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 4.485728000000e+01 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 2.163791000000e-01 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 2.745884000000e-03
P3: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 -3.395242000000e+02 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 2.199936000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 2.729905000000e-03
R0_rect: 9.999239000000e-01 9.837760000000e-03 -7.445048000000e-03 -9.869795000000e-03 9.999421000000e-01 -4.278459000000e-03 7.402527000000e-03 4.351614000000e-03 9.999631000000e-01
Tr_velo_to_cam: 7.533745000000e-03 -9.999714000000e-01 -6.166020000000e-04 -4.069766000000e-03 1.480249000000e-02 7.280733000000e-04 -9.998902000000e-01 -7.631618000000e-02 9.998621000000e-01 7.523790000000e-03 1.480755000000e-02 -2.717806000000e-01
Tr_imu_to_velo: 9.999976000000e-01 7.553071000000e-04 -2.035826000000e-03 -8.086759000000e-01 -7.854027000000e-04 9.998898000000e-01 -1.482298000000e-02 3.195559000000e-01 2.024406000000e-03 1.482454000000e-02 9.998881000000e-01 -7.997231000000e-01

"""
LABEL_000000 = "Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01\n"
# a DontCare region and a Van (not a detection class) as found in other training frames
EXTRA_LABELS = (
    "Van 0.00 0 1.75 0.00 170.00 100.00 230.00 2.10 1.80 4.60 -12.00 1.70 20.00 1.20\n"
    "DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10\n"
)


def _matrix(name: str) -> np.ndarray:
    line = next(line for line in CALIB_000000.splitlines() if line.startswith(name + ":"))
    return np.array([float(v) for v in line.split()[1:]])


def _to_4x4(values: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, : len(values) // 3] = values.reshape(3, -1)
    return out


def _devkit_extent() -> list[float]:
    """2D extent of the label's 3D box the way the KITTI devkit draws it (camera-frame corners, P2)."""
    h, w, l, x, y, z, ry = 1.89, 0.48, 1.20, 1.84, 1.47, 8.41, 0.01
    local = np.array([
        [l / 2, l / 2, -l / 2, -l / 2, l / 2, l / 2, -l / 2, -l / 2],
        [0, 0, 0, 0, -h, -h, -h, -h],
        [w / 2, -w / 2, -w / 2, w / 2, w / 2, -w / 2, -w / 2, w / 2],
    ])
    rotation = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    corners = rotation @ local + np.array([[x], [y], [z]])
    image = _matrix("P2").reshape(3, 4) @ np.vstack([corners, np.ones(8)])
    uv = image[:2] / image[2]
    return [*uv.min(axis=1), *uv.max(axis=1)]


@pytest.fixture
def kitti_root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    training = tmp_path / "training"
    for folder in ("velodyne", "image_2", "calib", "label_2"):
        (training / folder).mkdir(parents=True)
    velodyne = np.column_stack([
        rng.uniform(5, 60, 2000), rng.uniform(-20, 20, 2000), rng.uniform(-1.7, 1.0, 2000), rng.uniform(0, 1, 2000),
    ]).astype(np.float32)
    (training / "velodyne/000000.bin").write_bytes(velodyne.tobytes())
    cv2.imwrite(str(training / "image_2/000000.png"), np.full((375, 1242, 3), 90, np.uint8))
    (training / "calib/000000.txt").write_text(CALIB_000000)
    (training / "label_2/000000.txt").write_text(LABEL_000000 + EXTRA_LABELS)
    (tmp_path / "ImageSets").mkdir()
    (tmp_path / "ImageSets/train.txt").write_text("000000\n")
    (tmp_path / "ImageSets/val.txt").write_text("")
    testing = tmp_path / "testing"
    for folder in ("velodyne", "image_2", "calib"):
        (testing / folder).mkdir(parents=True)
    (testing / "velodyne/000000.bin").write_bytes(velodyne.tobytes())
    cv2.imwrite(str(testing / "image_2/000000.png"), np.full((375, 1242, 3), 90, np.uint8))
    (testing / "calib/000000.txt").write_text(CALIB_000000)
    return tmp_path


def test_points_project_to_the_same_pixels_as_p2_r0_tr(kitti_root):
    frame = open_dataset(kitti_root, split="train")[0]
    velodyne = np.fromfile(kitti_root / "training/velodyne/000000.bin", np.float32).reshape(-1, 4)
    np.testing.assert_allclose(frame.lidar.points[:, :3], velodyne[:, :3] + [0, 0, 1.73], atol=1e-5)
    np.testing.assert_allclose(frame.lidar.points[:, 3], velodyne[:, 3] * 255, rtol=1e-6)
    # the KITTI devkit projection: x_img = P2 @ R0_rect @ Tr_velo_to_cam @ x_velo
    homogeneous = np.column_stack([velodyne[:, :3], np.ones(len(velodyne))]).astype(np.float64)
    image = homogeneous @ (_matrix("P2").reshape(3, 4) @ _to_4x4(_matrix("R0_rect")) @ _to_4x4(_matrix("Tr_velo_to_cam"))).T
    in_front = image[:, 2] > 0.1
    expected = image[:, :2] / image[:, 2:3]
    uv, depth, _ = project_points(frame.lidar.points, frame.cameras["CAM_FRONT"])
    assert in_front.sum() > 1000
    np.testing.assert_allclose(uv[in_front], expected[in_front], atol=2e-3)
    np.testing.assert_allclose(depth[in_front], image[in_front, 2], atol=1e-4)


def test_label_becomes_the_ego_box(kitti_root):
    frame = KittiDataset(kitti_root, split="train")[0]
    boxes = frame.annotations.boxes
    assert boxes.class_names() == ["pedestrian"]  # Van and DontCare are not detection classes
    np.testing.assert_allclose(boxes.size[0], [1.20, 0.48, 1.89])
    # centre of volume: bottom centre lifted by h/2 along camera -y, then rect -> velodyne -> ego
    rect_to_velo = np.linalg.inv(_to_4x4(_matrix("R0_rect")) @ _to_4x4(_matrix("Tr_velo_to_cam")))
    center_velo = rect_to_velo @ [1.84, 1.47 - 1.89 / 2, 8.41, 1.0]
    np.testing.assert_allclose(boxes.center[0], center_velo[:3] + [0, 0, 1.73], atol=1e-4)
    assert boxes.yaw[0] == pytest.approx(-0.01 - math.pi / 2, abs=0.02)
    # the projected box matches the devkit's corners (rotated about camera y, projected by P2);
    # the ego box stands upright in the ego frame, the camera is pitched ~0.9 deg: ~1 px apart
    corners_uv, visible = project_boxes(boxes, frame.cameras["CAM_FRONT"])
    assert visible[0]
    extent = [*corners_uv[0].min(axis=0), *corners_uv[0].max(axis=0)]
    np.testing.assert_allclose(extent, _devkit_extent(), atol=2.0)
    # every raw object stays available for the KITTI evaluation
    objects = KittiDataset(kitti_root).objects("000000")
    assert [o.type for o in objects] == ["Pedestrian", "Van", "DontCare"]


def test_camera_is_image_2_with_the_p2_baseline(kitti_root):
    frame = KittiDataset(kitti_root)[0]
    camera = frame.cameras["CAM_FRONT"]
    assert camera.image.shape == (375, 1242, 3) and camera.image[0, 0, 0] == 90
    np.testing.assert_allclose(camera.intrinsics, _matrix("P2").reshape(3, 4)[:, :3])
    # camera 2 sits about 6 cm left of camera 0 (P2[0, 3] / fx = 0.062 m), i.e. toward ego +y;
    # the velodyne is 0.27 m behind camera 0 (Tr_velo_to_cam z), so camera 2 is ~0.27 m ahead of it
    position = camera.cam_to_ego[:3, 3]
    assert position[1] == pytest.approx(0.06 + 0.004, abs=0.01)
    assert position[0] == pytest.approx(0.27, abs=0.01)
    assert position[2] == pytest.approx(1.73 - 0.08, abs=0.01)
    assert frame.timestamp == 0 and np.array_equal(frame.ego_to_global, np.eye(4))


def test_testing_part_has_no_labels_and_empty_split(kitti_root):
    frames = KittiDataset(kitti_root, part="testing")
    assert len(frames) == 1 and frames[0].annotations is None
    assert len(KittiDataset(kitti_root, split="val")) == 0


def test_ego_boxes_convert_back_to_the_published_label(kitti_root):
    dataset = KittiDataset(kitti_root)
    frame = dataset[0]
    rect_to_camera = dataset.calib("000000").rect_to_camera(2)
    (obj,) = boxes_to_objects(frame.annotations.boxes, frame.cameras["CAM_FRONT"], rect_to_camera=rect_to_camera)
    assert obj.type == "Pedestrian"
    np.testing.assert_allclose(obj.location, [1.84, 1.47, 8.41], atol=1e-6)
    np.testing.assert_allclose(obj.dimensions, [1.89, 0.48, 1.20])
    assert obj.rotation_y == pytest.approx(0.01, abs=0.02)
    assert obj.alpha == pytest.approx(0.01 - math.atan2(1.84, 8.41), abs=0.02)  # published: -0.20
    np.testing.assert_allclose(obj.bbox, _devkit_extent(), atol=2.0)
