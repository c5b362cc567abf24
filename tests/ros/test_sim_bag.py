"""``perception simulate --format rosbag2``: the bag checked with other readers (the mcap and
mcap_ros2 libraries, plain YAML) and replayed back to the simulated frames."""
from __future__ import annotations

import argparse
import struct
from dataclasses import replace as dataclass_replace

import numpy as np
import pytest
import yaml

from perception.cli_simulate import add_simulate_parser, run_simulate
from sensors.geometry import invert_transform
from sensors.ros import open_recording
from sensors.ros.writer import write_rosbag2
from sensors.sim import SimConfig, simulate_drive

SMALL = SimConfig(image_size=(36, 64), cabin_size=(24, 32), num_lidar_beams=4, lidar_azimuth_steps=64, num_agents=4,
                  sweeps_per_keyframe=2, enable_depth=False)


@pytest.fixture(scope="module")
def drive():
    """Two keyframes; each camera fires at its own time (the simulator's nuScenes trigger, the
    free-running cabin), with its own ego pose, as on a real car."""
    frames = list(simulate_drive(SMALL, seed=2, num_frames=2))
    assert len({c.timestamp for c in frames[0].cameras.values()}) == 6  # really their own times
    return frames


def test_tf_static_comes_first_so_that_early_sweeps_have_their_calibration(tmp_path) -> None:
    """The full 20 Hz LiDAR: nine sweeps precede the first keyframe by up to 0.45 s, longer than the
    synchronizer waits for a transform; /tf_static must be logged before them."""
    from mcap.reader import make_reader

    frames = list(simulate_drive(dataclass_replace(SMALL, sweeps_per_keyframe=10), seed=2, num_frames=1))
    bag = write_rosbag2(frames, tmp_path / "drive")
    with open(next(bag.glob("*.mcap")), "rb") as f:  # the mcap library's reader, log time order
        first = [channel.topic for _, channel, _ in make_reader(f).iter_messages(log_time_order=True)][:2]
    assert first[0] == "/tf_static", first
    recording = open_recording(bag)
    replayed = list(recording)
    assert len(replayed) == 10 and all(f.lidar is not None for f in replayed)
    assert "no transform to the ego frame" not in recording.summary.unusable


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_simulated_drive_replays_to_the_same_frames(tmp_path, drive, storage: str) -> None:
    frames = drive
    bag = write_rosbag2(frames, tmp_path / "drive", storage=storage, image_format="png")
    recording = open_recording(bag)
    assert recording.profile.name == "sim"
    replayed = list(recording)
    assert len(replayed) == 4 and recording.summary.frames == 4 and not recording.summary.unusable
    by_time = {f.timestamp: f for f in replayed}
    for frame in frames:
        got = by_time[frame.timestamp]
        np.testing.assert_allclose(got.ego_to_global, frame.ego_to_global, atol=1e-9)
        np.testing.assert_allclose(got.lidar.points, frame.lidar.points, atol=1e-4)
        np.testing.assert_allclose(got.lidar.lidar_to_ego, frame.lidar.lidar_to_ego, atol=1e-12)
        assert list(got.cameras) == list(frame.cameras)
        for name, camera in frame.cameras.items():
            np.testing.assert_array_equal(got.cameras[name].image, camera.image)
            np.testing.assert_allclose(got.cameras[name].intrinsics, camera.intrinsics, atol=1e-12)
            np.testing.assert_allclose(got.cameras[name].cam_to_ego, camera.cam_to_ego, atol=1e-9)
            np.testing.assert_allclose(got.cameras[name].ego_to_global, camera.ego_to_global, atol=1e-9)
            assert got.cameras[name].timestamp == camera.timestamp
        np.testing.assert_array_equal(got.cabin.image, frame.cabin.image)
        assert got.cabin.timestamp == frame.cabin.timestamp
        np.testing.assert_allclose(got.cabin.cam_to_ego, frame.cabin.cam_to_ego, atol=1e-9)
        boxes, truth = got.annotations.boxes, frame.annotations.boxes
        np.testing.assert_allclose(boxes.center, truth.center, atol=1e-9)
        np.testing.assert_allclose(boxes.size, truth.size, atol=1e-12)
        np.testing.assert_allclose(boxes.yaw, truth.yaw, atol=1e-9)
        np.testing.assert_array_equal(boxes.label, truth.label)
        assert boxes.token == truth.token
        np.testing.assert_array_equal(got.annotations.bev_map.layers, frame.annotations.bev_map.layers)
        assert got.annotations.bev_map.grid == frame.annotations.bev_map.grid
        # The non-key sweep 50 ms earlier is a frame of its own: its points, and the same images
        # (within 0.12 s) placed in the ego frame at the sweep's time.
        sweep = frame.sweeps[-1]
        early = by_time[sweep.timestamp]
        np.testing.assert_allclose(early.lidar.points[:, :4], sweep.points[:, :4], atol=1e-4)
        assert early.annotations is None  # ground truth only at the keyframe
        name = "CAM_FRONT"
        chain = invert_transform(sweep.ego_to_global) @ frame.ego_to_global @ frame.cameras[name].cam_to_ego
        np.testing.assert_allclose(early.cameras[name].cam_to_ego, chain, atol=1e-6)


def test_bag_files_read_by_other_readers(tmp_path, drive) -> None:
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    frames = drive
    bag = write_rosbag2(frames, tmp_path / "drive", storage="mcap")
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["storage_identifier"] == "mcap" and meta["relative_file_paths"] == ["drive.mcap"]
    topics = {t["topic_metadata"]["name"]: t for t in meta["topics_with_message_count"]}
    assert topics["/LIDAR_TOP"]["message_count"] == 4
    assert topics["/LIDAR_TOP"]["topic_metadata"]["type"] == "sensor_msgs/msg/PointCloud2"
    assert topics["/CAM_FRONT/image_rect_compressed"]["topic_metadata"]["type"] == "sensor_msgs/msg/CompressedImage"
    assert topics["/ground_truth/boxes"]["topic_metadata"]["type"] == "vision_msgs/msg/Detection3DArray"
    assert topics["/ground_truth/map/drivable_area"]["topic_metadata"]["type"] == "nav_msgs/msg/OccupancyGrid"
    assert topics["/tf_static"]["topic_metadata"]["offered_qos_profiles"][0]["durability"] == "transient_local"
    assert meta["message_count"] == sum(t["message_count"] for t in topics.values())
    # The mcap library with the mcap_ros2 decoder (its own CDR parser) reads the key cloud back.
    key_ns = frames[0].timestamp * 1000
    lidar_to_ego = frames[0].lidar.lidar_to_ego
    with open(bag / "drive.mcap", "rb") as stream:
        for schema, channel, message, decoded in make_reader(stream, decoder_factories=[DecoderFactory()]) \
                .iter_decoded_messages(topics=["/LIDAR_TOP"]):
            if message.log_time == key_ns:
                break
    assert schema.name == "sensor_msgs/msg/PointCloud2" and decoded.header.frame_id == "LIDAR_TOP"
    assert [f.name for f in decoded.fields] == ["x", "y", "z", "intensity", "time"]
    values = np.array([struct.unpack_from("<fffff", bytes(decoded.data), i * decoded.point_step)
                       for i in range(decoded.width)])
    ego = values[:, :3] @ lidar_to_ego[:3, :3].T + lidar_to_ego[:3, 3]
    np.testing.assert_allclose(ego, frames[0].lidar.points[:, :3], atol=1e-4)
    np.testing.assert_allclose(values[:, 3], frames[0].lidar.points[:, 3])


def test_writer_refuses_a_folder_that_is_no_bag_and_replaces_a_bag(tmp_path, drive) -> None:
    frames = drive
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a rosbag2 folder"):
        write_rosbag2(frames[:1], other)
    assert (other / "keep.txt").read_text() == "mine"
    bag = write_rosbag2(frames, tmp_path / "bag")
    write_rosbag2(frames[:1], bag)
    assert len(list(open_recording(bag))) == 2  # one keyframe with its two sweeps
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_cli_simulate_rosbag2(tmp_path) -> None:
    parser = argparse.ArgumentParser()
    add_simulate_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["simulate", "--out", str(tmp_path / "bag"), "--frames", "1", "--format", "rosbag2",
                              "--storage", "sqlite3", "--sweeps", "1", "--size", "36x64", "--no-progress"])
    assert run_simulate(args) == 0
    recording = open_recording(tmp_path / "bag")
    frames = list(recording)
    assert len(frames) == 1 and len(frames[0].cameras) == 6 and frames[0].cabin is not None
    assert recording.inspect().format == "rosbag2 (sqlite3)"
    with pytest.raises(ValueError, match="--sweeps"):
        run_simulate(parser.parse_args(["simulate", "--out", str(tmp_path / "x"), "--sweeps", "0"]))


def test_cameras_without_their_own_pose_are_placed_by_interpolated_ego_motion(tmp_path, drive) -> None:
    """Frames from a reader that records no per-camera pose: the writer interpolates the ego pose
    at each camera time between the sweeps (50 ms apart) and the replay agrees with the truth to
    the interpolation error: 1e-5 m here, where leaving the motion out would be off by 0.4 m."""
    frames = [dataclass_replace(f, cameras={n: dataclass_replace(c, ego_to_global=None) for n, c in f.cameras.items()})
              for f in drive]
    replayed = {f.timestamp: f for f in open_recording(write_rosbag2(frames, tmp_path / "bag"))}
    for frame, original in zip(frames, drive):
        for name, camera in replayed[frame.timestamp].cameras.items():
            np.testing.assert_allclose(camera.cam_to_ego, original.cameras[name].cam_to_ego, atol=1e-4)
            np.testing.assert_allclose(camera.ego_to_global, original.cameras[name].ego_to_global, atol=1e-4)
