"""The simulated drive: determinism, shapes, timing, classes, ego pose and map."""
from __future__ import annotations

import re

import numpy as np
import pytest

from sensors.classes import DETECTION_CLASSES, MAP_CLASSES
from sensors.frame import CAMERA_NAMES
from sensors.sim import SimConfig, simulate_drive
from sensors.sim.config import EPOCH_US


def _arrays(frame):
    out = [frame.lidar.points, frame.annotations.boxes.center, frame.annotations.boxes.velocity, frame.cabin.image,
           frame.annotations.bev_map.layers, frame.ego_to_global]
    out += [c.image for c in frame.cameras.values()] + [c.depth for c in frame.cameras.values()]
    out += [np.array([c.timestamp for c in frame.cameras.values()] + [frame.cabin.timestamp])]
    out += [c.ego_to_global for c in frame.cameras.values()] + [c.cam_to_ego for c in frame.cameras.values()]
    out += [s.points for s in frame.sweeps]
    return out


def test_same_seed_gives_identical_frames(small_drive, small_config):
    # A shorter drive of the same seed shares the world: its frames are the first ones.
    again = list(simulate_drive(small_config, seed=3, num_frames=2, scene_name="scene-0061"))
    for a, b in zip(small_drive[:2], again):
        assert a.token == b.token and a.timestamp == b.timestamp
        assert a.annotations.boxes.token == b.annotations.boxes.token
        for x, y in zip(_arrays(a), _arrays(b)):
            np.testing.assert_array_equal(x, y)


def test_different_seed_gives_different_world(small_drive, small_config):
    other = next(simulate_drive(small_config, seed=4, num_frames=1, scene_name="scene-0061"))
    first = small_drive[0]
    assert other.token != first.token
    assert not np.array_equal(other.cameras["CAM_FRONT"].image, first.cameras["CAM_FRONT"].image)
    assert len(other.lidar.points) != len(first.lidar.points) or not np.array_equal(other.lidar.points, first.lidar.points)


def test_shapes_dtypes_and_timestamps(small_drive, small_config):
    for i, frame in enumerate(small_drive):
        assert re.fullmatch(r"[0-9a-f]{32}", frame.token)
        assert frame.scene == "scene-0061"
        assert frame.timestamp == EPOCH_US + int(round((0.45 + 0.5 * i) * 1e6))
        assert list(frame.cameras) == list(CAMERA_NAMES)
        for name, cam in frame.cameras.items():
            assert cam.image.shape == (90, 160, 3) and cam.image.dtype == np.uint8
            assert cam.depth.shape == (90, 160) and cam.depth.dtype == np.float32
            assert frame.annotations.depth[name] is cam.depth
            assert frame.timestamp - 50_000 < cam.timestamp <= frame.timestamp
        assert frame.cabin.name == "CAM_CABIN" and frame.cabin.image.shape == (60, 80, 3)
        assert np.array_equal(frame.cabin.image[..., 0], frame.cabin.image[..., 2])  # grey
        pts = frame.lidar.points
        assert pts.dtype == np.float32 and pts.shape[1] == 5
        assert np.all(pts[:, 4] == 0) and pts[:, 3].min() >= 0 and pts[:, 3].max() <= 255
        assert len(frame.sweeps) == small_config.sweeps_per_keyframe - 1
        stamps = [s.timestamp for s in frame.sweeps] + [frame.timestamp]
        assert np.all(np.diff(stamps) == 50_000)
        assert frame.annotations.bev_map.layers.shape == (len(MAP_CLASSES), 200, 200)


def test_zero_sweeps_and_disabled_sensors():
    config = SimConfig(image_size=(90, 160), num_lidar_beams=4, lidar_azimuth_steps=90, sweeps_per_keyframe=0,
                       enable_cameras=False, enable_depth=False, enable_cabin=False)
    frame = next(simulate_drive(config, seed=1, num_frames=1))
    assert frame.sweeps == [] and frame.cameras == {} and frame.cabin is None
    assert frame.annotations.driver is None and frame.annotations.depth == {}


def test_ego_moves_forward_on_drivable_area(small_drive, small_config):
    grid = small_config.bev_grid
    drivable = MAP_CLASSES.index("drivable_area")
    for frame in small_drive:
        i, j = int((0.0 - grid.xmin) / grid.resolution), int((0.0 - grid.ymin) / grid.resolution)
        assert frame.annotations.bev_map.layers[drivable, i - 2:i + 8, j - 2:j + 2].all()
        assert not frame.annotations.bev_map.layers[MAP_CLASSES.index("walkway"), i, j]
    for layer in range(len(MAP_CLASSES)):
        assert any(f.annotations.bev_map.layers[layer].any() for f in small_drive), MAP_CLASSES[layer]
    positions = np.array([f.ego_to_global[:3, 3] for f in small_drive])
    steps = np.linalg.norm(np.diff(positions, axis=0), axis=1) / 0.5
    assert np.all((steps > 4.0) & (steps < 14.0))  # m/s, realistic urban speed


def test_all_ten_classes_appear(small_drive):
    labels = set(np.concatenate([f.annotations.boxes.label for f in small_drive]).tolist())
    assert labels == set(range(len(DETECTION_CLASSES)))


def test_box_sizes_are_realistic(small_drive):
    boxes = small_drive[0].annotations.boxes
    expected = {"car": (4.6, 1.9, 1.7), "bus": (11.0, 2.9, 3.5), "pedestrian": (0.7, 0.7, 1.75), "barrier": (0.5, 2.5, 1.0)}
    for name, size in expected.items():
        sizes = boxes.size[boxes.label == DETECTION_CLASSES.index(name)]
        if len(sizes):
            assert np.allclose(np.median(sizes, axis=0), size, rtol=0.4), name


def test_velocity_matches_finite_differences(small_drive):
    errors = []
    for a, b in zip(small_drive[:-1], small_drive[1:]):
        ga = a.annotations.boxes.transform(a.ego_to_global)
        gb = b.annotations.boxes.transform(b.ego_to_global)
        index_b = {tok: i for i, tok in enumerate(gb.token)}
        dt = (b.timestamp - a.timestamp) / 1e6
        for i, tok in enumerate(ga.token):
            if tok in index_b:
                j = index_b[tok]
                fd = (gb.center[j, :2] - ga.center[i, :2]) / dt
                errors.append(np.linalg.norm(fd - (ga.velocity[i] + gb.velocity[j]) / 2))
    errors = np.array(errors)
    assert len(errors) > 100
    assert np.median(errors) < 0.05 and np.quantile(errors, 0.95) < 0.6


def test_attributes_follow_motion(small_drive):
    from sensors.classes import ATTRIBUTES
    boxes = small_drive[0].annotations.boxes
    speed = np.linalg.norm(boxes.velocity, axis=1)
    for i, attr in enumerate(boxes.attribute):
        name = DETECTION_CLASSES[boxes.label[i]]
        if name in ("traffic_cone", "barrier"):
            assert attr == -1
        elif name in ("car", "bus", "truck", "pedestrian"):
            assert ATTRIBUTES[attr].endswith("moving") == (speed[i] > 0.2)


@pytest.mark.parametrize("bad", [dict(sweeps_per_keyframe=11), dict(image_size=(4, 4)), dict(lidar_dropout=1.0),
                                 dict(keyframe_rate_hz=3.0), dict(enable_cameras=False)])
def test_bad_config_raises(bad):
    with pytest.raises(ValueError, match="SimConfig"):
        SimConfig(**bad)


def test_negative_seed_raises(small_config):
    with pytest.raises(ValueError, match="seed"):
        next(simulate_drive(small_config, seed=-1, num_frames=1))


def test_no_agent_overlaps_the_ego(small_drive):
    xs, ys = np.meshgrid(np.arange(-1.0, 3.9, 0.2), np.arange(-0.95, 0.96, 0.2))
    footprint = np.column_stack([xs.ravel(), ys.ravel(), np.full(xs.size, 0.5)])
    for frame in small_drive:
        boxes = frame.annotations.boxes
        assert not boxes.points_inside(footprint).any()
