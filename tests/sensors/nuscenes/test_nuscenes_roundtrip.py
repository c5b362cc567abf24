"""Write hand-built frames in the nuScenes layout and read them back."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from nuscenes_frames import CABIN_TO_EGO, LIDAR_TO_EGO, SCENE, T0, TRACKS, world_points

from sensors.dataset import open_dataset
from sensors.frame import DriverLabels, Frame
from sensors.geometry import invert_transform, transform_points, wrap_angle
from sensors.nuscenes.reader import NuScenesDataset
from sensors.nuscenes.tokens import instance_token, sample_token
from sensors.nuscenes.writer import write_nuscenes


@pytest.fixture(scope="module")
def read(nuscenes_root: Path) -> list[Frame]:
    return list(NuScenesDataset(nuscenes_root))


def test_frames_tokens_scene_and_poses(frames: list[Frame], read: list[Frame]) -> None:
    assert len(read) == len(frames)
    for original, back in zip(frames, read):
        assert back.token == sample_token(SCENE, original.token)
        assert back.scene == SCENE and back.timestamp == original.timestamp
        np.testing.assert_allclose(back.ego_to_global, original.ego_to_global, atol=1e-9)


def test_points_and_calibration(frames: list[Frame], read: list[Frame]) -> None:
    for original, back in zip(frames, read):
        np.testing.assert_allclose(back.lidar.lidar_to_ego, LIDAR_TO_EGO, atol=1e-9)
        np.testing.assert_allclose(back.lidar.points[:, :4], original.lidar.points[:, :4], atol=1e-4)
        assert np.all(back.lidar.points[:, 4] == 0)
        for name, camera in original.cameras.items():
            got = back.cameras[name]
            np.testing.assert_allclose(got.intrinsics, camera.intrinsics)
            np.testing.assert_allclose(got.cam_to_ego, camera.cam_to_ego, atol=1e-9)
            assert got.timestamp == camera.timestamp
            assert np.abs(got.image.astype(int) - camera.image).max() <= 8  # JPEG
            np.testing.assert_allclose(got.depth, camera.depth, atol=1 / 512 + 1e-6)
            np.testing.assert_array_equal(back.annotations.depth[name], got.depth)
        assert back.cabin is not None and back.cabin.name == "CAM_CABIN"
        np.testing.assert_allclose(back.cabin.cam_to_ego, CABIN_TO_EGO, atol=1e-9)
        assert list(back.cameras) == list(original.cameras)


def test_boxes_round_trip(frames: list[Frame], read: list[Frame]) -> None:
    for original, back in zip(frames, read):
        a, b = original.annotations.boxes, back.annotations.boxes
        assert b.token == [instance_token(SCENE, t) for t in a.token]
        np.testing.assert_allclose(b.center, a.center, atol=1e-6)
        np.testing.assert_allclose(b.size, a.size, atol=1e-9)
        np.testing.assert_allclose(wrap_angle(b.yaw - a.yaw), 0, atol=1e-6)
        np.testing.assert_array_equal(b.label, a.label)
        np.testing.assert_array_equal(b.attribute, a.attribute)
        # The first box carries its count; the second's is counted from the key sweep.
        assert b.num_lidar_points[0] == 12
        if len(a) > 1:
            assert b.num_lidar_points[1] == a.select([1]).points_inside(original.lidar.points).sum()


def test_velocity_matches_finite_differences(read: list[Frame]) -> None:
    """Objects move linearly: the devkit-style velocity equals the true one, rotated into ego."""
    for i, frame in enumerate(read):
        boxes = frame.annotations.boxes
        rotation = invert_transform(frame.ego_to_global)[:3, :3]
        for j, track in enumerate(["car-1", "ped-7"][: len(boxes)]):
            truth = rotation @ np.array(TRACKS[track]["velocity"])
            np.testing.assert_allclose(boxes.velocity[j], truth[:2], atol=1e-6)


def test_single_annotation_has_nan_velocity(tmp_path: Path, frames: list[Frame]) -> None:
    write_nuscenes(frames[:1], tmp_path / "one")
    boxes = NuScenesDataset(tmp_path / "one")[0].annotations.boxes
    assert np.all(np.isnan(boxes.velocity))


def test_extras_round_trip(frames: list[Frame], read: list[Frame]) -> None:
    for original, back in zip(frames, read):
        a, b = original.annotations, back.annotations
        assert b.bev_map is None  # written without a map: BEV rasters are not stored (no bev_map.json)
        assert b.driver == a.driver


def test_partly_labelled_driver_round_trip(tmp_path: Path, frames: list[Frame]) -> None:
    partial = DriverLabels(None, None, None, None, True, looking_at_road=False)
    frame = dataclasses.replace(frames[0], annotations=dataclasses.replace(frames[0].annotations, driver=partial))
    write_nuscenes([frame], tmp_path / "partial")
    assert NuScenesDataset(tmp_path / "partial")[0].annotations.driver == partial


def test_multi_sweep_compensates_ego_motion(read: list[Frame], nuscenes_root: Path) -> None:
    """A static world point seen in every sweep lands at the same key-ego position."""
    world = world_points()
    for frame in NuScenesDataset(nuscenes_root, sweeps=3, load_images=False):
        points = frame.lidar.points
        assert len(points) == 3 * len(world)
        offsets = np.unique(points[:, 4])
        np.testing.assert_allclose(np.sort(offsets), [-0.1, -0.05, 0.0], atol=1e-6)
        expected = transform_points(invert_transform(frame.ego_to_global), world[:, :3])
        for offset in offsets:
            np.testing.assert_allclose(points[points[:, 4] == offset, :3], expected, atol=1e-3)
        assert not frame.cameras and frame.cabin is None


def test_sweeps_cross_key_frames(nuscenes_root: Path) -> None:
    """Sweeps follow the LIDAR_TOP prev chain across the previous key frame (as the devkit)."""
    frame = NuScenesDataset(nuscenes_root, sweeps=5, load_images=False)[1]
    offsets = np.unique(frame.lidar.points[:, 4])
    np.testing.assert_allclose(np.sort(offsets), [-0.55, -0.5, -0.1, -0.05, 0.0], atol=1e-6)
    first = NuScenesDataset(nuscenes_root, sweeps=5, load_images=False)[0]
    assert len(np.unique(first.lidar.points[:, 4])) == 3  # chain ends at the scene start


def test_open_dataset_and_splits(nuscenes_root: Path) -> None:
    assert len(open_dataset(nuscenes_root)) == 3
    assert len(open_dataset(nuscenes_root, split="mini_train")) == 3
    assert len(NuScenesDataset(nuscenes_root, split="mini_val")) == 0
    with pytest.raises(ValueError, match="not a split"):
        NuScenesDataset(nuscenes_root, split="train", version="v1.0-mini")
    ds = NuScenesDataset(nuscenes_root, load_images=False)
    assert ds[-1].timestamp == T0 + 1_000_000 and [f.timestamp for f in ds[0:2]] == [T0, T0 + 500_000]
