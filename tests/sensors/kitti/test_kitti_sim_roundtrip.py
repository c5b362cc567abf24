"""A tiny simulated drive written in the KITTI layout and read back."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sensors.classes import CLASS_TO_KITTI, KITTI_TO_CLASS
from sensors.frame import BevGrid, Frame
from sensors.geometry import wrap_angle
from sensors.kitti.reader import KittiDataset
from sensors.kitti.writer import write_kitti
from sensors.projection import project_boxes, project_points

sim = pytest.importorskip("sensors.sim")


@pytest.fixture(scope="module")
def drive(tmp_path_factory) -> tuple[list[Frame], list[Frame], Path]:
    config = sim.SimConfig(
        image_size=(90, 160), num_lidar_beams=8, lidar_azimuth_steps=256, enable_cabin=False,
        sweeps_per_keyframe=1, num_agents=20, bev_grid=BevGrid(-20.0, 20.0, -20.0, 20.0, 1.0),
    )
    frames = list(sim.simulate_drive(config, seed=3, num_frames=3))
    root = tmp_path_factory.mktemp("kitti_sim")
    assert write_kitti(frames, root, split="val") == ["000000", "000001", "000002"]
    return frames, list(KittiDataset(root, split="val")), root


def test_points_and_camera_round_trip(drive):
    frames, back, _ = drive
    for original, read in zip(frames, back):
        np.testing.assert_allclose(read.lidar.points[:, :3], original.lidar.points[:, :3], atol=1e-4)
        np.testing.assert_allclose(read.lidar.points[:, 3], original.lidar.points[:, 3], atol=1e-3)
        camera, source = read.cameras["CAM_FRONT"], original.cameras["CAM_FRONT"]
        assert np.array_equal(camera.image, source.image)
        uv_read, _, valid_read = project_points(original.lidar.points, camera)
        uv_source, _, valid_source = project_points(original.lidar.points, source)
        assert valid_source.sum() > 50 and np.array_equal(valid_read, valid_source)
        np.testing.assert_allclose(uv_read[valid_source], uv_source[valid_source], atol=1e-6)


def test_boxes_in_view_round_trip(drive):
    frames, back, _ = drive
    total = 0
    for original, read in zip(frames, back):
        source, got = original.annotations.boxes, read.annotations.boxes
        _, visible = project_boxes(source, original.cameras["CAM_FRONT"])
        readable = np.array([CLASS_TO_KITTI[name] in KITTI_TO_CLASS for name in source.class_names()], bool)
        matched = set()
        for i in range(len(got)):
            j = int(np.argmin(np.linalg.norm(source.center - got.center[i], axis=1)))
            matched.add(j)
            np.testing.assert_allclose(got.center[i], source.center[j], atol=1e-4)
            np.testing.assert_allclose(got.size[i], source.size[j], atol=1e-5)
            assert abs(float(wrap_angle(got.yaw[i] - source.yaw[j]))) < 1e-4
            assert KITTI_TO_CLASS[CLASS_TO_KITTI[source.class_names()[j]]] == got.class_names()[i]
        # every fully-in-front box with a corner in the image and a readable KITTI type comes back
        assert set(np.flatnonzero(visible & readable)) <= matched
        total += len(got)
    assert total >= 5


def test_label_fields_are_plausible(drive):
    _, _, root = drive
    dataset = KittiDataset(root, split="val")
    objects = [obj for frame_id in dataset.frame_ids for obj in dataset.objects(frame_id)]
    assert objects
    assert all(0.0 <= obj.truncated <= 1.0 for obj in objects)
    assert all(0 <= obj.bbox[0] < obj.bbox[2] <= 159 and 0 <= obj.bbox[1] < obj.bbox[3] <= 89 for obj in objects)
    # the simulator gives dense depth, so occlusion is known for boxes that cover pixels
    assert sum(obj.occluded != 3 for obj in objects) >= len(objects) // 2
