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

#: autoware_perception_msgs (Autoware's perception interface), the types of ``DetectedObjects``,
#: from their published ``.msg`` layouts. Class labels: :data:`AUTOWARE_LABELS`.
AUTOWARE_PERCEPTION_MSGS: dict[str, str] = {
    "autoware_perception_msgs/msg/ObjectClassification": (
        "uint8 UNKNOWN=0\nuint8 CAR=1\nuint8 TRUCK=2\nuint8 BUS=3\nuint8 TRAILER=4\nuint8 MOTORCYCLE=5\n"
        "uint8 BICYCLE=6\nuint8 PEDESTRIAN=7\nuint8 label\nfloat32 probability\n"
    ),
    "autoware_perception_msgs/msg/DetectedObjectKinematics": (
        "uint8 UNAVAILABLE=0\nuint8 SIGN_UNKNOWN=1\nuint8 AVAILABLE=2\n"
        "geometry_msgs/PoseWithCovariance pose_with_covariance\nbool has_position_covariance\n"
        "uint8 orientation_availability\ngeometry_msgs/TwistWithCovariance twist_with_covariance\n"
        "bool has_twist\nbool has_twist_covariance\n"
    ),
    "autoware_perception_msgs/msg/Shape": (
        "uint8 BOUNDING_BOX=0\nuint8 CYLINDER=1\nuint8 POLYGON=2\nuint8 type\n"
        "geometry_msgs/Polygon footprint\ngeometry_msgs/Vector3 dimensions\n"
    ),
    "autoware_perception_msgs/msg/DetectedObject": (
        "float32 existence_probability\nautoware_perception_msgs/ObjectClassification[] classification\n"
        "autoware_perception_msgs/DetectedObjectKinematics kinematics\nautoware_perception_msgs/Shape shape\n"
    ),
    "autoware_perception_msgs/msg/DetectedObjects": (
        "std_msgs/Header header\nautoware_perception_msgs/DetectedObject[] objects\n"
    ),
}

#: This project's own messages (the ROS node's driver state, docs/ros.md). Head angles in
#: degrees, probabilities 0-1, ``gaze_probabilities`` in the order of ``gaze_zones``.
PERCEPTION_MSGS: dict[str, str] = {
    "perception_msgs/msg/DriverState": (
        "std_msgs/Header header\nfloat32 eye_closed_probability\nbool eyes_closed\nfloat32 perclos\n"
        "string gaze_zone\nstring[] gaze_zones\nfloat32[] gaze_probabilities\nbool off_road\n"
        "float32 head_yaw_deg\nfloat32 head_pitch_deg\nfloat32 head_roll_deg\nfloat32 phone_probability\nbool phone_in_use\n"
        "string[] active_events\nstring[] ended_events\n"
    ),
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
    """The message type store of a ROS distribution with ``vision_msgs`` registered (and, for
    ROS 2, ``autoware_perception_msgs`` and this project's ``perception_msgs``).

    Args:
        distro: ``humble``, ``jazzy`` (ROS 2) or ``noetic`` (ROS 1).

    Raises:
        ValueError: an unknown distribution.
    """
    if distro not in DISTROS:
        raise ValueError(f"unknown ROS distribution {distro!r}; expected one of {tuple(DISTROS)}")
    store = get_typestore(DISTROS[distro])
    types: dict[str, Any] = {}
    ros2 = {**AUTOWARE_PERCEPTION_MSGS, **PERCEPTION_MSGS}
    extra = {**VISION_MSGS, **(ROS1_TF if distro == "noetic" else ros2)}
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
