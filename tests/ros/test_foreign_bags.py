"""Recordings written by other writers (rosbags' ROS 1 writer, the mcap_ros2 writer, rosbags'
rosbag2 writer), replayed and checked against values computed in closed form by the test."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from ros_drive import (AUTOWARE, CALIBRATION, INTENSITY, INTRINSICS, LIDAR_POINTS, LIDAR_TO_EGO, POINT_TIMES,
                       VELODYNE, DriveSpec, camera_image, camera_times, drive_messages, ego_pose, lidar_times,
                       write_mcap_ros2, write_ros1_bag, write_rosbag2)
from sensors.ros import open_recording

NAMES = {"front": "CAM_FRONT", "back": "CAM_BACK"}


def expected_camera(camera: str, lidar_ns: int, tolerance_s: float = 0.12, stop_after_s: float = np.inf):
    """(index, stamp) of the image nearest to the LiDAR stamp within the tolerance, by brute force."""
    best = None
    for index, t in enumerate(camera_times(camera, 10.0)):
        if (t - lidar_times(1)[0]) * 1e-9 > stop_after_s:
            continue
        gap = abs(t - lidar_ns)
        if gap <= tolerance_s * 1e9 and (best is None or gap <= best[2]):
            best = (index, t, gap)
    return None if best is None else best[:2]


def check_frames(frames, spec: DriveSpec, lidar_to_ego: np.ndarray, raw_names=NAMES) -> None:
    stamps = lidar_times(spec.lidar_count)
    assert [f.timestamp for f in frames] == [t // 1000 for t in stamps]
    for frame, t in zip(frames, stamps):
        np.testing.assert_allclose(frame.ego_to_global, ego_pose(t), atol=1e-9)
        ego_points = LIDAR_POINTS @ lidar_to_ego[:3, :3].T + lidar_to_ego[:3, 3]
        np.testing.assert_allclose(frame.lidar.points[:, :3], ego_points, atol=1e-5)
        np.testing.assert_allclose(frame.lidar.points[:, 3], INTENSITY, atol=1e-4)
        np.testing.assert_allclose(frame.lidar.points[:, 4], POINT_TIMES, atol=1e-6)
        np.testing.assert_allclose(frame.lidar.lidar_to_ego, lidar_to_ego, atol=1e-9)
        for camera, name in raw_names.items():
            found = expected_camera(camera, t, stop_after_s=spec.stop_camera_after_s.get(camera, np.inf))
            if found is None or (camera, found[0]) in spec.corrupt_images:
                assert name not in frame.cameras
                continue
            index, t_cam = found
            cam = frame.cameras[name]
            assert cam.timestamp == t_cam // 1000
            np.testing.assert_array_equal(cam.image, camera_image(camera, index))
            np.testing.assert_allclose(cam.intrinsics, INTRINSICS[camera], atol=1e-12)
            # The camera in the ego frame at the LiDAR time, by the chain written out here.
            chain = np.linalg.inv(ego_pose(t)) @ ego_pose(t_cam) @ CALIBRATION[camera]
            np.testing.assert_allclose(cam.cam_to_ego, chain, atol=1e-6)


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
