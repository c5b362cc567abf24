"""The perception node with rclpy, where ROS 2 is installed (a thin shell around
:class:`perception.node.logic.PerceptionNode`).

Parameters are ROS parameters named as :class:`perception.node.params.NodeParams` fields
(``--ros-args --params-file configs/ros/perception_node.yaml`` or the launch file). Messages
cross between rclpy and the node's rosbags objects as CDR bytes: inputs are taken serialized
(``raw=True``) and deserialized by rosbags, outputs are serialized by rosbags and deserialized
into the installed rclpy type; conversions therefore stay those of :mod:`sensors.ros`. QoS:
``qos_profile_sensor_data`` on the sensor inputs, reliable transient-local depth 1 on
``/tf_static``, reliable depth 1 on the outputs. An output whose message package is not
installed (``autoware_perception_msgs``, this project's ``perception_msgs``) is left out, with
one log line.

rclpy is not installable from PyPI: this module is not exercised by the tests, which drive the
same logic without ROS (tests/node/) and over DDS (:mod:`perception.node.dds`).
"""
from __future__ import annotations

import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

try:  # ROS 2 is optional: only this module needs it
    import rclpy
    from rclpy.node import Node
    from rclpy.qos import (
        DurabilityPolicy,
        HistoryPolicy,
        QoSProfile,
        ReliabilityPolicy,
        qos_profile_sensor_data,
    )
    from rclpy.serialization import deserialize_message
    from rosidl_runtime_py.utilities import get_message
except ImportError:  # pragma: no cover - depends on the machine
    rclpy = None

from perception.node.params import NODE_NAME, NodeParams, params_from_dict, resolve_path
from sensors.ros.types import typestore


def available() -> bool:
    """rclpy can be imported (a sourced ROS 2 installation)."""
    return rclpy is not None


class RclpyTransport:
    """Publishes rosbags messages through rclpy publishers; counts their subscribers."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.store = typestore("humble")
        self._publishers: dict[str, Any] = {}
        self._types: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _type(self, msgtype: str) -> Any:
        if msgtype not in self._types:
            try:
                self._types[msgtype] = get_message(msgtype)
            except (AttributeError, ModuleNotFoundError, ValueError):
                self.node.get_logger().warning(f"{msgtype} is not installed: its topics are not published")
                self._types[msgtype] = None
        return self._types[msgtype]

    def advertise(self, topic: str, msgtype: str) -> None:
        with self._lock:
            if topic not in self._publishers and (cls := self._type(msgtype)) is not None:
                qos = QoSProfile(reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=1)
                self._publishers[topic] = (self.node.create_publisher(cls, topic, qos), cls)

    def publish(self, topic: str, msgtype: str, msg: Any) -> None:
        self.advertise(topic, msgtype)
        if topic in self._publishers:
            publisher, cls = self._publishers[topic]
            publisher.publish(deserialize_message(bytes(self.store.serialize_cdr(msg, msgtype)), cls))

    def subscribers(self, topic: str) -> int:
        entry = self._publishers.get(topic)
        return 0 if entry is None else entry[0].get_subscription_count()


def run(params_file: Path, overrides: dict[str, Any]) -> int:
    """Run the node until shutdown (Ctrl-C) with the ROS parameters of ``params_file``;
    ``overrides``: values given on the command line (they win). Returns the exit status.

    Raises:
        RuntimeError: rclpy is not importable.
        sensors.errors.SensorDataError, ValueError: a bad parameter (one line).
    """
    if rclpy is None:
        raise RuntimeError("rclpy is not importable: source a ROS 2 installation, or use --transport dds")
    from perception.node.logic import DIAGNOSTICS_TOPIC
    from perception.node.outputs import DIAGNOSTICS
    from perception.node.startup import create_node

    rclpy.init(args=["--ros-args", "--params-file", str(params_file)])
    ros_node = Node(NODE_NAME)
    try:
        values = {}
        for f in fields(NodeParams):
            default = "" if f.name == "checkpoint" else getattr(NodeParams(checkpoint=""), f.name)
            values[f.name] = ros_node.declare_parameter(f.name, default).value
        values |= {k: v for k, v in overrides.items() if v is not None}
        if values["checkpoint"] and not Path(values["checkpoint"]).is_absolute():
            values["checkpoint"] = str(resolve_path(values["checkpoint"]))
        params = params_from_dict(values, "ROS parameters")
        transport = RclpyTransport(ros_node)
        node = create_node(params, transport)
        for topic, msgtype in {**node.output_topics, DIAGNOSTICS_TOPIC: DIAGNOSTICS}.items():
            transport.advertise(topic, msgtype)
        store = transport.store
        for topic, msgtype in node.input_topics.items():
            static = topic == node.profile.tf_static
            qos = (QoSProfile(reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=1,
                              durability=DurabilityPolicy.TRANSIENT_LOCAL) if static else qos_profile_sensor_data)

            def callback(data: bytes, topic: str = topic, msgtype: str = msgtype) -> None:
                node.on_message(topic, store.deserialize_cdr(data, msgtype), ros_node.get_clock().now().nanoseconds)
            ros_node.create_subscription(get_message(msgtype), topic, callback, qos, raw=True)
        node.start()
        ros_node.get_logger().info(f"running: {len(node.input_topics)} inputs, {len(node.output_topics)} outputs")
        try:
            rclpy.spin(ros_node)
        finally:
            node.stop()
        return 0
    finally:
        ros_node.destroy_node()
        rclpy.try_shutdown()

