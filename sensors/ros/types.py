"""Message type stores for reading and writing recordings, and ROS time stamps.

The ROS 2 Humble/Jazzy and ROS 1 Noetic stores come from ``rosbags``; ``vision_msgs`` (ground
truth and detections as ``vision_msgs/msg/Detection3DArray``) is not among them and is
registered here from its ``.msg`` definitions (vision_msgs 4.x, the version shipped with
Humble and Jazzy), as are the ``/tf`` types the Noetic store lacks.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

#: vision_msgs 4.x message definitions (ROS 2 Humble / Jazzy), type name -> .msg text.
VISION_MSGS: dict[str, str] = {
    "vision_msgs/msg/ObjectHypothesis": "string class_id\nfloat64 score\n",
    "vision_msgs/msg/ObjectHypothesisWithPose": (
        "vision_msgs/ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n"
    ),
    "vision_msgs/msg/BoundingBox3D": "geometry_msgs/Pose center\ngeometry_msgs/Vector3 size\n",
    "vision_msgs/msg/Detection3D": (
        "std_msgs/Header header\nvision_msgs/ObjectHypothesisWithPose[] results\n"
        "vision_msgs/BoundingBox3D bbox\nstring id\n"
    ),
    "vision_msgs/msg/Detection3DArray": "std_msgs/Header header\nvision_msgs/Detection3D[] detections\n",
}

#: ``/tf`` message types the ROS 1 Noetic store of rosbags lacks (tf2_msgs is not a ROS 1
#: "common" package there; ``tf/tfMessage`` is what older ROS 1 bags carry).
ROS1_TF: dict[str, str] = {
    "tf2_msgs/msg/TFMessage": "geometry_msgs/TransformStamped[] transforms\n",
    "tf/msg/tfMessage": "geometry_msgs/TransformStamped[] transforms\n",
}

#: Distribution name -> rosbags store.
DISTROS: dict[str, Stores] = {
    "humble": Stores.ROS2_HUMBLE,
    "jazzy": Stores.ROS2_JAZZY,
    "noetic": Stores.ROS1_NOETIC,
}


@cache
def typestore(distro: str = "humble") -> Typestore:
    """The message type store of a ROS distribution with ``vision_msgs`` registered.

    Args:
        distro: ``humble``, ``jazzy`` (ROS 2) or ``noetic`` (ROS 1).

    Raises:
        ValueError: an unknown distribution.
    """
    if distro not in DISTROS:
        raise ValueError(f"unknown ROS distribution {distro!r}; expected one of {tuple(DISTROS)}")
    store = get_typestore(DISTROS[distro])
    types: dict[str, Any] = {}
    extra = {**VISION_MSGS, **(ROS1_TF if distro == "noetic" else {})}
    for name, text in extra.items():
        if name not in store.fielddefs:
            types.update(get_types_from_msg(text, name))
    store.register(types)
    return store


def stamp_to_ns(stamp: Any) -> int:
    """Nanoseconds since the epoch of a ``builtin_interfaces/Time`` (``sec``, ``nanosec``)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def stamp_to_us(stamp: Any) -> int:
    """Microseconds (the data model's unit) of a ROS time stamp, nanoseconds floored."""
    return stamp_to_ns(stamp) // 1000


def header(store: Typestore, stamp_ns: int, frame_id: str) -> Any:
    """A ``std_msgs/Header`` of ``store`` (ROS 1 headers get ``seq`` 0)."""
    types = store.types
    time = types["builtin_interfaces/msg/Time"](sec=int(stamp_ns) // 1_000_000_000, nanosec=int(stamp_ns) % 1_000_000_000)
    fields = types["std_msgs/msg/Header"].__dataclass_fields__
    if "seq" in fields:
        return types["std_msgs/msg/Header"](seq=0, stamp=time, frame_id=frame_id)
    return types["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)
