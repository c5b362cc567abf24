"""Replay of recorded drives through the model, with results for Foxglove and ROS tools (docs/replay.md).

* :mod:`perception.replay.runner`: the loop (:func:`~perception.replay.runner.replay`), per-stage
  timing, Ctrl-C handling; :mod:`perception.replay.pacing`: real-time pacing and frame drops.
* :mod:`perception.replay.messages`: frame and predictions -> Foxglove messages;
  :mod:`perception.replay.foxglove_sink`: their channels, ``results.mcap`` and the live WebSocket
  stream; :mod:`perception.replay.layout`: the Foxglove layout.
* :mod:`perception.replay.ros_sink`: predictions as ROS 2 messages in a rosbag2.
* :mod:`perception.replay.driver_state`: the driver head through the temporal monitor.
* :mod:`perception.replay.summary`: the end-of-replay summary.
"""
