"""The ROS 2 perception node: its logic (:mod:`perception.node.logic`, no ROS import), its outputs
(:mod:`perception.node.outputs`), parameters, and two transports: rclpy
(:mod:`perception.node.rclpy_node`) and Cyclone DDS without ROS (:mod:`perception.node.dds`).
See docs/ros.md."""
