"""The node over Cyclone DDS with three real processes on loopback: a player publishing a simulated
bag's LiDAR, cameras, CameraInfo and /tf, the node (``perception ros-node --transport dds``), and
a recorder subscribed to the detections; what it receives is checked against the replay loop's
predictions on the same bag.

The processes start at once and discover each other while this process simulates the bag and
runs the replay (the node's start-up, mostly importing torch, overlaps with that); the player
waits until the node subscribes to every input before it plays, so nothing is lost to discovery.
"""
from __future__ import annotations

import base64
import contextlib
import json
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from dds_setup import loopback_env
from node_setup import REPO, TINY

pytest.importorskip("cyclonedds")

from sensors.ros.detections import decode_detection3d_array
from sensors.ros.profile import load_profile
from sensors.ros.types import stamp_to_ns, typestore

#: Seconds any one step may take before the test gives up (the whole test ends within ~3 of them).
STEP_S = 60.0
#: Speed of the player: the keyframes are 0.5 s apart, so the node has 1 s per frame.
RATE = 0.5
#: Seconds without a new detection (after the player is done) after which the node has sent all.
QUIET_S = 5.0


def test_three_processes_over_dds(request, tmp_path):
    env = loopback_env(domain_id=random.randint(100, 230))
    domain = ["--domain-id", env["ROS_DOMAIN_ID"]]
    python = [sys.executable, "-m"]
    received = tmp_path / "detections.jsonl"
    processes: list[subprocess.Popen] = []
    profile = load_profile("sim")
    inputs = [profile.lidar, profile.tf, profile.tf_static,
              *(t for c in [*profile.cameras.values(), profile.cabin] for t in (c.image, c.info))]

    def log(name) -> str:
        return (tmp_path / f"{name}.log").read_text()

    def lines() -> int:
        return received.read_text().count("\n") if received.exists() else 0

    with contextlib.ExitStack() as stack:
        def start(name, args):
            out = stack.enter_context(open(tmp_path / f"{name}.log", "w"))
            process = subprocess.Popen([*python, *args], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
            processes.append(process)
            return process

        try:
            node = start("node", ["perception.cli", "ros-node", "--transport", "dds", *domain, "--checkpoint",
                                  str(TINY), "--profile", "sim", "--device", "cpu", "--duration", str(3 * STEP_S)])
            recorder = start("recorder", ["perception.node.dds_tools", *domain, "record", str(received), "--topic",
                                          "/perception/detections", "--type", "vision_msgs/msg/Detection3DArray",
                                          "--timeout", str(3 * STEP_S)])
            sim_bag = request.getfixturevalue("sim_bag")
            player = start("player", ["perception.node.dds_tools", *domain, "play", str(sim_bag), "--rate", str(RATE),
                                      "--topics", *inputs, "--wait", str(STEP_S), "--wait-for", *inputs])
            replayed = request.getfixturevalue("replayed")  # while the processes start and discover each other
            assert player.wait(STEP_S) == 0, log("player")
            assert "ready" in log("node") and "matched" in log("recorder"), log("node") + log("recorder")
            # The node publishes each frame once it has run; it has sent all when nothing came for a while.
            count, since, deadline = lines(), time.monotonic(), time.monotonic() + STEP_S
            while lines() < 1 + len(replayed) and time.monotonic() - since < QUIET_S:
                assert node.poll() is None and recorder.poll() is None and time.monotonic() < deadline, log("node")
                if lines() > count:
                    count, since = lines(), time.monotonic()
                time.sleep(0.05)
            node.send_signal(signal.SIGTERM)
            assert node.wait(STEP_S) == 0, log("node")
            summary = re.search(r"stopped: (\d+) frames built, (\d+) published, (\d+) dropped, (\d+) skipped",
                                log("node"))
            assert summary, log("node")
            built, published, dropped, skipped = map(int, summary.groups())
            deadline = time.monotonic() + STEP_S  # a frame finished while the node stopped is still on its way
            while lines() < 1 + published and time.monotonic() < deadline and recorder.poll() is None:
                time.sleep(0.05)
            recorder.send_signal(signal.SIGTERM)
            recorder.wait(STEP_S)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)

    assert built == len(replayed) and skipped == 0 and published + dropped == built, log("node")
    records = [json.loads(line) for line in received.read_text().splitlines()]
    store = typestore("humble")
    messages = [store.deserialize_cdr(base64.b64decode(r["cdr"]), "vision_msgs/msg/Detection3DArray")
                for r in records if "cdr" in r]
    # Every frame the node published arrived; frames it dropped (inference slower than the
    # player) are allowed, at most one; what came is exactly what the replay predicts.
    assert len(messages) == published >= len(replayed) - 1, log("node")
    expected = {frame.lidar.timestamp * 1000: (frame, prediction) for frame, prediction in replayed}
    for msg in messages:
        frame, prediction = expected[stamp_to_ns(msg.header.stamp)]
        assert msg.header.frame_id == "LIDAR_TOP"
        boxes, unread = decode_detection3d_array(msg)
        assert unread == 0 and len(boxes) == len(prediction.boxes) > 0
        in_ego = boxes.transform(frame.lidar.lidar_to_ego)
        np.testing.assert_allclose(in_ego.center, prediction.boxes.center, atol=1e-5)
        np.testing.assert_allclose(in_ego.score, prediction.boxes.score, atol=1e-7)
        np.testing.assert_array_equal(in_ego.label, prediction.boxes.label)
