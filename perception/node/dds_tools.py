"""Play a rosbag2 onto a ROS 2 graph and record topics from it, over Cyclone DDS without ROS
(what ``ros2 bag play`` and ``ros2 topic echo`` do), for trying, testing and timing the node.

Usage::

    python -m perception.node.dds_tools play BAG [--rate 1.0] [--domain-id N] [--topics T ...]
    python -m perception.node.dds_tools record OUT.jsonl --topic /perception/detections \\
        --type vision_msgs/msg/Detection3DArray [--count N] [--timeout S] [--domain-id N]

``play`` publishes the bag's messages at their recorded pace (``--rate`` times faster), each
with the type recorded in the bag, the stored CDR bytes as they are (``/tf_static``
transient-local, as tf2 does); it first waits (up to ``--wait`` s) until every topic has a
subscriber. ``record`` writes one JSON line per message: ``topic``, ``receive_ns`` (wall clock)
and ``cdr`` (the message's CDR bytes, base64), after a first line ``{"matched": true}`` once a
publisher is matched (printed on stdout too, so a caller knows it can start).
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path

from perception.node.dds import PLAYER_QOS, STATIC_QOS, DdsTransport
from sensors.ros.idl import idl_type


def play(bag: Path, transport: DdsTransport, rate: float = 1.0, topics: list[str] | None = None,
         wait_s: float = 10.0, wait_for: list[str] | None = None) -> int:
    """Publish the messages of the rosbag2 ``bag`` (only ``topics`` if given) in log-time order,
    paced at ``rate`` times the recorded speed (0: as fast as possible). Returns the number sent.

    Waits up to ``wait_s`` for a subscriber on each topic of ``wait_for`` (default: every topic).
    """
    from rosbags.highlevel import AnyReader

    with AnyReader([Path(bag)], default_typestore=transport.store) as reader:
        connections = [c for c in reader.connections if topics is None or c.topic in topics]
        writers = {}
        for c in connections:
            qos = STATIC_QOS if c.topic == "/tf_static" else PLAYER_QOS
            writers[c.topic] = (transport.advertise(c.topic, c.msgtype, qos), idl_type(c.msgtype, transport.store))
        deadline = time.monotonic() + wait_s
        for topic in wait_for if wait_for is not None else list(writers):
            while topic in writers and transport.subscribers(topic) == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        sent, start, first = 0, time.monotonic(), None
        for connection, log_time, raw in reader.messages(connections=connections):
            first = log_time if first is None else first
            if rate > 0:
                delay = start + (log_time - first) * 1e-9 / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            writer, cls = writers[connection.topic]
            writer.write(cls.deserialize(bytes(raw)))
            sent += 1
    return sent


def record(out: Path, transport: DdsTransport, topic: str, msgtype: str, count: int, timeout_s: float) -> int:
    """Write the messages of ``topic`` to ``out`` (JSON lines, module docstring) until ``count``
    arrived or ``timeout_s`` passed. Returns the number written."""
    from cyclonedds.sub import DataReader
    from cyclonedds.topic import Topic

    from perception.node.dds import OUTPUT_QOS
    from sensors.ros.idl import dds_topic_name

    reader = DataReader(transport.participant, Topic(transport.participant, dds_topic_name(topic),
                                                     idl_type(msgtype, transport.store)), qos=OUTPUT_QOS)
    deadline = time.monotonic() + timeout_s
    written = 0
    with open(out, "w") as f:
        while reader.get_subscription_matched_status().current_count == 0:
            if time.monotonic() > deadline:
                return 0
            time.sleep(0.02)
        f.write(json.dumps({"matched": True}) + "\n")
        f.flush()
        print("matched", flush=True)
        while written < count and time.monotonic() < deadline:
            samples = reader.take(N=16)
            if not samples:
                time.sleep(0.005)
            for sample in samples:
                cdr = sample.serialize(use_version_2=False)
                f.write(json.dumps({"topic": topic, "receive_ns": time.time_ns(),
                                    "cdr": base64.b64encode(cdr).decode()}) + "\n")
                f.flush()
                written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perception.node.dds_tools", description=__doc__.split("\n")[0])
    parser.add_argument("--domain-id", type=int, help="DDS domain (default: Cyclone's configuration, else 0)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("play", help="publish a rosbag2's messages")
    p.add_argument("bag", type=Path)
    p.add_argument("--rate", type=float, default=1.0, help="speed factor (0: as fast as possible)")
    p.add_argument("--topics", nargs="*", help="only these topics")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for subscribers (default 10)")
    p.add_argument("--wait-for", nargs="*", help="topics that need a subscriber before playing (default: all)")
    r = sub.add_parser("record", help="record one topic as JSON lines")
    r.add_argument("out", type=Path)
    r.add_argument("--topic", required=True)
    r.add_argument("--type", required=True, help="message type, e.g. vision_msgs/msg/Detection3DArray")
    r.add_argument("--count", type=int, default=sys.maxsize, help="stop after this many messages")
    r.add_argument("--timeout", type=float, default=60.0, help="stop after this many seconds (default 60)")
    args = parser.parse_args(argv)
    transport = DdsTransport(args.domain_id)
    if args.command == "play":
        sent = play(args.bag, transport, args.rate, args.topics, args.wait, args.wait_for)
        time.sleep(0.5)  # let reliable writers deliver the last messages before the participant goes
        print(f"played {sent} messages", file=sys.stderr)
        return 0
    written = record(args.out, transport, args.topic, args.type, args.count, args.timeout)
    print(f"recorded {written} messages of {args.topic}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
