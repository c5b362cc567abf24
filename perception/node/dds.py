"""The perception node on a ROS 2 graph over Cyclone DDS, without a ROS installation.

:class:`DdsTransport` speaks ROS 2's wire conventions (:mod:`sensors.ros.idl`): DDS topic
``rt/<topic>``, type ``pkg::msg::dds_::Type_``, plain CDR (XCDR1) data representation, and the QoS
that ROS 2 nodes match:

* inputs: sensor-data QoS (best effort, keep last 5, volatile), which receives from reliable and
  best-effort publishers alike; ``/tf_static`` reliable and transient-local (keep last 1), so
  that the transforms a ``static_transform_publisher`` sent before the node started arrive;
* outputs: reliable, keep last 1, volatile (subscribers of either reliability match).

Which network interface, discovery peers and domain Cyclone uses is its own configuration
(``CYCLONEDDS_URI``, ``ROS_DOMAIN_ID``-equivalent ``domain_id``), as for a ROS 2 node using
rmw_cyclonedds. Needs ``cyclonedds`` (the ``ros`` extra).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from cyclonedds.core import Listener
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.qos import Policy, Qos
from cyclonedds.sub import DataReader, InvalidSample
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from sensors.ros.idl import dds_topic_name, from_idl, idl_type, to_idl
from sensors.ros.types import typestore

_XCDR1 = Policy.DataRepresentation(use_cdrv0_representation=True)
#: rclpy's ``qos_profile_sensor_data``.
SENSOR_QOS = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(5), Policy.Durability.Volatile, _XCDR1)
#: What ``/tf_static`` is published with (tf2's static broadcaster).
STATIC_QOS = Qos(Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100)), Policy.History.KeepLast(1),
                 Policy.Durability.TransientLocal, _XCDR1)
#: The node's outputs: reliable, depth 1.
OUTPUT_QOS = Qos(Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100)), Policy.History.KeepLast(1),
                 Policy.Durability.Volatile, _XCDR1)
#: A publisher of recorded sensor data that loses nothing on the way (tools, tests).
PLAYER_QOS = Qos(Policy.Reliability.Reliable(max_blocking_time=duration(seconds=1)), Policy.History.KeepLast(50),
                 Policy.Durability.Volatile, _XCDR1)

log = logging.getLogger("perception.node")

#: A Cyclone DDS configuration (the value of ``CYCLONEDDS_URI``) for processes on one machine only:
#: interface ``lo``, multicast off, the one discovery peer 127.0.0.1 (participants find each other
#: by unicast on their participant-index ports).
LOOPBACK_CONFIG = (
    "<CycloneDDS><Domain id='any'><General><Interfaces><NetworkInterface name='lo'/></Interfaces>"
    "<AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex>"
    "<MaxAutoParticipantIndex>20</MaxAutoParticipantIndex><Peers><Peer address='127.0.0.1'/></Peers>"
    "</Discovery></Domain></CycloneDDS>"
)

#: Called with (ROS topic, rosbags message, receive time ns since the epoch).
MessageCallback = Callable[[str, Any, int], None]


class DdsTransport:
    """ROS 2 topics over one Cyclone DDS participant (see the module docstring).

    Args:
        domain_id: DDS domain (ROS_DOMAIN_ID); None: Cyclone's default (its configuration, else 0).
    """

    def __init__(self, domain_id: int | None = None) -> None:
        self.participant = DomainParticipant() if domain_id is None else DomainParticipant(int(domain_id))
        self.store = typestore("humble")
        self._topics: dict[str, Topic] = {}
        self._writers: dict[str, DataWriter] = {}
        self._readers: list[DataReader] = []
        self._lock = threading.Lock()
        self._logged: set[str] = set()

    def _log_once(self, key: str, line: str) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning("%s", line)

    def _topic(self, topic: str, msgtype: str) -> Topic:
        if topic not in self._topics:
            self._topics[topic] = Topic(self.participant, dds_topic_name(topic), idl_type(msgtype, self.store))
        return self._topics[topic]

    def advertise(self, topic: str, msgtype: str, qos: Qos = OUTPUT_QOS) -> DataWriter:
        """The writer of ``topic`` (created once)."""
        with self._lock:
            if topic not in self._writers:
                self._writers[topic] = DataWriter(self.participant, self._topic(topic, msgtype), qos=qos)
            return self._writers[topic]

    def publish(self, topic: str, msgtype: str, msg: Any) -> None:
        """Send the rosbags message ``msg`` on ``topic``."""
        self.advertise(topic, msgtype).write(to_idl(msg, msgtype, self.store))

    def subscribers(self, topic: str) -> int:
        """Readers matched on ``topic`` (0 before it is advertised)."""
        writer = self._writers.get(topic)
        return 0 if writer is None else writer.get_publication_matched_status().current_count

    def subscribe(self, topic: str, msgtype: str, callback: MessageCallback, qos: Qos = SENSOR_QOS) -> DataReader:
        """Call ``callback`` with each message of ``topic`` (on Cyclone's receive thread)."""
        cls_topic = self._topic(topic, msgtype)
        store = self.store

        def on_data_available(reader: DataReader) -> None:
            for sample in reader.take(N=64):
                if isinstance(sample, InvalidSample):  # a writer went away: no data
                    continue
                try:
                    msg = from_idl(sample, msgtype, store)
                except Exception as error:  # noqa: BLE001 - a sample rosbags cannot read: one line
                    self._log_once(topic, f"{topic}: message does not deserialize: {error}")
                    continue
                callback(topic, msg, time.time_ns())

        reader = DataReader(self.participant, cls_topic, qos=qos, listener=Listener(on_data_available=on_data_available))
        self._readers.append(reader)
        return reader

    def publishers(self, reader: DataReader) -> int:
        """Writers matched by ``reader``."""
        return reader.get_subscription_matched_status().current_count


def attach(node: Any, transport: DdsTransport) -> None:
    """Subscribe ``node`` (a :class:`perception.node.logic.PerceptionNode`) to its inputs and
    advertise its outputs, so that subscribers can match before the first frame."""
    from perception.node.logic import DIAGNOSTICS_TOPIC
    from perception.node.outputs import DIAGNOSTICS

    for topic, msgtype in {**node.output_topics, DIAGNOSTICS_TOPIC: DIAGNOSTICS}.items():
        transport.advertise(topic, msgtype)
    for topic, msgtype in node.input_topics.items():
        qos = STATIC_QOS if topic == node.profile.tf_static else SENSOR_QOS
        transport.subscribe(topic, msgtype, node.on_message, qos)
