"""Write hand-built frames in the KITTI layout and read them back."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kitti_frames import CAM_ROTATION, HEIGHT, WIDTH, boxes, front_camera, make_frame
from kitti_frames import scene_boxes as scene_boxes_

from sensors.dataset import open_dataset
from sensors.geometry import make_transform, rotation_z, wrap_angle
from sensors.kitti.reader import KittiDataset
from sensors.kitti.writer import write_kitti
from sensors.projection import project_points


def test_round_trip_points_camera_boxes(tmp_path):
    scene_boxes = scene_boxes_()
    frame = make_frame(scene_boxes)
    assert write_kitti([frame], tmp_path) == ["000000"]
    for name in ("velodyne/000000.bin", "image_2/000000.png", "calib/000000.txt", "label_2/000000.txt"):
        assert (tmp_path / "training" / name).is_file()
    assert (tmp_path / "ImageSets" / "train.txt").read_text() == "000000\n"

    dataset = open_dataset(tmp_path, split="train")
    assert isinstance(dataset, KittiDataset) and len(dataset) == 1
    back = dataset[0]
    assert back.token == "000000" and back.scene == "kitti"
    np.testing.assert_allclose(back.lidar.points[:, :3], frame.lidar.points[:, :3], atol=1e-5)
    np.testing.assert_allclose(back.lidar.points[:, 3], frame.lidar.points[:, 3], atol=1e-3)
    assert np.all(back.lidar.points[:, 4] == 0)
    np.testing.assert_allclose(back.lidar.lidar_to_ego[:3, 3], [0.0, 0.0, 1.73])

    camera, original = back.cameras["CAM_FRONT"], frame.cameras["CAM_FRONT"]
    assert np.array_equal(camera.image, original.image)
    np.testing.assert_allclose(camera.cam_to_ego, original.cam_to_ego, atol=1e-9)
    probe = np.array([[12.0, 2.0, 0.5], [30.0, -5.0, 2.0], [5.0, 0.3, 1.0]])
    uv_back, _, valid_back = project_points(probe, camera)
    uv_orig, _, valid_orig = project_points(probe, original)
    assert valid_orig.all() and np.array_equal(valid_back, valid_orig)
    np.testing.assert_allclose(uv_back, uv_orig, atol=1e-6)

    # the four boxes in view survive; the cone (no KITTI class), the car behind and the car
    # far to the side are not written
    expected = scene_boxes.select(np.arange(4))
    got = back.annotations.boxes
    assert got.class_names() == ["car", "pedestrian", "truck", "bicycle"]
    np.testing.assert_allclose(got.center, expected.center, atol=1e-5)
    np.testing.assert_allclose(got.size, expected.size, atol=1e-5)
    np.testing.assert_allclose(wrap_angle(got.yaw - expected.yaw), 0.0, atol=1e-5)
    assert got.token == ["000000:0", "000000:1", "000000:2", "000000:3"]


def test_motorcycle_becomes_cyclist_and_bus_is_not_read_back(tmp_path):
    frame = make_frame(boxes([
        ("motorcycle", (12.0, 0.0, 0.8), (2.0, 0.8, 1.6), 0.0),
        ("bus", (25.0, 0.0, 1.6), (11.0, 2.9, 3.2), 0.0),
    ]))
    write_kitti([frame], tmp_path)
    lines = (tmp_path / "training/label_2/000000.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["Cyclist", "Misc"]
    got = KittiDataset(tmp_path)[0].annotations.boxes
    assert got.class_names() == ["bicycle"]


def test_rotated_and_offset_camera_round_trip(tmp_path):
    scene_boxes = scene_boxes_()
    # a camera turned 20 degrees to the left and moved sideways: boxes still come back exactly
    rotation = rotation_z(np.radians(20.0)) @ np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    camera = front_camera()
    camera.cam_to_ego = make_transform(rotation, [1.0, 0.5, 1.4])
    frame = make_frame(scene_boxes, camera)
    write_kitti([frame], tmp_path)
    back = KittiDataset(tmp_path)[0]
    got = back.annotations.boxes
    assert len(got) >= 3
    index = [int(token.split(":")[1]) for token in got.token]
    expected = scene_boxes.select(np.array(index))
    np.testing.assert_allclose(got.center, expected.center, atol=1e-5)
    np.testing.assert_allclose(wrap_angle(got.yaw - expected.yaw), 0.0, atol=1e-5)
    np.testing.assert_allclose(back.cameras["CAM_FRONT"].cam_to_ego, camera.cam_to_ego, atol=1e-9)


def test_two_writes_continue_numbering_and_keep_splits(tmp_path):
    scene_boxes = scene_boxes_()
    frames = [make_frame(scene_boxes) for _ in range(3)]
    assert write_kitti(frames[:2], tmp_path, split="train") == ["000000", "000001"]
    assert write_kitti(frames[2:], tmp_path, split="val") == ["000002"]
    assert len(KittiDataset(tmp_path, split="train")) == 2
    assert KittiDataset(tmp_path, split="val").frame_ids == ["000002"]
    assert len(KittiDataset(tmp_path)) == 3
    assert [f.token for f in KittiDataset(tmp_path)[1:]] == ["000001", "000002"]


def test_load_images_false_keeps_calibration(tmp_path):
    scene_boxes = scene_boxes_()
    write_kitti([make_frame(scene_boxes)], tmp_path)
    camera = KittiDataset(tmp_path, load_images=False)[0].cameras["CAM_FRONT"]
    assert camera.image.shape == (90, 160, 3) and not camera.image.any()
    np.testing.assert_allclose(camera.intrinsics, front_camera().intrinsics)


def test_prediction_scores_are_written_as_16th_field(tmp_path):
    scene_boxes = scene_boxes_()
    scene_boxes.score[:] = 0.25
    write_kitti([make_frame(scene_boxes)], tmp_path, with_score=True)
    lines = (tmp_path / "training/label_2/000000.txt").read_text().splitlines()
    assert all(len(line.split()) == 16 for line in lines)
    got = KittiDataset(tmp_path)[0].annotations.boxes
    np.testing.assert_allclose(got.score, 0.25)


def test_writer_requires_camera(tmp_path):
    scene_boxes = scene_boxes_()
    from sensors.errors import MissingDataError

    with pytest.raises(MissingDataError, match="CAM_BACK"):
        write_kitti([make_frame(scene_boxes)], tmp_path, camera="CAM_BACK")



@settings(max_examples=30, deadline=None)
@given(
    x=st.floats(3.0, 60.0), y=st.floats(-30.0, 30.0), yaw=st.floats(-3.2, 3.2),
    length=st.floats(0.3, 12.0), width=st.floats(0.3, 3.0), height=st.floats(0.5, 4.0),
    pitch=st.floats(-0.1, 0.1),
)
def test_any_box_in_view_round_trips(x, y, yaw, length, width, height, pitch):
    # a slightly pitched camera: the writer's location/rotation_y are in that camera's frame
    rotation = np.array([[np.cos(pitch), 0, -np.sin(pitch)], [0, 1, 0], [np.sin(pitch), 0, np.cos(pitch)]])
    camera = front_camera()
    camera.cam_to_ego = make_transform(rotation @ CAM_ROTATION, [1.5, 0.0, 1.6])
    box = boxes([("car", (x, y, height / 2), (length, width, height), yaw)])
    with tempfile.TemporaryDirectory() as scratch:
        write_kitti([make_frame(box, camera)], Path(scratch))
        got = KittiDataset(Path(scratch))[0].annotations.boxes
    if len(got) == 0:  # not written: no corner in front lies inside the 2D box range [0, W-1] x [0, H-1]
        uv, depth, _ = project_points(box.corners()[0], camera)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] <= WIDTH - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= HEIGHT - 1)
        assert not (inside & (depth > 0.5)).any()
        return
    # rotation_y keeps only the heading in the camera's x-z plane: exact for pitch 0, second order in pitch
    np.testing.assert_allclose(got.center[0], box.center[0], atol=1e-5)
    np.testing.assert_allclose(got.size[0], box.size[0], atol=1e-5)
    assert abs(float(wrap_angle(got.yaw[0] - box.yaw[0]))) < 1e-5 + pitch**2
