"""Damaged recordings are read as far as they can be, every loss is counted and
nothing raises (except a recording with no LiDAR at all: one clear line)."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from ros_drive import (
    LIDAR_TO_EGO,
    DriveSpec,
    check_frames,
    drive_messages,
    lidar_times,
    ros2_store,
    write_mcap_ros2,
    write_rosbag2,
)
from rosbags.typesys import get_types_from_msg

from sensors.dataset import open_dataset
from sensors.errors import SensorDataError
from sensors.ros import open_recording


def test_truncated_mcap_keeps_the_frames_before_the_cut(tmp_path) -> None:
    spec = DriveSpec(lidar_count=12)
    full = tmp_path / "full.mcap"
    write_mcap_ros2(full, drive_messages(spec), chunk_size=4096)  # many small chunks
    data = full.read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: int(len(data) * 0.6)])  # mid-chunk: no summary, no footer
    recording = open_recording(cut)
    frames = list(recording)
    assert 3 <= len(frames) < spec.lidar_count
    # The last frames before the cut may lack an image that was in the lost chunk: check the
    # frames whose sensors all precede the cut exactly.
    check_frames(frames[:-2], spec, LIDAR_TO_EGO, stamps=lidar_times(len(frames))[:-2])
    notes = " ".join(recording.summary.notes)
    assert "index cannot be read" in notes and "reading stopped" in notes
    info = recording.inspect()
    assert info.topics and any("index cannot be read" in n for n in info.notes)


def _old_bag_with_a_vendor_topic(path) -> None:
    """A sqlite3 rosbag2 as Humble recorded it (database schema 3: no stored definitions), with a
    vendor packet topic whose type no type store knows."""
    store = ros2_store()
    store.register(get_types_from_msg("uint8[] data\nuint64 stamp", "acme_lidar_msgs/msg/Packet"))
    messages = drive_messages(DriveSpec(lidar_count=4))
    messages += [("/acme/packets", "acme_lidar_msgs/msg/Packet", t, {"data": bytes(range(10)), "stamp": t})
                 for _, _, t, _ in messages[:5]]
    messages.sort(key=lambda m: m[2])
    write_rosbag2(path, messages, storage="sqlite3", store=store)
    db = next(path.glob("*.db3"))
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TABLE message_definitions")
        connection.execute("UPDATE schema SET schema_version = 3")


def test_old_bag_types_resolve_from_the_typestore_and_unknown_types_are_listed(tmp_path) -> None:
    bag = tmp_path / "old"
    _old_bag_with_a_vendor_topic(bag)
    recording = open_recording(bag)
    info = {t.topic: t for t in recording.inspect().topics}
    assert "unknown message type acme_lidar_msgs/msg/Packet" in info["/acme/packets"].problem
    assert info["/LIDAR_TOP"].problem is None and info["/LIDAR_TOP"].role == "lidar"
    frames = list(recording)
    check_frames(frames, DriveSpec(lidar_count=4), LIDAR_TO_EGO)
    assert recording.summary.unusable["unknown message type"] == 5
    assert "/acme/packets" in recording.summary.examples["unknown message type"]


def test_lidar_stamps_out_of_order(tmp_path) -> None:
    spec = DriveSpec(lidar_count=12)
    messages = drive_messages(spec)
    times = lidar_times(12)
    relogged = []
    for topic, msgtype, t, msg in messages:
        if topic == "/LIDAR_TOP" and t == times[2]:
            t = times[3] + 1  # logged just after its successor: reordered, not lost
        elif topic == "/LIDAR_TOP" and t == times[5]:
            t = times[9] + 1  # logged 0.4 s late, after the next frame was built: dropped and counted
        relogged.append((topic, msgtype, t, msg))
    write_mcap_ros2(tmp_path / "d.mcap", sorted(relogged, key=lambda m: m[2]))
    recording = open_recording(tmp_path / "d.mcap")
    frames = list(recording)
    kept = [t for t in times if t != times[5]]
    check_frames(frames, spec, LIDAR_TO_EGO, stamps=kept)
    assert recording.summary.unusable["LiDAR message older than a frame already built"] == 1


def test_missing_camera_info_transform_corrupt_image_and_a_camera_that_stops(tmp_path) -> None:
    spec = DriveSpec(lidar_count=10, info_cameras=("front",), corrupt_images={("front", 2)})
    write_mcap_ros2(tmp_path / "a.mcap", drive_messages(spec))
    recording = open_recording(tmp_path / "a.mcap")
    frames = list(recording)
    check_frames(frames, spec, LIDAR_TO_EGO, raw_names={"front": "CAM_FRONT"})
    assert all("CAM_BACK" not in f.cameras for f in frames)
    summary = recording.summary
    assert summary.unusable["no CameraInfo"] == 10 and summary.missing["CAM_BACK"] == 10
    corrupt_frames = sum(1 for f in frames if "CAM_FRONT" not in f.cameras)
    assert corrupt_frames >= 1 and summary.unusable["image does not decode"] == corrupt_frames
    assert "/CAM_BACK/camera_info" in summary.examples["no CameraInfo"]

    spec = DriveSpec(lidar_count=20, static_cameras=("back",), stop_camera_after_s={"back": 0.5})
    write_mcap_ros2(tmp_path / "b.mcap", drive_messages(spec))
    recording = open_recording(tmp_path / "b.mcap")
    frames = list(recording)
    check_frames(frames, spec, LIDAR_TO_EGO, raw_names={"back": "CAM_BACK"})
    assert all("CAM_FRONT" not in f.cameras for f in frames)
    assert recording.summary.unusable["no transform to the ego frame"] == 20
    assert "cam_front_optical" in recording.summary.examples["no transform to the ego frame"]
    assert 10 <= recording.summary.missing["CAM_BACK"] < 20  # it stopped after 0.5 s of 1.9 s
    assert any("/CAM_BACK/image_rect_compressed: stopped publishing" in n for n in recording.summary.notes)


def test_a_message_that_does_not_deserialize_is_counted(tmp_path) -> None:
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = ros2_store()
    spec = DriveSpec(lidar_count=3)
    write_rosbag2(tmp_path / "ok", drive_messages(spec), storage="mcap")
    with Writer(tmp_path / "bad", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        lidar = writer.add_connection("/LIDAR_TOP", "sensor_msgs/msg/PointCloud2", typestore=store)
        writer.write(lidar, lidar_times(1)[0], b"\x00\x01\x00\x00garbage")
    recording = open_recording(tmp_path / "bad")
    assert list(recording) == []
    assert recording.summary.unusable["message does not deserialize"] == 1


def test_no_lidar_topic_is_one_line(tmp_path) -> None:
    messages = [m for m in drive_messages(DriveSpec(lidar_count=2)) if m[0] != "/LIDAR_TOP"]
    write_mcap_ros2(tmp_path / "cams.mcap", messages)
    for opener in (open_recording, open_dataset):
        with pytest.raises(SensorDataError, match="no LiDAR topic.*no PointCloud2 topic at all") as error:
            opener(tmp_path / "cams.mcap")
        assert "\n" not in str(error.value) and "cams.mcap" in str(error.value)
    with pytest.raises(SensorDataError, match="profile 'autoware' expects /sensing/lidar/concatenated/pointcloud"):
        open_recording(tmp_path / "cams.mcap", profile="autoware")


def test_a_recording_iterates_again_with_a_fresh_summary(tmp_path) -> None:
    write_mcap_ros2(tmp_path / "d.mcap", drive_messages(DriveSpec(lidar_count=3)))
    recording = open_recording(tmp_path / "d.mcap")
    first = [f.timestamp for f in recording]
    second = [f.timestamp for f in recording]
    assert first == second and recording.summary.frames == 3
    np.testing.assert_array_equal(len(first), 3)
