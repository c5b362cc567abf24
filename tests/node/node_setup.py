"""Shared pieces of the ROS node tests (imported by conftest and the tests)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "perception" / "checkpoints" / "tiny.pt"
#: Small simulator settings (six cameras, LiDAR, the cabin camera), as the replay tests use.
SIM = {"image_size": (90, 160), "num_lidar_beams": 16, "lidar_azimuth_steps": 360, "sweeps_per_keyframe": 1,
       "cabin_size": (60, 80), "num_agents": 40}


class FakeTransport:
    """Records what the node publishes; every topic has ``subscribers`` subscribers unless listed
    in ``counts``."""

    def __init__(self, subscribers: int = 1, counts: dict[str, int] | None = None) -> None:
        self.default, self.counts = subscribers, counts or {}
        self.sent: dict[str, list[Any]] = defaultdict(list)

    def publish(self, topic: str, msgtype: str, msg: Any) -> None:
        self.sent[topic].append(msg)

    def subscribers(self, topic: str) -> int:
        return self.counts.get(topic, self.default)


def bag_messages(path: Path) -> list[tuple[str, Any, int]]:
    """(topic, rosbags message, log time ns) of every message of a rosbag2, in log-time order,
    read with rosbags' own reader."""
    from rosbags.highlevel import AnyReader

    from sensors.ros.types import typestore

    with AnyReader([Path(path)], default_typestore=typestore("humble")) as reader:
        return [(c.topic, reader.deserialize(raw, c.msgtype), t) for c, t, raw in reader.messages()]
