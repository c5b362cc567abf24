"""ROS 2 messages as Cyclone DDS IDL structs: what a ROS 2 node puts on the wire, without ROS.

ROS 2 over DDS (rmw_cyclonedds, rmw_fastrtps) maps a message type ``pkg/msg/Type`` to the DDS
type ``pkg::msg::dds_::Type_``: a struct with the ``.msg`` fields in order (constants are not
fields), serialized as plain little-endian CDR (XCDR1). Field types: ``bool``, ``byte``/``char``
-> octet, the fixed-size integers and floats, ``string``, ``T[N]`` -> an array, ``T[]`` and
``T[<=N]`` -> a sequence, a message -> its struct. A topic ``/ns/name`` is the DDS topic
``rt/ns/name``.

The structs are built here from the message definitions of :func:`sensors.ros.types.typestore`
(ROS 2 Humble plus vision_msgs, autoware_perception_msgs and this project's perception_msgs),
so that a message is defined once.

Conversions go through the CDR bytes, which both sides agree on (tests check that the bytes of a
struct filled field by field equal rosbags' serialization of the same message):
:func:`to_idl` (rosbags message -> struct), :func:`from_idl` (struct -> rosbags message).
Needs ``cyclonedds`` (the ``ros`` extra).
"""
from __future__ import annotations

import dataclasses
import types as pytypes
from functools import cache
from typing import Any

from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as t
from rosbags.typesys.store import Typestore

from sensors.ros.types import typestore

#: ROS primitive type -> IDL annotation.
PRIMITIVES: dict[str, Any] = {
    "bool": bool, "byte": t.uint8, "char": t.uint8, "int8": t.int8, "uint8": t.uint8, "int16": t.int16,
    "uint16": t.uint16, "int32": t.int32, "uint32": t.uint32, "int64": t.int64, "uint64": t.uint64,
    "float32": t.float32, "float64": t.float64, "string": str,
}


def dds_type_name(msgtype: str) -> str:
    """``pkg/msg/Type`` -> ``pkg::msg::dds_::Type_`` (the DDS type name ROS 2 uses)."""
    package, kind, name = msgtype.split("/")
    return f"{package}::{kind}::dds_::{name}_"


def dds_topic_name(topic: str) -> str:
    """ROS 2 topic ``/a/b`` -> DDS topic ``rt/a/b``.

    Raises:
        ValueError: a topic that is not absolute.
    """
    if not topic.startswith("/"):
        raise ValueError(f"ROS topic {topic!r} must be absolute (start with '/')")
    return "rt" + topic


def _annotation(store: Typestore, desc: tuple[Any, Any]) -> Any:
    node, detail = desc
    kind = int(node)
    if kind == 1:  # BASE: (name, string bound)
        name, bound = detail
        if name == "string" and bound:
            return t.bounded_str[bound]
        return PRIMITIVES[name]
    if kind == 2:  # NAME: another message
        return idl_type(detail, store)
    sub, length = detail
    if kind == 3:  # ARRAY: T[N]
        return t.array[_annotation(store, sub), length]
    # SEQUENCE: T[] or T[<=N]
    element = _annotation(store, sub)
    return t.sequence[element, length] if length else t.sequence[element]


@cache
def _idl_type(msgtype: str, store: Typestore) -> type:
    _, fields = store.fielddefs[msgtype]
    annotations = {name: _annotation(store, desc) for name, desc in fields}
    if not annotations:  # an empty .msg gets one uint8 member, as rosidl does
        annotations = {"structure_needs_at_least_one_member": t.uint8}

    def body(namespace: dict[str, Any]) -> None:
        namespace["__annotations__"] = annotations
        namespace["__module__"] = __name__
    cls = pytypes.new_class(msgtype.split("/")[-1], (IdlStruct,), {"typename": dds_type_name(msgtype)}, body)
    return dataclasses.dataclass(cls)


def idl_type(msgtype: str, store: Typestore | None = None) -> type:
    """The IDL struct class of ROS 2 message type ``msgtype`` (e.g. ``sensor_msgs/msg/Image``).

    Raises:
        KeyError: a type the store does not know.
    """
    store = store or typestore("humble")
    if msgtype not in store.fielddefs:
        raise KeyError(f"unknown ROS 2 message type {msgtype!r}")
    return _idl_type(msgtype, store)


def to_idl(msg: Any, msgtype: str, store: Typestore | None = None) -> Any:
    """The IDL struct holding the rosbags message ``msg`` of type ``msgtype``."""
    store = store or typestore("humble")
    return idl_type(msgtype, store).deserialize(bytes(store.serialize_cdr(msg, msgtype)))


def from_idl(sample: Any, msgtype: str, store: Typestore | None = None) -> Any:
    """The rosbags message of an IDL struct of type ``msgtype`` (e.g. received over DDS)."""
    store = store or typestore("humble")
    return store.deserialize_cdr(sample.serialize(use_version_2=False), msgtype)
