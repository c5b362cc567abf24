"""Bad input to the node: one log line, a count in /diagnostics, and the node keeps going; bad
start-up parameters end it with one line and exit status 2."""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
import torch
from node_setup import TINY, FakeTransport, bag_messages
from test_logic import feed, make_node

from perception.cli import main
from perception.node.logic import ERROR, OK, WARN, PerceptionNode
from perception.node.params import NodeParams
from perception.node.startup import create_node
from sensors.ros.types import stamp_to_ns

LIDAR, FRONT, FRONT_INFO = "/LIDAR_TOP", "/CAM_FRONT/image_rect_compressed", "/CAM_FRONT/camera_info"


@pytest.fixture(scope="module")
def messages(sim_bag):
    return bag_messages(sim_bag)


def statuses(node):
    return {s.name.split(": ", 1)[1]: s for s in node.diagnostics().status}


def values(status):
    return {kv.key: kv.value for kv in status.values}


def lidar_indices(messages):
    return [i for i, (topic, _, _) in enumerate(messages) if topic == LIDAR]


def with_stamp(msg, stamp_ns):
    time = replace(msg.header.stamp, sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    return replace(msg, header=replace(msg.header, stamp=time))


def test_cloud_without_xyz_runs_the_frame_camera_only(messages, tiny_model, caplog):
    bad = list(messages)
    i = lidar_indices(bad)[1]
    topic, msg, t = bad[i]
    fields = [replace(f, name={"x": "a", "y": "b", "z": "c"}.get(f.name, f.name)) for f in msg.fields]
    bad[i] = (topic, replace(msg, fields=fields), t)
    transport = FakeTransport()
    node = make_node(tiny_model, transport)
    with caplog.at_level(logging.WARNING, logger="perception.node"):
        feed(node, bad)
    assert node.counters.frames_published == 4  # the frame without LiDAR still ran, on the cameras
    assert node.summary.unusable["PointCloud2 does not decode"] == 1 and node.summary.missing["lidar"] == 1
    lines = [r.getMessage() for r in caplog.records if "PointCloud2 does not decode" in r.getMessage()]
    assert len(lines) == 1 and "no x/y/z field" in lines[0]
    inputs = statuses(node)["inputs"]
    assert inputs.level == WARN and values(inputs)["bad PointCloud2 does not decode"] == "1"
    assert values(inputs)["frames without lidar"] == "1"


@pytest.mark.parametrize("damage, reason", [
    ("image", "image does not decode"),
    ("info", "unusable CameraInfo"),
])
def test_camera_damage_is_counted_and_the_frame_goes_on(messages, tiny_model, caplog, damage, reason):
    bad = []
    for topic, msg, t in messages:
        if damage == "image" and topic == FRONT:
            msg = replace(msg, data=np.frombuffer(b"not a jpeg at all", np.uint8))
        if damage == "info" and topic == FRONT_INFO:
            msg = replace(msg, k=np.zeros(9), p=np.zeros(12))
        bad.append((topic, msg, t))
    node = make_node(tiny_model, FakeTransport(subscribers=0))
    with caplog.at_level(logging.WARNING, logger="perception.node"):
        feed(node, bad)
    assert node.counters.frames_built == 4 and node.summary.missing["CAM_FRONT"] == 4
    assert node.summary.unusable[reason] == 4
    assert sum(reason in r.getMessage() for r in caplog.records) == 1  # logged once
    assert values(statuses(node)["inputs"])[f"bad {reason}"] == "4"


def test_lidar_out_of_order_is_counted(messages, tiny_model):
    bad = list(messages)
    first, second = lidar_indices(bad)[:2]
    late = bad.pop(first)
    bad.insert(second + 30, late)  # the first sweep arrives after the second frame is built
    node = make_node(tiny_model, FakeTransport(subscribers=0))
    feed(node, bad)
    assert node.counters.frames_built == 3
    assert node.summary.unusable["LiDAR message older than a frame already built"] == 1


def test_stamp_far_in_the_future_is_refused(messages, tiny_model, caplog):
    bad = list(messages)
    i = lidar_indices(bad)[1]
    topic, msg, t = bad[i]
    bad[i] = (topic, with_stamp(msg, stamp_to_ns(msg.header.stamp) + 3600 * 10**9), t)
    node = make_node(tiny_model, FakeTransport(subscribers=0))
    with caplog.at_level(logging.WARNING, logger="perception.node"):
        feed(node, bad)
    assert node.counters.stamps_refused["stamp far in the future"] == 1
    assert node.counters.frames_built == 3 and node.counters.resyncs == 0  # the others are untouched
    assert sum("stamp far in the future" in r.getMessage() for r in caplog.records) == 1
    assert values(statuses(node)["inputs"])["bad stamp far in the future"] == "1"


def test_a_clock_jump_resynchronizes(messages, tiny_model):
    """Every stamp jumps by an hour after the first two sweeps: after ``resync_after`` refused
    sweeps, the node follows the new time base."""
    lidar = lidar_indices(messages)
    jump = 3600 * 10**9
    shifted = [(topic, with_stamp(msg, stamp_to_ns(msg.header.stamp) + jump) if i >= lidar[2] and topic != "/tf_static"
                and hasattr(msg, "header") else msg, t) for i, (topic, msg, t) in enumerate(messages)]
    shifted = [(topic, replace(msg, transforms=[with_stamp(x, stamp_to_ns(x.header.stamp) + jump) for x in msg.transforms])
                if topic == "/tf" and i >= lidar[2] else msg, t) for i, (topic, msg, t) in enumerate(shifted)]
    node = make_node(tiny_model, FakeTransport(subscribers=0), resync_after=2)
    feed(node, shifted)
    assert node.counters.resyncs == 1
    assert node.counters.frames_built >= 3  # frames before the jump, and the last one after it


def test_camera_that_stops_turns_warn_and_frames_go_on(messages, tiny_model):
    now = [0.0]
    params = NodeParams(checkpoint=str(TINY), sensor_timeout_s=0.5)
    model, config = tiny_model

    node = PerceptionNode(params, params.check(), FakeTransport(subscribers=0), model, config, torch.device("cpu"),
                          clock=lambda: now[0])
    stop_at = messages[lidar_indices(messages)[1]][2]
    for topic, msg, t in messages:
        now[0] = t * 1e-9 - messages[0][2] * 1e-9
        if topic == FRONT and t > stop_at:
            continue
        node.on_message(topic, msg, t)
    node.flush()
    status = statuses(node)
    assert status["sensor CAM_FRONT"].level == WARN and "silent for" in status["sensor CAM_FRONT"].message
    assert status["sensor lidar"].level == OK and status["sensor CAM_BACK"].level == OK
    assert node.counters.frames_built == 4 and node.summary.missing["CAM_FRONT"] >= 2


def test_checkpoint_that_does_not_match_the_config_keeps_the_node_up(tmp_path, tiny_model, messages, caplog):
    import yaml

    from perception.config import config_to_dict

    spec = config_to_dict(tiny_model[1])
    spec["model"]["modality_dropout"] = 0.37
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(spec))
    transport = FakeTransport()
    with caplog.at_level(logging.WARNING, logger="perception.node"):
        node = create_node(NodeParams(checkpoint=str(TINY), config=str(other)), transport)
        feed(node, messages[:80])
    assert node.model is None and node.counters.frames_skipped >= 1 and not transport.sent
    inference = statuses(node)["inference"]
    assert inference.level == ERROR and "no inference" in inference.message
    assert sum("no inference" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("args, words", [
    (["--checkpoint", "/nonexistent/model.pt"], "parameter checkpoint: no such file"),
    (["--checkpoint", str(TINY), "--profile", "no_such_profile"], "no such replay profile"),
    (["--checkpoint", str(TINY), "--sync-tolerance", "-1"], "sync_tolerance_s"),
    (["--params", "/nonexistent/params.yaml"], "parameter file does not exist"),
])
def test_bad_start_up_parameter_is_one_line_and_exit_2(args, words, capsys):
    assert main(["ros-node", "--transport", "dds", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and err[0].startswith("perception ros-node: error:")


def test_rclpy_transport_without_ros_is_one_line(capsys):
    from perception.node import rclpy_node

    if rclpy_node.available():
        pytest.skip("ROS 2 is installed here")
    assert main(["ros-node", "--transport", "rclpy", "--checkpoint", str(TINY)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rclpy is not importable" in err[0] and "--transport dds" in err[0]
