"""``perception replay`` end to end from the command line on a simulated rosbag2: results.mcap and
the ROS 2 predictions bag read back with other readers (``mcap``, ``rosbags``), --inspect, the
one-line errors, Ctrl-C in a subprocess, a camera missing for a frame."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from mcap.reader import make_reader
from mcap_read import read_messages
from replay_setup import REPO, TINY

from perception.cli import main
from perception.replay.foxglove_sink import TOPICS


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def cli_run(sim_bag, tmp_path_factory):
    """(exit status, output, out folder) of ``perception replay BAG --ros-out --quiet``."""
    out = tmp_path_factory.mktemp("cli") / "out"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        status = main(["replay", str(sim_bag), "--checkpoint", str(TINY), "--out", str(out), "--ros-out", "--quiet"])
    return status, buffer.getvalue(), out


def test_cli_writes_results_and_summary(cli_run, sim_frames):
    status, output, out = cli_run
    assert status == 0, output
    assert "frames replayed" in output and "decode/sync" in output and "p99" in output
    messages = read_messages(out / "results.mcap")
    assert len(messages[TOPICS["points"]]) == len(sim_frames)
    # the cloud replayed from the bag is the simulated one (the bag stores float32 x, y, z, intensity, time)
    for (t, cloud), frame in zip(messages[TOPICS["points"]], sim_frames):
        assert t == frame.timestamp * 1000
        points = np.frombuffer(cloud.data, "<f4").reshape(-1, 5)
        np.testing.assert_allclose(points[:, :3], frame.lidar.points[:, :3], atol=1e-4)
    gt = messages[TOPICS["gt_boxes"]]
    assert [len(u.entities) for _, u in gt] == [len(f.annotations.boxes) for f in sim_frames]
    assert len(messages[TOPICS["driver_state"]]) == len(sim_frames)
    for (_, grid), frame in zip(messages[TOPICS["gt_bev"]], sim_frames):  # the map went through the bag
        layers = frame.annotations.bev_map.layers
        cells = np.frombuffer(grid.data, np.uint8).reshape(layers.shape[2], layers.shape[1], layers.shape[0])
        np.testing.assert_array_equal(cells, np.transpose(layers, (2, 1, 0)).astype(np.uint8) * 255)
    assert (out / "foxglove_layout.json").read_text() == (REPO / "docs" / "foxglove_layout.json").read_text()


def test_ros_out_matches_the_foxglove_boxes(cli_run, sim_frames):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    _, _, out = cli_run
    scene = {t: u for t, u in read_messages(out / "results.mcap")[TOPICS["boxes"]]}
    depth_fox = {(t, m.frame_id): m for t, m in read_messages(out / "results.mcap")[TOPICS["depth"].format(camera="CAM_FRONT")]}
    seen = {"detections": 0, "markers": 0, "depth": 0}
    # definitions come from the bag itself (vision_msgs is not in the default store)
    with AnyReader([out / "predictions"], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        for connection, t, raw in reader.messages():
            msg = reader.deserialize(raw, connection.msgtype)
            if connection.topic == "/perception/detections":
                update = scene[t]
                assert len(msg.detections) == len(update.entities) > 0
                for det, entity in zip(msg.detections, update.entities):
                    p = entity.cubes[0].pose.position
                    c = det.bbox.center.position
                    assert (c.x, c.y, c.z) == pytest.approx((p.x, p.y, p.z), abs=1e-6)
                    assert det.results[0].hypothesis.class_id == {kv.key: kv.value for kv in entity.metadata}["class"]
                assert msg.header.frame_id == "base_link"
                seen["detections"] += 1
            elif connection.topic == "/perception/markers":
                assert msg.markers[0].action == 3  # DELETEALL
                cubes = [m for m in msg.markers if m.type == 1]
                assert len(cubes) == len(scene[t].entities)
                for cube, entity in zip(cubes, scene[t].entities):
                    p, q, size = entity.cubes[0].pose.position, entity.cubes[0].pose.orientation, entity.cubes[0].size
                    assert (cube.pose.position.x, cube.pose.position.y, cube.pose.position.z) == pytest.approx(
                        (p.x, p.y, p.z), abs=1e-6)
                    assert (cube.pose.orientation.z, cube.pose.orientation.w) == pytest.approx((q.z, q.w), abs=1e-6)
                    assert (cube.scale.x, cube.scale.y, cube.scale.z) == pytest.approx((size.x, size.y, size.z), abs=1e-6)
                assert len([m for m in msg.markers if m.type == 9]) == len(cubes)  # TEXT_VIEW_FACING labels
                seen["markers"] += 1
            elif connection.topic == "/perception/CAM_FRONT/depth":
                assert msg.encoding == "32FC1" and msg.header.frame_id == "CAM_FRONT"
                fox = depth_fox[(t, "CAM_FRONT")]
                np.testing.assert_array_equal(np.frombuffer(msg.data.tobytes(), "<f4"), np.frombuffer(fox.data, "<f4"))
                seen["depth"] += 1
    assert seen == {"detections": len(sim_frames), "markers": len(sim_frames), "depth": len(sim_frames)}


def test_inspect_lists_topics_and_exits(sim_bag, capsys):
    assert main(["replay", str(sim_bag), "--inspect"]) == 0
    out = capsys.readouterr().out
    assert "/LIDAR_TOP" in out and "sensor_msgs/msg/PointCloud2" in out and "profile sim" in out


def test_inspect_into_a_closed_pipe_is_quiet(sim_bag):
    """``perception replay BAG --inspect | head -1``: no BrokenPipeError traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        done = subprocess.run([sys.executable, "-m", "perception.cli", "replay", str(sim_bag), "--inspect"],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120, cwd=REPO, check=False,
                              env=_env())
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == ""


def test_bag_without_lidar_is_one_line_exit_2(tmp_path, capsys):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    types = store.types
    bag = tmp_path / "camera_only"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:  # rosbags' own writer
        conn = writer.add_connection("/CAM_FRONT/image_rect_compressed", "sensor_msgs/msg/CompressedImage",
                                     typestore=store)
        header = types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=1, nanosec=0),
                                              frame_id="CAM_FRONT")
        msg = types["sensor_msgs/msg/CompressedImage"](header=header, format="jpeg", data=np.zeros(4, np.uint8))
        writer.write(conn, 1_000_000_000, store.serialize_cdr(msg, "sensor_msgs/msg/CompressedImage"))
    status = main(["replay", str(bag), "--checkpoint", str(TINY), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "no LiDAR topic" in err[0]
    assert not (tmp_path / "out").exists()
    # --inspect still lists what the bag holds, to write a profile from
    assert main(["replay", str(bag), "--inspect"]) == 0
    captured = capsys.readouterr()
    assert "profile none" in captured.out and "/CAM_FRONT/image_rect_compressed" in captured.out
    assert "note: cannot replay: no LiDAR topic" in captured.out and not captured.err


def test_missing_arguments_and_paths(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope"), "--inspect"]) == 2
    assert main(["replay", str(tmp_path), "--inspect"]) == 2  # an empty folder is no recording
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("perception replay: error:") for line in err)
    (tmp_path / "results.mcap").write_bytes(b"")
    for extra, why in ((["--out", str(tmp_path / "results.mcap")], "exists and is not a folder"),
                       (["--out", str(tmp_path / "o"), "--tolerance", "-0.1"], "--tolerance must be >= 0 s")):
        assert main(["replay", str(tmp_path), "--checkpoint", str(TINY), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and why in err[0]


def test_a_camera_missing_for_a_frame(sim_frames, tiny_model, tmp_path, capsys):
    """Frame 1 written without cameras: the model answers from LiDAR (boxes, no depth), the summary counts it."""
    from sensors.ros.writer import write_rosbag2

    frames = [f if k != 1 else dataclasses.replace(f, cameras={}) for k, f in enumerate(sim_frames)]
    bag = write_rosbag2(frames, tmp_path / "drive")
    assert main(["replay", str(bag), "--checkpoint", str(TINY), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "frames with a missing sensor" in out
    row = next(line for line in out.splitlines() if "frames with a missing sensor" in line)
    assert row.split()[-1] == "1"
    messages = read_messages(tmp_path / "out" / "results.mcap")
    assert len(messages[TOPICS["boxes"]]) == 3
    depth_times = [t for t, _ in messages[TOPICS["depth"].format(camera="CAM_FRONT")]]
    assert len(depth_times) == 2 and sim_frames[1].timestamp * 1000 not in depth_times


@pytest.mark.slow  # a fresh interpreter imports torch and loads the model: ~40 s on the shared CPU
def test_ctrl_c_leaves_a_finished_mcap(tmp_path):
    """SIGINT to a replay subprocess once a frame is done: exit 130, results.mcap finished with the
    frames done (summary section readable), no temporary file."""
    from replay_setup import SIM

    from sensors.ros.writer import write_rosbag2
    from sensors.sim import SimConfig, simulate_drive

    frames = list(simulate_drive(SimConfig(**SIM), seed=4, num_frames=5, scene_name="scene-0103"))
    bag = write_rosbag2(frames, tmp_path / "drive")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "perception.cli", "replay", str(bag), "--checkpoint", str(TINY),
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=REPO)
    err = bytearray()
    def pump() -> None:
        while chunk := proc.stderr.read1(4096):
            err.extend(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while b"1/5" not in err and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)
    finally:
        proc.kill()
    stdout = proc.stdout.read()
    reader.join(timeout=5)
    assert proc.returncode == 130, err.decode(errors="replace")
    with open(out / "results.mcap", "rb") as f:
        summary = make_reader(f).get_summary()
    counts = {summary.channels[i].topic: n for i, n in summary.statistics.channel_message_counts.items()}
    assert 1 <= counts[TOPICS["points"]] < len(frames)
    assert counts[TOPICS["boxes"]] == counts[TOPICS["points"]]
    assert b"interrupted after" in bytes(err) and b"frames replayed" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["foxglove_layout.json", "results.mcap"]


def test_pcd_folder_is_replayed_from_lidar_alone(sim_frames, tmp_path, capsys):
    """A folder of .pcd files written by open3d (x, y, z, intensity): LiDAR-only frames, the model
    answers from the LiDAR (boxes, map; no depth), every camera counted missing."""
    import open3d as o3d

    folder = tmp_path / "pcd"
    folder.mkdir()
    for frame in sim_frames[:2]:
        cloud = o3d.t.geometry.PointCloud()
        cloud.point.positions = o3d.core.Tensor(frame.lidar.points[:, :3].astype(np.float32))
        cloud.point.intensity = o3d.core.Tensor(frame.lidar.points[:, 3:4].astype(np.float32))
        assert o3d.t.io.write_point_cloud(str(folder / f"{frame.timestamp * 1000}.pcd"), cloud)
    status = main(["replay", str(folder), "--checkpoint", str(TINY), "--out", str(tmp_path / "out"), "--quiet"])
    out = capsys.readouterr().out
    assert status == 0, out
    rows = dict(m.groups() for line in out.splitlines() if (m := re.match(r"^\s*(\S.*?)\s{2,}(\S+)\s*$", line)))
    assert rows["frames replayed"] == "2" and rows["frames with a missing sensor"] == "2"
    assert rows["without CAM_FRONT"] == "2"
    messages = read_messages(tmp_path / "out" / "results.mcap")
    assert [t for t, _ in messages[TOPICS["points"]]] == [f.timestamp * 1000 for f in sim_frames[:2]]
    assert len(messages[TOPICS["boxes"]]) == 2 and len(messages[TOPICS["bev"]]) == 2
    assert not any(topic.startswith("/camera/") for topic in messages)
