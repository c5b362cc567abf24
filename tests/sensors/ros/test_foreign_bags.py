"""Recordings written by other writers (rosbags' ROS 1 writer, the mcap_ros2 writer, rosbags'
rosbag2 writer), replayed and checked against values computed in closed form by the test."""
from __future__ import annotations

import numpy as np
import pytest
import yaml
from ros_drive import (
    AUTOWARE,
    LIDAR_TO_EGO,
    VELODYNE,
    DriveSpec,
    check_frames,
    drive_messages,
    write_mcap_ros2,
    write_ros1_bag,
    write_rosbag2,
)

from sensors.ros import open_recording


def test_ros1_bag_from_rosbags_ros1_writer_with_raw_bgr_images(tmp_path) -> None:
    spec = DriveSpec(lidar_topic="/velodyne_points", lidar_frame="velodyne", layout=VELODYNE, image_kind="bgr8",
                     cameras={"front": ("/front/image_raw", "/front/camera_info", "front_optical"),
                              "back": ("/back/image_raw", "/back/camera_info", "back_optical")})
    bag = tmp_path / "drive.bag"
    write_ros1_bag(bag, drive_messages(spec))
    profile = tmp_path / "car.yaml"
    profile.write_text(yaml.safe_dump({
        "name": "car", "lidar": "/velodyne_points",
        "cameras": {"CAM_FRONT": {"image": "/front/image_raw", "info": "/front/camera_info", "rectified": False},
                    "CAM_BACK": {"image": "/back/image_raw", "info": "/back/camera_info", "rectified": False}}}))
    recording = open_recording(bag, profile=profile)
    frames = list(recording)
    check_frames(frames, spec, LIDAR_TO_EGO)
    assert recording.summary.frames == spec.lidar_count and not recording.summary.unusable
    assert recording.inspect().format == "ROS 1 bag"


def test_mcap_from_mcap_ros2_writer_autoware_profile_is_chosen(tmp_path) -> None:
    spec = DriveSpec(lidar_topic="/sensing/lidar/concatenated/pointcloud", lidar_frame="base_link", layout=AUTOWARE,
                     cameras={"front": ("/sensing/camera/camera0/image_rect_color/compressed",
                                        "/sensing/camera/camera0/camera_info", "camera0/camera_optical_link"),
                              "back": ("/sensing/camera/camera3/image_rect_color/compressed",
                                       "/sensing/camera/camera3/camera_info", "camera3/camera_optical_link")})
    bag = tmp_path / "drive.mcap"
    write_mcap_ros2(bag, drive_messages(spec))
    recording = open_recording(bag)
    assert recording.profile.name == "autoware"
    frames = list(recording)
    check_frames(frames, spec, np.eye(4))  # the concatenated cloud is already in base_link
    # Autoware's other cameras are absent: missing in every frame, nothing else.
    assert recording.summary.missing["CAM_FRONT_LEFT"] == spec.lidar_count
    assert recording.summary.missing["CAM_FRONT"] == 0 and not recording.summary.unusable


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_rosbag2_from_rosbags_writer_nuscenes_profile(tmp_path, storage: str) -> None:
    spec = DriveSpec()
    write_rosbag2(tmp_path / "drive", drive_messages(spec), storage=storage)
    recording = open_recording(tmp_path / "drive")
    assert recording.profile.name == "nuscenes"
    check_frames(list(recording), spec, LIDAR_TO_EGO)


def test_split_ros1_recording_folder(tmp_path) -> None:
    """`rosbag record --split` leaves several .bag files: read as one recording, in time order."""
    from sensors.dataset import detect_layout

    spec = DriveSpec(lidar_count=6)
    messages = drive_messages(spec)
    middle = messages[len(messages) // 2][2]
    folder = tmp_path / "drive"
    folder.mkdir()
    static = [m for m in messages if m[0] == "/tf_static"]
    write_ros1_bag(folder / "drive_0.bag", [m for m in messages if m[2] < middle])
    write_ros1_bag(folder / "drive_1.bag", static + [m for m in messages if m[2] >= middle and m[0] != "/tf_static"])
    assert detect_layout(folder) == "rosbag"
    recording = open_recording(folder)
    check_frames(list(recording), spec, LIDAR_TO_EGO)
    assert recording.inspect().format == "ROS 1 bags (split)"
