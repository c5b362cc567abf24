"""What the ROS 2 perception node publishes: predictions -> ROS 2 messages (rosbags objects).

Topics (under the ``output_prefix`` parameter, ``/perception`` by default) and types are in
:func:`output_topics`; the conventions (docs/ros.md):

* Detections, markers and objects carry the header of the point cloud that
  triggered the frame (its stamp and ``frame_id``, as Autoware's LiDAR detectors do); the boxes
  are expressed in that frame (the model predicts in ``base_link``; the
  transform comes from ``/tf_static``). Without a transform to the cloud's frame they are
  published in the profile's base frame with the cloud's stamp.
* ``detections``: ``vision_msgs/Detection3DArray`` (:func:`sensors.ros.detections.encode_detection3d_array`);
  ``markers``: ``visualization_msgs/MarkerArray`` (:func:`perception.replay.ros_sink.marker_array`);
  ``objects``: ``autoware_perception_msgs/DetectedObjects`` (:func:`detected_objects`);
  ``bev/<class>``: ``nav_msgs/OccupancyGrid`` per map class, occupancy = probability in percent
  (:func:`sensors.ros.grid.encode_probability_layer`), axis-aligned in the profile's base frame
  (``base_link``: the model's grid) with the cloud's stamp;
  ``<camera>/depth``: ``sensor_msgs/Image`` 32FC1 metres at the model's input size, header of
  the camera image (:func:`perception.replay.ros_sink.depth_image`); ``driver_state``: ``perception_msgs/DriverState``, header of the cabin image;
  ``timing/<stage>_ms``: ``std_msgs/Float64`` milliseconds of pre-processing, inference and
  post-processing of the frame.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from rosbags.typesys.store import Typestore

from perception.replay.driver_state import PHONE_THRESHOLD
from sensors.boxes import Boxes3D
from sensors.classes import DETECTION_CLASSES, MAP_CLASSES
from sensors.ros.types import box_pose, header

#: Detection class -> autoware_perception_msgs/ObjectClassification label (classes Autoware has
#: no label for are UNKNOWN = 0).
AUTOWARE_LABELS: dict[str, int] = {"car": 1, "truck": 2, "construction_vehicle": 2, "bus": 3, "trailer": 4,
                                   "motorcycle": 5, "bicycle": 6, "pedestrian": 7}
#: Timing stages published, :class:`perception.inference.timing.StageTimer` names.
TIMING_STAGES: tuple[str, ...] = ("preprocessing", "model", "postprocessing")
#: Topic name of each timing stage (``inference`` is the forward pass).
TIMING_TOPICS: dict[str, str] = {"preprocessing": "preprocessing_ms", "model": "inference_ms",
                                 "postprocessing": "postprocessing_ms"}

DETECTIONS = "vision_msgs/msg/Detection3DArray"
MARKERS = "visualization_msgs/msg/MarkerArray"
OBJECTS = "autoware_perception_msgs/msg/DetectedObjects"
GRID = "nav_msgs/msg/OccupancyGrid"
IMAGE = "sensor_msgs/msg/Image"
DRIVER = "perception_msgs/msg/DriverState"
FLOAT = "std_msgs/msg/Float64"
DIAGNOSTICS = "diagnostic_msgs/msg/DiagnosticArray"


def output_topics(prefix: str, cameras: tuple[str, ...] | list[str], driver: bool) -> dict[str, str]:
    """Every output topic -> message type, for a model with street ``cameras`` (and a driver head)."""
    out = {f"{prefix}/detections": DETECTIONS, f"{prefix}/markers": MARKERS, f"{prefix}/objects": OBJECTS}
    out |= {f"{prefix}/bev/{name}": GRID for name in MAP_CLASSES}
    out |= {f"{prefix}/{camera}/depth": IMAGE for camera in cameras}
    if driver:
        out[f"{prefix}/driver_state"] = DRIVER
    out |= {f"{prefix}/timing/{name}": FLOAT for name in TIMING_TOPICS.values()}
    return out


def detected_objects(store: Typestore, boxes: Boxes3D, stamp_ns: int, frame_id: str) -> Any:
    """``autoware_perception_msgs/DetectedObjects`` of ``boxes`` (expressed in ``frame_id``).

    Per box: ``existence_probability`` = score; one classification (label from
    :data:`AUTOWARE_LABELS`, probability = score); kinematics: the pose (centre of volume, yaw
    quaternion; orientation AVAILABLE), the twist (velocity in the box frame, ``has_twist`` when
    the model predicted a finite velocity), no covariances; shape: BOUNDING_BOX with
    ``dimensions`` = (length, width, height).
    """
    t = store.types
    objects = []
    for i in range(len(boxes)):
        velocity = boxes.velocity[i]
        finite = bool(np.all(np.isfinite(velocity)))
        cos, sin = np.cos(boxes.yaw[i]), np.sin(boxes.yaw[i])
        vx, vy = ((cos * velocity[0] + sin * velocity[1]), (-sin * velocity[0] + cos * velocity[1])) if finite else (0.0, 0.0)
        twist = t["geometry_msgs/msg/Twist"](linear=t["geometry_msgs/msg/Vector3"](x=float(vx), y=float(vy), z=0.0),
                                             angular=t["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0))
        label = AUTOWARE_LABELS.get(DETECTION_CLASSES[int(boxes.label[i])], 0)
        score = float(boxes.score[i])
        kinematics = t["autoware_perception_msgs/msg/DetectedObjectKinematics"](
            pose_with_covariance=t["geometry_msgs/msg/PoseWithCovariance"](
                pose=box_pose(store, boxes.center[i], float(boxes.yaw[i])),
                covariance=np.zeros(36)),
            has_position_covariance=False, orientation_availability=2,
            twist_with_covariance=t["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=np.zeros(36)),
            has_twist=finite, has_twist_covariance=False)
        size = boxes.size[i]
        shape = t["autoware_perception_msgs/msg/Shape"](
            type=0, footprint=t["geometry_msgs/msg/Polygon"](points=[]),
            dimensions=t["geometry_msgs/msg/Vector3"](x=float(size[0]), y=float(size[1]), z=float(size[2])))
        objects.append(t["autoware_perception_msgs/msg/DetectedObject"](
            existence_probability=score,
            classification=[t["autoware_perception_msgs/msg/ObjectClassification"](label=label, probability=score)],
            kinematics=kinematics, shape=shape))
    return t[OBJECTS](header=header(store, stamp_ns, frame_id), objects=objects)


def driver_state(store: Typestore, state: dict, ended: list[str], stamp_ns: int, frame_id: str) -> Any:
    """``perception_msgs/DriverState`` of a :class:`perception.replay.driver_state.DriverUpdate` state."""
    zones = list(state["gaze_p"])
    return store.types[DRIVER](
        header=header(store, stamp_ns, frame_id), eye_closed_probability=float(state["eye_closed_p"]),
        eyes_closed=bool(state["eyes_closed"]), perclos=float(state["perclos"]), gaze_zone=str(state["gaze_zone"]),
        gaze_zones=zones, gaze_probabilities=np.array([state["gaze_p"][z] for z in zones], np.float32),
        off_road=bool(state["off_road"]), head_yaw_deg=float(state["head_yaw_deg"]),
        head_pitch_deg=float(state["head_pitch_deg"]), head_roll_deg=float(state["head_roll_deg"]),
        phone_probability=float(state["phone_p"]), phone_in_use=bool(state["phone_p"] >= PHONE_THRESHOLD),
        active_events=list(state["active_events"]), ended_events=list(ended))


def float64(store: Typestore, value: float) -> Any:
    """``std_msgs/Float64``."""
    return store.types[FLOAT](data=float(value))

