"""ROS 2 launch file of the perception node (docs/ros.md).

    ros2 launch configs/ros/perception_node.launch.py [params_file:=my_params.yaml]

Runs ``perception ros-node --transport rclpy`` (the project installed with pip into the Python
environment of the sourced ROS 2) with the parameter file (default: perception_node.yaml next to
this file).
"""
from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration


def generate_launch_description() -> LaunchDescription:
    params = Path(__file__).resolve().parent / "perception_node.yaml"
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=str(params),
                              description="ROS 2 parameter file of perception_node"),
        ExecuteProcess(cmd=["perception", "ros-node", "--transport", "rclpy", "--params",
                            LaunchConfiguration("params_file")],
                       output="screen", name="perception_node"),
    ])
