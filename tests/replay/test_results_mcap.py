"""results.mcap of a replay, read back with the ``mcap`` reader and protobuf, against values computed
here from the frames and an independent forward pass of the same model."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mcap_read import read_messages

from perception.data import collate_inputs, frame_to_inputs
from perception.replay.foxglove_sink import TOPICS, foxglove_outputs
from perception.replay.runner import STAGES, replay
from sensors.classes import DETECTION_CLASSES, MAP_CLASSES


@pytest.fixture(scope="module")
def replayed(sim_frames, tiny_model, tmp_path_factory):
    """(messages by topic, stats, independent predictions) of a replay of the simulated frames."""
    model, config = tiny_model
    path = tmp_path_factory.mktemp("replay") / "results.mcap"
    with foxglove_outputs(path, config.model.heads.segmentation.grid) as publisher:
        stats = replay(sim_frames, model, [publisher], torch.device("cpu"), progress=False)
    with torch.inference_mode():
        predictions = [model.decode(model(collate_inputs([frame_to_inputs(f, config.model)])))[0] for f in sim_frames]
    return read_messages(path), stats, predictions


def _ns(us: int) -> int:
    return us * 1000


def test_every_frame_is_replayed_and_timed(replayed, sim_frames):
    _, stats, _ = replayed
    assert stats.frames == len(sim_frames) and stats.dropped == 0 and not stats.interrupted
    assert stats.frames_missing_sensor == 0
    assert all(len(stats.stage_s[s]) == len(sim_frames) for s in STAGES)
    assert stats.latency_ms()["model"][0] > 0


def test_point_cloud_is_the_input(replayed, sim_frames):
    messages = replayed[0][TOPICS["points"]]
    assert [t for t, _ in messages] == [_ns(f.lidar.timestamp) for f in sim_frames]
    for (_, msg), frame in zip(messages, sim_frames):
        assert msg.frame_id == "base_link" and msg.point_stride == 20
        assert [f.name for f in msg.fields] == ["x", "y", "z", "intensity", "time"]
        np.testing.assert_array_equal(np.frombuffer(msg.data, "<f4").reshape(-1, 5), frame.lidar.points)


def test_boxes_are_the_predictions(replayed, sim_frames):
    messages, _, predictions = replayed
    updates = messages[TOPICS["boxes"]]
    assert [t for t, _ in updates] == [_ns(f.timestamp) for f in sim_frames]
    for (_, update), prediction in zip(updates, predictions):
        boxes = prediction.boxes
        assert len(boxes) > 0 and len(update.entities) == len(boxes)
        assert update.deletions[0].type == 1  # ALL: earlier boxes go
        for i, entity in enumerate(update.entities):
            cube = entity.cubes[0]
            p, q = cube.pose.position, cube.pose.orientation
            np.testing.assert_allclose([p.x, p.y, p.z], boxes.center[i], atol=1e-4)
            np.testing.assert_allclose([cube.size.x, cube.size.y, cube.size.z], boxes.size[i], rtol=1e-4)
            assert np.isclose(2 * np.arctan2(q.z, q.w), boxes.yaw[i], atol=1e-4) or \
                np.isclose(abs(2 * np.arctan2(q.z, q.w) - boxes.yaw[i]), 2 * np.pi, atol=1e-4)
            name = DETECTION_CLASSES[boxes.label[i]]
            assert entity.texts[0].text.startswith(f"{name} {boxes.score[i]:.2f}")
            assert {kv.key: kv.value for kv in entity.metadata}["class"] == name


def test_ground_truth_boxes(replayed, sim_frames):
    updates = replayed[0][TOPICS["gt_boxes"]]
    for (_, update), frame in zip(updates, sim_frames):
        gt = frame.annotations.boxes
        assert len(update.entities) == len(gt)
        centres = np.array([[e.cubes[0].pose.position.x, e.cubes[0].pose.position.y, e.cubes[0].pose.position.z]
                            for e in update.entities])
        np.testing.assert_allclose(centres, gt.center, atol=1e-9)


def _corners(center, size, yaw):
    """The 8 corners of a box, computed here: (+-l/2, +-w/2, +-h/2) rotated by yaw."""
    local = np.array([[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (-0.5, 0.5)]) * size
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return local @ rot.T + center


def test_image_annotations_are_projected_boxes(replayed, sim_frames):
    messages, _, predictions = replayed
    checked = 0
    for name in sim_frames[0].cameras:
        annotations = messages[TOPICS["annotations"].format(camera=name)]
        for (t, ann), frame, prediction in zip(annotations, sim_frames, predictions):
            camera = frame.cameras[name]
            assert t == _ns(camera.timestamp)
            ego_to_cam = np.linalg.inv(camera.cam_to_ego)
            boxes = prediction.boxes
            expected = []
            for i in range(len(boxes)):
                xyz = _corners(boxes.center[i], boxes.size[i], boxes.yaw[i]) @ ego_to_cam[:3, :3].T + ego_to_cam[:3, 3]
                if np.any(xyz[:, 2] <= 0.1):
                    continue
                uv = (xyz @ camera.intrinsics.T)[:, :2] / xyz[:, 2:]
                inside = (uv[:, 0] >= 0) & (uv[:, 0] < camera.width) & (uv[:, 1] >= 0) & (uv[:, 1] < camera.height)
                if inside.any():
                    expected.append(uv)
            assert len(ann.points) == len(expected) == len(ann.texts)
            for drawn, uv in zip(ann.points, expected):
                pts = np.array([[p.x, p.y] for p in drawn.points])
                assert len(pts) == 24  # 12 edges as a line list
                # every drawn vertex is one of the 8 projected corners, and all 8 are drawn
                d = np.linalg.norm(pts[:, None, :] - uv[None, :, :], axis=2)
                assert np.all(d.min(axis=1) < 1e-3) and np.all(d.min(axis=0) < 1e-3)
                checked += 1
    assert checked > 0


def test_bev_grid_holds_the_probabilities(replayed, sim_frames, tiny_model):
    messages, _, predictions = replayed
    grid = tiny_model[1].model.heads.segmentation.grid
    for (t, msg), frame, prediction in zip(messages[TOPICS["bev"]], sim_frames, predictions):
        assert t == _ns(frame.timestamp)
        probs = prediction.bev_map  # (C, X, Y)
        _c, nx, ny = probs.shape
        assert msg.column_count == nx and [f.name for f in msg.fields] == list(MAP_CLASSES)
        assert (msg.pose.position.x, msg.pose.position.y) == (grid.xmin, grid.ymin)
        data = np.frombuffer(msg.data, np.uint8)
        for ci, i, j in [(0, 0, 0), (0, nx - 1, 0), (2, 3, ny - 1), (5, nx // 2, ny // 3)]:
            value = data[j * msg.row_stride + i * msg.cell_stride + msg.fields[ci].offset]
            assert abs(int(value) - probs[ci, i, j] * 255) <= 0.5 + 1e-3  # probability in 1/255 steps


def test_depth_images(replayed, sim_frames):
    messages, _, predictions = replayed
    for name in sim_frames[0].cameras:
        for (t, msg), frame, prediction in zip(messages[TOPICS["depth"].format(camera=name)], sim_frames, predictions):
            assert t == _ns(frame.cameras[name].timestamp) and msg.encoding == "32FC1"
            depth = np.frombuffer(msg.data, "<f4").reshape(msg.height, msg.width)
            np.testing.assert_allclose(depth, prediction.depth[name], rtol=1e-4, atol=1e-4)


def test_images_and_transforms(replayed, sim_frames):
    import cv2

    messages = replayed[0]
    for (t, msg), frame in zip(messages[TOPICS["image"].format(camera="CAM_FRONT")], sim_frames):
        image = cv2.cvtColor(cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert msg.format == "jpeg" and image.shape == frame.cameras["CAM_FRONT"].image.shape
        assert np.abs(image.astype(int) - frame.cameras["CAM_FRONT"].image).mean() < 6  # JPEG loss only
    for (t, msg), frame in zip(messages[TOPICS["tf"]], sim_frames):
        by_child = {tf.child_frame_id: tf for tf in msg.transforms}
        ego = by_child["base_link"]
        assert ego.parent_frame_id == "map"
        np.testing.assert_allclose([ego.translation.x, ego.translation.y, ego.translation.z],
                                   frame.ego_to_global[:3, 3], atol=1e-9)
        cam = by_child["CAM_FRONT"]
        q = cam.rotation  # rotation of the camera's z (optical axis) into the ego frame
        w, x, y, z = q.w, q.x, q.y, q.z
        optical_axis = np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])
        np.testing.assert_allclose(optical_axis, frame.cameras["CAM_FRONT"].cam_to_ego[:3, 2], atol=1e-9)


def test_driver_state(replayed, sim_frames, tiny_model):
    messages, _, predictions = replayed
    states = messages[TOPICS["driver_state"]]
    assert [t for t, _ in states] == [_ns(f.cabin.timestamp) for f in sim_frames]
    for (_, state), prediction in zip(states, predictions):
        assert state["eye_closed_p"] == pytest.approx(prediction.eye_closed, abs=1e-5)
        assert state["gaze_zone"] == max(state["gaze_p"], key=state["gaze_p"].get)
        assert 0.0 <= state["perclos"] <= 1.0
    assert len(messages[TOPICS["cabin"]]) == len(sim_frames)


def test_ground_truth_map(replayed, sim_frames):
    for (t, msg), frame in zip(replayed[0][TOPICS["gt_bev"]], sim_frames):
        layers = frame.annotations.bev_map.layers  # (C, X, Y) bool
        c, nx, ny = layers.shape
        assert t == _ns(frame.timestamp) and msg.column_count == nx and msg.cell_stride == c
        cells = np.frombuffer(msg.data, np.uint8).reshape(ny, nx, c)  # rows along y, columns along x
        np.testing.assert_array_equal(cells, np.transpose(layers, (2, 1, 0)).astype(np.uint8) * 255)
