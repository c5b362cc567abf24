"""``perception ros-node``: the model as a ROS 2 node (rclpy where ROS 2 is installed, else Cyclone DDS).

Examples::

    perception ros-node                                   # rclpy when importable, else DDS
    perception ros-node --transport dds --checkpoint perception/checkpoints/tiny.pt --profile nuscenes
    perception ros-node --params configs/ros/perception_node.yaml --transport dds --domain-id 7

Parameters come from the parameter file (``--params``, default ``configs/ros/perception_node.yaml``),
then the options given here. See docs/ros.md.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path


def add_ros_node_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``ros-node`` subcommand to ``subparsers`` and return its parser."""
    from perception.node.params import DEFAULT_PARAMS

    parser = subparsers.add_parser(
        "ros-node", help="run the model as a ROS 2 node (rclpy, or Cyclone DDS without ROS)",
        description="Subscribe to LiDAR, cameras, CameraInfo and /tf; publish detections (vision_msgs, "
                    "autoware_perception_msgs), markers, BEV grids, depth, driver state, timing and /diagnostics.")
    parser.add_argument("--transport", choices=("rclpy", "dds"),
                        help="rclpy (needs a sourced ROS 2) or dds (Cyclone DDS from pip); default: rclpy when importable")
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS,
                        help="ROS 2 parameter file (default configs/ros/perception_node.yaml)")
    parser.add_argument("--checkpoint", help="model checkpoint (.pt)")
    parser.add_argument("--config", help="YAML config whose model section matches the checkpoint")
    parser.add_argument("--profile", help="topic profile: sim, nuscenes, autoware or a YAML file")
    parser.add_argument("--device", help="cpu, cuda or cuda:N")
    parser.add_argument("--sync-tolerance", type=float, help="seconds within which an image joins a LiDAR frame")
    parser.add_argument("--score-threshold", type=float, help="boxes scoring below are not published")
    parser.add_argument("--domain-id", type=int, help="DDS domain with --transport dds (default: Cyclone's, else 0)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    return parser


def run_ros_node(args: argparse.Namespace) -> int:
    """Start the node described by ``args`` and run it until Ctrl-C, SIGTERM or ``--duration``.

    Raises:
        ValueError, sensors.errors.SensorDataError: a bad parameter (one line via ``perception.cli``).
    """
    from perception.node import rclpy_node
    from perception.node.params import load_params

    overrides = {"checkpoint": args.checkpoint, "config": args.config, "profile": args.profile, "device": args.device,
                 "sync_tolerance_s": args.sync_tolerance, "score_threshold": args.score_threshold}
    transport = args.transport or ("rclpy" if rclpy_node.available() else "dds")
    if transport == "rclpy":
        if not rclpy_node.available():
            raise ValueError("--transport rclpy: rclpy is not importable (source a ROS 2 installation, "
                             "or use --transport dds)")
        return rclpy_node.run(args.params, overrides)
    params = load_params(args.params, **overrides)
    params.check()
    try:
        from perception.node.dds import DdsTransport, attach
    except ImportError:
        raise ValueError("--transport dds needs cyclonedds: pip install 'fusion-perception[ros]'") from None
    from perception.node.startup import create_node

    dds = DdsTransport(args.domain_id)
    node = create_node(params, dds)
    attach(node, dds)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    node.start()
    print(f"perception ros-node: ready (dds, domain {dds.participant.domain_id}, profile {params.profile}, "
          f"{len(node.input_topics)} inputs, {len(node.output_topics)} outputs)", file=sys.stderr, flush=True)
    try:
        stop.wait(args.duration)
    finally:
        node.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    c = node.counters
    print(f"perception ros-node: stopped: {c.frames_built} frames built, {c.frames_published} published, "
          f"{c.frames_dropped} dropped, {c.frames_skipped} skipped (no subscriber)", file=sys.stderr)
    return 0
