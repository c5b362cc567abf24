"""ROS 2 node latency and throughput over Cyclone DDS with a checkpoint on this machine, and the
share of the time spent outside the model.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/ros_node.py [--checkpoint perception/checkpoints/tiny.pt]
                                                    [--frames 8] [--write-docs]

Method: the simulator writes ``--frames`` keyframes of a drive at the checkpoint's simulator
settings (six cameras, LiDAR, cabin) as a rosbag2. The node runs as its own process
(``perception ros-node --transport dds``, one torch thread) on a loopback-only Cyclone DDS
(:data:`perception.node.dds.LOOPBACK_CONFIG`, a fresh domain). This process publishes the bag's
messages in order over DDS (LiDAR, cameras, CameraInfo, /tf, /tf_static, as recorded) and
subscribes to the detections and the timing topics. Closed loop: a frame is complete once a
message stamped ``sync_tolerance_s + sync_wait_s`` after its LiDAR stamp arrives (the
synchronizer's rule); that message is sent, then the next one only after the frame's
``Detection3DArray`` came back. Latency = detections received - completing message sent (both
this process's clock): the node's own delay once its inputs are there, with DDS transport both
ways, message decoding, synchronization, inference, output encoding. A live node adds the
synchronization wait (``sync_tolerance_s + sync_wait_s`` of sensor time, 0.22 s by default) on
top, by design. Throughput = frames / wall time of the closed loop. The model's share comes from
the node's timing topics (``inference_ms``; pre- and postprocessing shown apart); outside the
model = latency - inference. The first frame (warm-up) is not counted.

``--write-docs`` replaces the ``## ROS 2 node`` section of docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.doc_sections import write_section

DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## ROS 2 node"
TIMING = ("preprocessing_ms", "inference_ms", "postprocessing_ms")


def measure(checkpoint: Path, frames: int, seed: int = 11, timeout_s: float = 120.0) -> dict:
    """Run the node process and the closed loop; per-frame latencies (s), timing topics (ms), fps."""
    from perception.config import build_sim_config
    from perception.model import load_model
    from perception.node.dds import LOOPBACK_CONFIG
    from perception.node.params import NodeParams
    from sensors.ros.writer import write_rosbag2
    from sensors.sim import simulate_drive

    _, config = load_model(checkpoint, None)
    sim = build_sim_config(config.data)
    params = NodeParams(checkpoint=str(checkpoint))
    complete_after_ns = round((params.sync_tolerance_s + params.sync_wait_s) * 1e9)
    domain = random.randint(100, 230)
    env = {**os.environ, "CYCLONEDDS_URI": LOOPBACK_CONFIG, "OMP_NUM_THREADS": "1"}
    os.environ["CYCLONEDDS_URI"] = LOOPBACK_CONFIG
    with tempfile.TemporaryDirectory() as tmp:
        drive = list(simulate_drive(sim, seed=seed, num_frames=frames, scene_name="scene-bench"))
        bag = write_rosbag2(drive, Path(tmp) / "drive")
        with open(Path(tmp) / "node.log", "w+") as log:
            node = subprocess.Popen([sys.executable, "-m", "perception.cli", "ros-node", "--transport", "dds",
                                     "--domain-id", str(domain), "--checkpoint", str(checkpoint), "--profile", "sim",
                                     "--device", "cpu"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                return _closed_loop(bag, domain, complete_after_ns, timeout_s, Path(tmp) / "node.log", node) | {
                    "image_size": tuple(sim.image_size), "frames_in_bag": frames}
            finally:
                node.terminate()
                try:
                    node.wait(30)
                except subprocess.TimeoutExpired:
                    node.kill()


def _closed_loop(bag: Path, domain: int, complete_after_ns: int, timeout_s: float, node_log: Path,
                 node: subprocess.Popen) -> dict:
    from rosbags.highlevel import AnyReader

    from perception.node.dds import PLAYER_QOS, STATIC_QOS, DdsTransport
    from sensors.ros.idl import idl_type
    from sensors.ros.types import stamp_to_ns

    transport = DdsTransport(domain)
    arrived: dict[int, float] = {}
    timings: dict[str, list[float]] = {name: [] for name in TIMING}
    cond = threading.Condition()

    def on_detections(topic, msg, receive_ns) -> None:
        with cond:
            arrived[stamp_to_ns(msg.header.stamp)] = time.perf_counter()
            cond.notify_all()

    reader = transport.subscribe("/perception/detections", "vision_msgs/msg/Detection3DArray", on_detections)
    for name in TIMING:
        transport.subscribe(f"/perception/timing/{name}", "std_msgs/msg/Float64",
                            lambda topic, msg, _, name=name: timings[name].append(float(msg.data)))
    deadline = time.monotonic() + timeout_s
    while transport.publishers(reader) == 0:  # the node is up (model loaded, topics advertised)
        if node.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the node did not come up:\n{node_log.read_text()}")
        time.sleep(0.2)
    latencies: list[float] = []
    with AnyReader([bag], default_typestore=transport.store) as bag_reader:
        writers = {c.topic: (transport.advertise(c.topic, c.msgtype, STATIC_QOS if c.topic == "/tf_static" else PLAYER_QOS),
                             idl_type(c.msgtype, transport.store)) for c in bag_reader.connections}
        lidar_topic = "/LIDAR_TOP"
        while transport.subscribers(lidar_topic) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # every input reader matched
        pending: list[int] = []
        start = None
        for connection, _, raw in bag_reader.messages(connections=bag_reader.connections):
            sample = writers[connection.topic][1].deserialize(bytes(raw))
            msg = bag_reader.deserialize(raw, connection.msgtype)
            stamps = ([stamp_to_ns(t.header.stamp) for t in msg.transforms] if connection.msgtype.endswith("TFMessage")
                      else [stamp_to_ns(msg.header.stamp)])
            advances = connection.topic != "/tf_static" and not connection.msgtype.endswith("CameraInfo")
            completes = [t for t in pending if advances and stamps and max(stamps) >= t + complete_after_ns]
            sent = time.perf_counter()
            writers[connection.topic][0].write(sample)
            if connection.topic == lidar_topic:
                pending.append(stamps[0])
            for t in completes:
                pending.remove(t)
                with cond:
                    if not cond.wait_for(lambda t=t: t in arrived, timeout=max(deadline - time.monotonic(), 0.0)):
                        raise RuntimeError(f"no detections for the frame at {t} ns:\n{node_log.read_text()}")
                if start is None:
                    start = time.perf_counter()  # after the warm-up frame
                else:
                    latencies.append(arrived[t] - sent)
        wall = time.perf_counter() - start if start is not None else float("nan")
    time.sleep(0.5)
    return {"latency_s": latencies, "timing_ms": {k: v[1:] for k, v in timings.items()},
            "frames": len(latencies), "wall_s": wall, "fps": len(latencies) / wall if latencies else 0.0}


def report(result: dict, command: str, load_before: tuple, load_after: tuple, tolerance_s: float, wait_s: float) -> str:
    """The ``## ROS 2 node`` section of docs/benchmarks.md."""
    import numpy as np

    latency = np.array(result["latency_s"]) * 1e3
    timing = {k: float(np.median(v)) for k, v in result["timing_ms"].items() if v}
    median = float(np.median(latency))
    model = timing.get("inference_ms", float("nan"))
    outside = (median - model) / median
    h, w = result["image_size"]
    lines = [
        SECTION, "",
        ("`benchmarks/ros_node.py` (method in its docstring): the shipped `tiny` checkpoint as `perception ros-node "
         "--transport dds` in its own process, fed a simulated drive over a loopback-only Cyclone DDS by the "
         "benchmark process, which receives the detections (closed loop: the next frame's messages go out once "
         "the previous frame's detections are back)."), "",
        (f"Command: `{command}`; {platform.machine()}, {os.cpu_count()} CPUs shared by the node, the player and "
         f"other jobs (load average before / after: {', '.join(f'{v:.1f}' for v in load_before)} / "
         f"{', '.join(f'{v:.1f}' for v in load_after)}), 1 torch thread; "
         f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. {result['frames']} frames (after one warm-up "
         f"frame) of six {w}x{h} cameras, LiDAR and cabin."), "",
        "| per frame | median (ms) | p95 (ms) |", "| --- | ---: | ---: |",
        (f"| end to end: completing message sent -> detections received | {median:.0f} | "
         f"{np.percentile(latency, 95):.0f} |"),
    ]
    for name, label in (("preprocessing_ms", "pre-processing (node timing topic)"),
                        ("inference_ms", "inference: the model's forward pass"),
                        ("postprocessing_ms", "post-processing (decoding the heads)")):
        values = result["timing_ms"].get(name) or [float("nan")]
        lines.append(f"| {label} | {np.median(values):.0f} | {np.percentile(values, 95):.0f} |")
    lines += [
        "", f"- Throughput (closed loop): **{result['fps']:.2f} frames/s**.",
        (f"- Outside the model: **{outside * 100:.0f}% of the end-to-end latency** ({median - model:.0f} ms of "
         f"{median:.0f} ms: DDS both ways, message decoding, synchronization, pre- and post-processing, output "
         "encoding)."),
        (f"- A live node adds the synchronization wait: a frame is built once messages stamped "
         f"{(tolerance_s + wait_s) * 1e3:.0f} ms after its LiDAR stamp arrived (`sync_tolerance_s` + "
         "`sync_wait_s`), so that late camera images still join it."),
        "",
    ]
    return "\n".join(lines)



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "perception" / "checkpoints" / "tiny.pt")
    parser.add_argument("--frames", type=int, default=8, help="frames in the drive (default 8; the first warms up)")
    parser.add_argument("--write-docs", action="store_true", help="update the ROS 2 node section of docs/benchmarks.md")
    args = parser.parse_args()
    if args.frames < 3:
        parser.error("--frames must be at least 3")
    from perception.node.params import NodeParams

    defaults = NodeParams(checkpoint="")
    load_before = os.getloadavg()
    result = measure(args.checkpoint.resolve(), args.frames)
    command = "OMP_NUM_THREADS=1 python benchmarks/ros_node.py" + (
        f" --frames {args.frames}" if args.frames != 8 else "") + " --write-docs"
    section = report(result, command, load_before, os.getloadavg(), defaults.sync_tolerance_s, defaults.sync_wait_s)
    print(section)
    if args.write_docs:
        write_section(DOCS, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
