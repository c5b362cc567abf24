"""The synchronizer fed message by message (as a ROS node would), split rosbag2 folders, folders
of .pcd files and open_dataset on recordings."""
from __future__ import annotations

import shutil

import numpy as np
import yaml
from ros_drive import (
    INTENSITY,
    LIDAR_POINTS,
    LIDAR_TO_EGO,
    POINT_TIMES,
    DriveSpec,
    check_frames,
    drive_messages,
    ego_pose,
    lidar_times,
    ros2_store,
    to_rosbags,
    write_rosbag2,
)

from sensors.dataset import detect_layout, open_dataset
from sensors.ros import FrameSynchronizer, load_profile, open_recording


def test_synchronizer_message_by_message_with_two_sweeps() -> None:
    store = ros2_store()
    spec = DriveSpec(lidar_count=4)
    sync = FrameSynchronizer(load_profile("nuscenes"), sweeps=2, scene="live")
    frames, built_after = [], []
    for topic, msgtype, t, message in drive_messages(spec):
        out = sync.add(topic, to_rosbags(store, msgtype, message))
        frames += out
        built_after += [t] * len(out)
    # Each frame comes out as soon as the stream passes its stamp + tolerance + wait (0.22 s).
    stamps = lidar_times(4)
    assert [f.timestamp for f in frames] == [t // 1000 for t in stamps[: len(frames)]]
    for frame_time, t in zip(stamps, built_after):
        assert frame_time + 220_000_000 <= t < frame_time + 260_000_000
    frames += sync.flush()
    # The second sweep: the previous cloud moved into the ego frame at this time, offsets shifted.
    t1, t0 = stamps[1], stamps[0]
    previous = (np.linalg.inv(ego_pose(t1)) @ ego_pose(t0) @ LIDAR_TO_EGO)
    expected = LIDAR_POINTS @ previous[:3, :3].T + previous[:3, 3]
    points = frames[1].lidar.points
    assert len(points) == 2 * len(LIDAR_POINTS) and len(frames[0].lidar.points) == len(LIDAR_POINTS)
    np.testing.assert_allclose(points[4:, :3], expected, atol=1e-5)
    np.testing.assert_allclose(points[4:, 3], INTENSITY)
    np.testing.assert_allclose(points[4:, 4], POINT_TIMES - 0.1, atol=1e-6)
    assert sync.summary.frames == 4
    check_frames([replace_points_by_key_sweep(f) for f in frames], spec, LIDAR_TO_EGO)


def replace_points_by_key_sweep(frame):
    """The frame with only its key sweep's points (the first N), for :func:`check_frames`."""
    frame.lidar.points = frame.lidar.points[: len(LIDAR_POINTS)]
    return frame


def test_split_rosbag2_folder(tmp_path) -> None:
    spec = DriveSpec(lidar_count=6)
    messages = drive_messages(spec)
    middle = lidar_times(6)[3] - 1
    write_rosbag2(tmp_path / "part0", [m for m in messages if m[2] < middle], storage="mcap")
    write_rosbag2(tmp_path / "part1", [m for m in messages if m[2] >= middle], storage="mcap")
    # Join them as `ros2 bag record --max-bag-size` leaves a split recording: one folder, two files.
    bag = tmp_path / "split"
    bag.mkdir()
    shutil.move(tmp_path / "part0" / "part0.mcap", bag / "split_0.mcap")
    shutil.move(tmp_path / "part1" / "part1.mcap", bag / "split_1.mcap")
    meta0 = yaml.safe_load((tmp_path / "part0" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    meta1 = yaml.safe_load((tmp_path / "part1" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    meta0["relative_file_paths"] = ["split_0.mcap", "split_1.mcap"]
    meta0["files"][0]["path"], meta1["files"][0]["path"] = "split_0.mcap", "split_1.mcap"
    meta0["files"] += meta1["files"]
    counts = {t["topic_metadata"]["name"]: t for t in meta0["topics_with_message_count"]}
    for topic in meta1["topics_with_message_count"]:
        name = topic["topic_metadata"]["name"]
        if name in counts:
            counts[name]["message_count"] += topic["message_count"]
        else:
            meta0["topics_with_message_count"].append(topic)
    meta0["message_count"] += meta1["message_count"]
    meta0["duration"]["nanoseconds"] = meta1["starting_time"]["nanoseconds_since_epoch"] + \
        meta1["duration"]["nanoseconds"] - meta0["starting_time"]["nanoseconds_since_epoch"]
    (bag / "metadata.yaml").write_text(yaml.safe_dump({"rosbag2_bagfile_information": meta0}))
    recording = open_recording(bag)
    check_frames(list(recording), spec, LIDAR_TO_EGO)
    assert recording.inspect().format == "rosbag2 (mcap)"


def write_pcd(path, points: np.ndarray, intensity: np.ndarray, ring: np.ndarray, times: np.ndarray) -> None:
    """A binary PCD v0.7 file with fields x y z intensity ring time, written by hand."""
    dtype = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f4"), ("ring", "<u2"), ("time", "<f4")])
    rows = np.zeros(len(points), dtype)
    rows["x"], rows["y"], rows["z"] = points.T
    rows["intensity"], rows["ring"], rows["time"] = intensity, ring, times
    header = (f"# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y z intensity ring time\n"
              f"SIZE 4 4 4 4 2 4\nTYPE F F F F U F\nCOUNT 1 1 1 1 1 1\nWIDTH {len(points)}\nHEIGHT 1\n"
              f"VIEWPOINT 0 0 0 1 0 0 0\nPOINTS {len(points)}\nDATA binary\n")
    path.write_bytes(header.encode() + rows.tobytes())


def test_folder_of_pcd_files(tmp_path) -> None:
    stamps_us = [1_700_000_000_000_000, 1_700_000_000_100_000, 1_700_000_000_200_000]
    for i, stamp in enumerate(stamps_us):
        write_pcd(tmp_path / f"{stamp}.pcd", LIDAR_POINTS + i, INTENSITY / 255.0, np.arange(4), POINT_TIMES - 0.1)
    (tmp_path / "1700000000300000.pcd").write_bytes(b"# .PCD v0.7\nFIELDS x\nbroken")
    assert detect_layout(tmp_path) == "pcd"
    recording = open_dataset(tmp_path)
    frames = list(recording)
    assert [f.timestamp for f in frames] == stamps_us
    for i, frame in enumerate(frames):
        np.testing.assert_allclose(frame.lidar.points[:, :3], LIDAR_POINTS + i, atol=1e-5)
        np.testing.assert_allclose(frame.lidar.points[:, 3], INTENSITY, atol=1e-3)  # 0..1 scaled to 0..255
        np.testing.assert_allclose(frame.lidar.points[:, 4], POINT_TIMES - 0.1, atol=1e-6)
        assert frame.cameras == {} and np.array_equal(frame.ego_to_global, np.eye(4))
    assert recording.summary.unusable["PCD file does not read"] == 1
    info = recording.inspect()
    assert info.format == "folder of .pcd files" and info.topics[0].count == 4
    assert "profiles (best first):" not in info.lines()  # no empty heading: a .pcd folder has no topics to map


def test_open_dataset_opens_bags_and_refuses_splits(tmp_path) -> None:
    write_rosbag2(tmp_path / "bag", drive_messages(DriveSpec(lidar_count=2)), storage="sqlite3")
    assert detect_layout(tmp_path / "bag") == "rosbag"
    recording = open_dataset(tmp_path / "bag", tolerance_s=0.05)
    assert recording.tolerance_s == 0.05 and len(list(recording)) == 2
    try:
        open_dataset(tmp_path / "bag", split="val")
    except ValueError as error:
        assert "no splits" in str(error)
    else:
        raise AssertionError("a split on a recording must be refused")


def test_zero_header_stamps_fall_back_to_the_receive_time() -> None:
    store = ros2_store()
    spec = DriveSpec(lidar_count=3)
    sync = FrameSynchronizer(load_profile("nuscenes"))
    frames = []
    for topic, msgtype, t, message in drive_messages(spec):
        if topic == "/CAM_FRONT/image_rect_compressed":
            message["header"]["stamp"] = {"sec": 0, "nanosec": 0}  # a driver that never sets stamps
        frames += sync.add(topic, to_rosbags(store, msgtype, message), receive_time_ns=t)
    frames += sync.flush()
    check_frames(frames, spec, LIDAR_TO_EGO)  # the receive (log) time equals the true stamp here
    assert any("header stamps are zero" in n for n in sync.summary.notes)


def test_reduced_images_keep_their_intrinsics_consistent(tmp_path) -> None:
    from ros_drive import INTRINSICS, write_mcap_ros2

    write_mcap_ros2(tmp_path / "d.mcap", drive_messages(DriveSpec(lidar_count=2)))
    frame = next(iter(open_recording(tmp_path / "d.mcap", image_reduction=2)))
    camera = frame.cameras["CAM_FRONT"]
    assert camera.image.shape == (3, 4, 3)  # 6 x 8 halved
    np.testing.assert_allclose(camera.intrinsics, np.diag([0.5, 0.5, 1.0]) @ INTRINSICS["front"])


def _rclpy_like(value):
    """A rosbags message rebuilt as plain attribute objects with ``array.array`` byte fields and
    lists, the way rclpy hands messages to a callback."""
    import array
    from types import SimpleNamespace

    if hasattr(value, "__dataclass_fields__"):
        return SimpleNamespace(**{k: _rclpy_like(getattr(value, k)) for k in value.__dataclass_fields__
                                  if k != "__msgtype__"})
    if isinstance(value, np.ndarray):
        return array.array("B", value.tobytes()) if value.dtype == np.uint8 else value.tolist()
    if isinstance(value, list):
        return [_rclpy_like(v) for v in value]
    return value


def test_synchronizer_takes_rclpy_like_messages() -> None:
    store = ros2_store()
    spec = DriveSpec(lidar_count=3)
    sync = FrameSynchronizer(load_profile("nuscenes"))
    frames = []
    for topic, msgtype, _, message in drive_messages(spec):
        frames += sync.add(topic, _rclpy_like(to_rosbags(store, msgtype, message)))
    check_frames(frames + sync.flush(), spec, LIDAR_TO_EGO)


def test_values_the_data_model_refuses_drop_only_that_sensor() -> None:
    """A CameraInfo and a point cloud with text where numbers belong: each loses its sensor in
    that frame, counted; the frame survives."""
    store = ros2_store()
    spec = DriveSpec(lidar_count=2)
    sync = FrameSynchronizer(load_profile("nuscenes"))
    frames = []
    for topic, msgtype, t, message in drive_messages(spec):
        msg = to_rosbags(store, msgtype, message)
        if topic == "/CAM_BACK/camera_info":
            msg.p = ["n/a"] * 12
        if topic == "/LIDAR_TOP" and t == lidar_times(2)[1]:
            msg.point_step = "wide"
        frames += sync.add(topic, msg)
    frames += sync.flush()
    assert len(frames) == 2 and frames[1].lidar is None and frames[0].lidar is not None
    assert all("CAM_BACK" not in f.cameras and "CAM_FRONT" in f.cameras for f in frames)
    assert sync.summary.unusable["values the data model refuses"] == 3


def test_a_message_of_the_wrong_shape_is_counted() -> None:
    from types import SimpleNamespace

    sync = FrameSynchronizer(load_profile("nuscenes"))
    assert sync.add("/LIDAR_TOP", SimpleNamespace(data=b"no header")) == []
    assert sync.add("/CAM_FRONT/image_rect_compressed", SimpleNamespace(header=SimpleNamespace(stamp=None))) == []
    assert sync.summary.unusable["message without the fields of its type"] == 2
    assert sync.add("/some/other/topic", object()) == [] and "/some/other/topic" not in sync.summary.messages
