"""Replay of recorded drives through the model, with results for Foxglove and ROS tools."""
