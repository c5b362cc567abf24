"""The node's logic fed a recorded (simulated) bag message by message, against what the replay
loop of ``perception replay`` predicts on the same bag."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from node_setup import TINY, FakeTransport, bag_messages

from perception.node.logic import OK, WARN, PerceptionNode
from perception.node.params import NodeParams
from sensors.classes import DETECTION_CLASSES, MAP_CLASSES
from sensors.ros.detections import decode_detection3d_array
from sensors.ros.grid import decode_layer
from sensors.ros.profile import load_profile
from sensors.ros.types import stamp_to_ns


def make_node(tiny_model, transport=None, **params):
    model, config = tiny_model
    node_params = NodeParams(checkpoint=str(TINY), **params)
    return PerceptionNode(node_params, node_params.check(), transport or FakeTransport(), model, config,
                          torch.device("cpu"))


def feed(node, messages, drain: bool = True):
    for topic, msg, log_time in messages:
        node.on_message(topic, msg, log_time)
        while drain and node.process_next(0):
            pass
    node.flush()
    while node.process_next(0):
        pass


@pytest.fixture(scope="module")
def fed(sim_bag, tiny_model):
    transport = FakeTransport()
    node = make_node(tiny_model, transport)
    feed(node, bag_messages(sim_bag))
    return node, transport


def test_every_frame_published_as_replay_predicts(fed, replayed):
    node, transport = fed
    assert node.counters.frames_dropped == 0 and node.counters.frames_skipped == 0
    assert node.counters.frames_built == node.counters.frames_published == len(replayed) == 4
    detections = transport.sent["/perception/detections"]
    assert len(detections) == len(replayed)
    for msg, (frame, prediction) in zip(detections, replayed):
        # Header copied from the point cloud: its stamp and its frame (LIDAR_TOP, not base_link).
        assert stamp_to_ns(msg.header.stamp) == frame.lidar.timestamp * 1000
        assert msg.header.frame_id == "LIDAR_TOP"
        boxes, skipped = decode_detection3d_array(msg)
        assert skipped == 0 and len(boxes) == len(prediction.boxes) > 0
        in_ego = boxes.transform(frame.lidar.lidar_to_ego)
        np.testing.assert_allclose(in_ego.center, prediction.boxes.center, atol=1e-5)
        np.testing.assert_allclose(in_ego.size, prediction.boxes.size, atol=1e-6)
        np.testing.assert_allclose(np.cos(in_ego.yaw - prediction.boxes.yaw), 1.0, atol=1e-9)
        np.testing.assert_array_equal(in_ego.label, prediction.boxes.label)
        np.testing.assert_allclose(in_ego.score, prediction.boxes.score, atol=1e-7)


def test_autoware_objects_and_markers_match_the_detections(fed, replayed):
    _, transport = fed
    autoware = {"car": 1, "truck": 2, "construction_vehicle": 2, "bus": 3, "trailer": 4, "motorcycle": 5, "bicycle": 6, "pedestrian": 7}
    for objects, markers, (_, prediction) in zip(transport.sent["/perception/objects"],
                                                 transport.sent["/perception/markers"], replayed):
        boxes = prediction.boxes
        assert objects.header.frame_id == markers.markers[0].header.frame_id == "LIDAR_TOP"
        assert len(objects.objects) == len(boxes) and len(markers.markers) == 1 + 2 * len(boxes)
        for obj, label, score, size in zip(objects.objects, boxes.label, boxes.score, boxes.size):
            assert obj.classification[0].label == autoware.get(DETECTION_CLASSES[label], 0)
            assert obj.existence_probability == pytest.approx(score, abs=1e-6)
            assert obj.shape.type == 0
            np.testing.assert_allclose([obj.shape.dimensions.x, obj.shape.dimensions.y, obj.shape.dimensions.z],
                                       size, atol=1e-9)


def test_bev_grids_depth_and_driver_state(fed, replayed, tiny_model):
    _, transport = fed
    tiny_grid = tiny_model[1].model.heads.segmentation.grid
    for i, (frame, prediction) in enumerate(replayed):
        for c, name in enumerate(MAP_CLASSES):
            grid = transport.sent[f"/perception/bev/{name}"][i]
            nx, ny = prediction.bev_map[c].shape
            assert (grid.info.width, grid.info.height) == (nx, ny)
            cells = grid.data.reshape(ny, nx)  # row y, column x
            np.testing.assert_array_equal(cells.T, np.rint(prediction.bev_map[c] * 100).astype(np.int8))
            # Axis-aligned in base_link at the cloud's time; the bags' reader reads it back.
            assert grid.header.frame_id == "base_link" and stamp_to_ns(grid.header.stamp) == frame.lidar.timestamp * 1000
            layer, bev_grid = decode_layer(grid)
            np.testing.assert_array_equal(layer, np.rint(prediction.bev_map[c] * 100) >= 50)
            assert bev_grid == tiny_grid
        for camera, depth in prediction.depth.items():
            image = transport.sent[f"/perception/{camera}/depth"][i]
            assert image.encoding == "32FC1" and stamp_to_ns(image.header.stamp) == frame.cameras[camera].timestamp * 1000
            np.testing.assert_array_equal(image.data.view("<f4").reshape(image.height, image.width), depth)
    states = transport.sent["/perception/driver_state"]
    assert len(states) == len(replayed)
    for state, (frame, prediction) in zip(states, replayed):
        assert stamp_to_ns(state.header.stamp) == frame.cabin.timestamp * 1000
        assert state.eye_closed_probability == pytest.approx(prediction.eye_closed, abs=1e-6)
        np.testing.assert_allclose(state.gaze_probabilities, prediction.gaze, atol=1e-6)
        assert state.head_yaw_deg == pytest.approx(prediction.head_pose[0], abs=1e-4)
    for name in ("preprocessing_ms", "inference_ms", "postprocessing_ms"):
        values = [m.data for m in transport.sent[f"/perception/timing/{name}"]]
        assert len(values) == len(replayed) and all(v > 0 for v in values)


def test_diagnostics_of_a_clean_run(fed):
    node, _ = fed
    statuses = {s.name.split(": ", 1)[1]: s for s in node.diagnostics().status}
    values = {kv.key: kv.value for kv in statuses["inference"].values}
    assert statuses["inference"].level == OK and values["frames_published"] == "4"
    assert statuses["inputs"].level == OK
    # One status per sensor of the profile.
    assert {s for s in statuses if s.startswith("sensor ")} == {f"sensor {n}" for n in
                                                              ["lidar", *load_profile("sim").cameras, "cabin"]}


def test_no_subscriber_no_inference(sim_bag, tiny_model):
    transport = FakeTransport(subscribers=0)
    node = make_node(tiny_model, transport)
    feed(node, bag_messages(sim_bag))
    assert node.counters.frames_skipped == 4 and node.counters.frames_published == 0
    assert not transport.sent


def test_only_subscribed_outputs_are_built(sim_bag, tiny_model):
    transport = FakeTransport(subscribers=0, counts={"/perception/objects": 1})
    node = make_node(tiny_model, transport)
    feed(node, bag_messages(sim_bag)[:60])
    assert set(transport.sent) == {"/perception/objects"} and node.counters.frames_published >= 1


def test_slow_inference_drops_waiting_frames(sim_bag, tiny_model):
    """Nothing is run while the bag is fed: each frame is replaced by the next one."""
    node = make_node(tiny_model)
    feed(node, bag_messages(sim_bag), drain=False)
    assert node.counters.frames_built == 4
    assert node.counters.frames_dropped == 3 and node.counters.frames_published == 1
    statuses = {s.name.split(": ", 1)[1]: s for s in node.diagnostics().status}
    assert statuses["inference"].level == WARN and "3 frames dropped" in statuses["inference"].message


def test_threads_infer_publish_diagnostics_and_build_the_last_frame(sim_bag, tiny_model):
    """Started, the node infers on its own thread while messages keep coming; the last frame is
    built once the inputs go quiet (no flush called); /diagnostics comes on its own timer."""
    import time

    transport = FakeTransport()
    node = make_node(tiny_model, transport, diagnostics_period_s=0.05)
    node.start()
    try:
        for topic, msg, log_time in bag_messages(sim_bag):
            node.on_message(topic, msg, log_time)
        c = node.counters
        deadline = time.monotonic() + 120
        while (c.frames_built < 4 or c.frames_published + c.frames_dropped < c.frames_built) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        node.stop()
    assert c.frames_built == 4 and c.frames_published >= 1
    assert c.frames_published + c.frames_dropped == 4 and not c.errors
    assert len(transport.sent["/perception/detections"]) == c.frames_published
    diagnostics = transport.sent["/diagnostics"]
    assert diagnostics and {s.name for s in diagnostics[-1].status} >= {"perception_node: inference",
                                                                        "perception_node: inputs"}
