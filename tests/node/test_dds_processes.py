"""The node over Cyclone DDS with three real processes on loopback: a player publishing a simulated
bag's LiDAR, cameras, CameraInfo and /tf, the node (``perception ros-node --transport dds``), and
a recorder subscribed to the detections; what it receives is checked against the replay loop's
predictions on the same bag."""
from __future__ import annotations

import base64
import contextlib
import json
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from dds_setup import loopback_env
from node_setup import REPO, TINY

pytest.importorskip("cyclonedds")

from sensors.ros.detections import decode_detections
from sensors.ros.types import stamp_to_ns, typestore

#: Seconds any one step may take before the test gives up (the whole test ends within ~4 of them).
STEP_S = 90.0


def _wait_for(predicate, timeout_s: float, what: str, processes) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        dead = [p.args[3] for p in processes if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            raise AssertionError(f"waiting for {what}: {'exited: ' + str(dead) if dead else 'timed out'}")
        time.sleep(0.2)


@pytest.mark.slow
def test_three_processes_over_dds(sim_bag, replayed, tmp_path):
    env = loopback_env(domain_id=random.randint(100, 230))
    domain = ["--domain-id", env["ROS_DOMAIN_ID"]]
    python = [sys.executable, "-m"]
    received = tmp_path / "detections.jsonl"
    processes: list[subprocess.Popen] = []

    def log(name) -> str:
        return (tmp_path / f"{name}.log").read_text()

    with contextlib.ExitStack() as stack:
        def start(name, args):
            out = stack.enter_context(open(tmp_path / f"{name}.log", "w"))
            process = subprocess.Popen([*python, *args], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
            processes.append(process)
            return process

        try:
            recorder = start("recorder", ["perception.node.dds_tools", *domain, "record", str(received), "--topic",
                                          "/perception/detections", "--type", "vision_msgs/msg/Detection3DArray",
                                          "--count", str(len(replayed)), "--timeout", str(3 * STEP_S)])
            node = start("node", ["perception.cli", "ros-node", "--transport", "dds", *domain, "--checkpoint",
                                  str(TINY), "--profile", "sim", "--device", "cpu", "--duration", str(4 * STEP_S)])
            _wait_for(lambda: "ready" in log("node") and "matched" in log("recorder"), STEP_S, "node and recorder",
                      processes)
            player = start("player", ["perception.node.dds_tools", *domain, "play", str(sim_bag), "--rate", "0.25",
                                      "--wait-for", "/LIDAR_TOP", "/tf_static"])
            assert player.wait(STEP_S) == 0, log("player")
            recorder.wait(STEP_S)
            node.send_signal(signal.SIGTERM)
            assert node.wait(STEP_S) == 0, log("node")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)

    lines = [json.loads(line) for line in received.read_text().splitlines()]
    store = typestore("humble")
    messages = [store.deserialize_cdr(base64.b64decode(line["cdr"]), "vision_msgs/msg/Detection3DArray")
                for line in lines if "cdr" in line]
    expected = {frame.lidar.timestamp * 1000: (frame, prediction) for frame, prediction in replayed}
    # Frames the node dropped (inference slower than the player) are allowed; what came is exact.
    assert len(messages) >= len(replayed) - 1, log("node")
    for msg in messages:
        frame, prediction = expected[stamp_to_ns(msg.header.stamp)]
        assert msg.header.frame_id == "LIDAR_TOP"
        boxes, skipped = decode_detections(msg)
        assert skipped == 0 and len(boxes) == len(prediction.boxes)
        in_ego = boxes.transform(frame.lidar.lidar_to_ego)
        np.testing.assert_allclose(in_ego.center, prediction.boxes.center, atol=1e-5)
        np.testing.assert_allclose(in_ego.score, prediction.boxes.score, atol=1e-7)
        np.testing.assert_array_equal(in_ego.label, prediction.boxes.label)
    assert "stopped:" in log("node") and "frames built" in log("node")
