"""ROS recordings and messages <-> the data model (no ROS installation needed; ``rosbags``).

* :func:`open_recording` -> :class:`Recording`: a rosbag2 (MCAP, SQLite3, split), ROS 1 bag
  or ``.pcd`` folder as frames, with ``.summary`` and ``.inspect()``; :func:`inspect_recording`
  reports on a recording no profile fits too.
* :class:`FrameSynchronizer`: messages fed one at a time -> frames (bag replay, a ROS node).
* Conversions, message by message: :mod:`sensors.ros.pointcloud`, :mod:`sensors.ros.image`,
  :mod:`sensors.ros.tf`, :mod:`sensors.ros.detections`; type stores in :mod:`sensors.ros.types`.
* :func:`sensors.ros.writer.write_rosbag2`: frames -> a rosbag2 (``perception simulate``).
"""
from sensors.ros.profile import Profile, load_profile
from sensors.ros.recording import (
    Recording,
    RecordingInfo,
    inspect_recording,
    open_recording,
)
from sensors.ros.summary import ReplaySummary
from sensors.ros.sync import FrameSynchronizer

__all__ = ["FrameSynchronizer", "Profile", "Recording", "RecordingInfo", "ReplaySummary", "inspect_recording",
           "load_profile", "open_recording"]
