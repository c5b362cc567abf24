"""QoS of the DDS transport against Cyclone DDS itself (loopback, in this process)."""
from __future__ import annotations

import random
import time

import numpy as np
import pytest

pytest.importorskip("cyclonedds")

from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from perception.node.dds import (
    LOOPBACK_CONFIG,
    STATIC_LISTENER_QOS,
    STATIC_QOS,
    DdsTransport,
)
from sensors.ros.idl import dds_topic_name, from_idl, idl_type
from sensors.ros.tf import tf_message, transform_to_msg

TF = "tf2_msgs/msg/TFMessage"


@pytest.fixture
def loopback(monkeypatch):
    monkeypatch.setenv("CYCLONEDDS_URI", LOOPBACK_CONFIG)
    return random.randint(100, 230)


def test_tf_static_of_several_broadcasters_all_arrive(loopback):
    """Three static broadcasters (as three ``static_transform_publisher`` nodes) latch one
    /tf_static message each before the node starts; the node's reader must keep all three (a
    reader keeping the last one only loses the transforms of the other two)."""
    broadcasters = [DdsTransport(loopback) for _ in range(3)]
    for i, transport in enumerate(broadcasters):
        transform = np.eye(4)
        transform[0, 3] = i
        transport.advertise("/tf_static", TF, STATIC_QOS)
        transport.publish("/tf_static", TF, tf_message(transport.store, [
            transform_to_msg(transport.store, "base_link", f"sensor_{i}", transform, 0)]))
    node = DdsTransport(loopback)
    reader = DataReader(node.participant, Topic(node.participant, dds_topic_name("/tf_static"), idl_type(TF)),
                        qos=STATIC_LISTENER_QOS)  # what the node reads /tf_static with
    deadline = time.monotonic() + 20
    while node.publishers(reader) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    frames: set[str] = set()  # the historical (latched) samples follow the match, later on a loaded machine
    while not {"sensor_0", "sensor_1", "sensor_2"} <= frames and time.monotonic() < deadline:
        frames |= {str(t.child_frame_id) for s in reader.take(N=10) for t in from_idl(s, TF, node.store).transforms}
        time.sleep(0.05)
    assert {"sensor_0", "sensor_1", "sensor_2"} <= frames  # (another test may share the random domain)


def test_attach_advertises_every_output_and_reads_tf_static_latched(tiny_model):
    """The DDS transport advertises every output and /diagnostics before the first frame, reads
    /tf_static with the static listener's QoS and every other input with sensor-data QoS."""
    import torch

    from perception.node.dds import SENSOR_QOS, attach
    from perception.node.logic import PerceptionNode
    from perception.node.params import NodeParams
    from sensors.classes import MAP_CLASSES
    from sensors.ros.profile import load_profile

    class Recorder:
        def __init__(self):
            self.advertised, self.subscribed = {}, {}

        def advertise(self, topic, msgtype):
            self.advertised[topic] = msgtype

        def subscribe(self, topic, msgtype, callback, qos):
            self.subscribed[topic] = qos

    params = NodeParams(checkpoint="unused.pt")
    node = PerceptionNode(params, load_profile("sim"), Recorder(), *tiny_model, torch.device("cpu"))
    transport = Recorder()
    attach(node, transport)
    assert transport.advertised["/diagnostics"] == "diagnostic_msgs/msg/DiagnosticArray"
    assert transport.advertised["/perception/detections"] == "vision_msgs/msg/Detection3DArray"
    assert {f"/perception/bev/{name}" for name in MAP_CLASSES} <= set(transport.advertised)
    assert len(transport.advertised) == len(node.output_topics) + 1
    assert transport.subscribed.pop("/tf_static") is STATIC_LISTENER_QOS
    assert set(transport.subscribed) == set(node.input_topics) - {"/tf_static"}
    assert all(qos is SENSOR_QOS for qos in transport.subscribed.values())


def test_player_says_which_topics_have_no_subscriber(sim_bag, loopback, capsys):
    """``dds_tools play`` waits for subscribers, then says in one line which topics have none."""
    from perception.node.dds_tools import main

    topics = ["/tf_static", "/LIDAR_TOP"]
    assert main(["--domain-id", str(loopback), "play", str(sim_bag), "--rate", "0", "--wait", "0.2", "--topics", *topics]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "no subscriber after 0.2 s on 2 of 2 topics (/tf_static, /LIDAR_TOP): playing anyway"
    assert err[-1] == "played 5 messages"  # the bag's one /tf_static and four LiDAR sweeps
