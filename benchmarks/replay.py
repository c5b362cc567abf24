"""Replay throughput and overhead: frames per second of ``perception replay`` with a checkpoint on
this machine, and the time spent outside the model.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/replay.py [--checkpoint perception/checkpoints/tiny.pt]
                                                  [--frames 6] [--ros-out] [--write-docs]

Method: the simulator writes ``--frames`` keyframes of a drive at the checkpoint's simulator
settings (six cameras, LiDAR, cabin, ground truth) as a rosbag2 with MCAP storage
(``sensors.ros.writer.write_rosbag2``); the bag is then replayed as fast as possible by the same
code as the CLI (``sensors.ros.open_recording`` -> ``perception.replay.runner.replay`` with the
Foxglove MCAP publisher, and the ROS 2 bag sink with ``--ros-out``), one torch thread. The
runner times every frame per stage: ``decode`` (reading the bag, decoding the messages,
synchronizing cameras to the LiDAR and motion compensation), ``preprocess`` / ``model`` /
``postprocess`` (the evaluation's inference path), ``write`` (every output message encoded and
written). Overhead = (decode + write) / model, per-stage medians: the replay's own cost against
the model time measured in the same run (pre- and postprocessing belong to inference and are
shown apart). Frames per second = frames / wall time of the loop (warm-up pass excluded).

``--write-docs`` replaces the ``## Replay`` section of docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.doc_sections import write_section

DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Replay"
#: The goal: replay's own work under this share of the model time.
OVERHEAD_GOAL = 0.15


def measure(checkpoint: Path, frames: int, ros_out: bool, seed: int = 11) -> dict:
    """Simulate, write the bag, replay it; return the per-stage medians (s), fps and sizes."""
    import numpy as np
    import torch

    from perception.config import build_sim_config
    from perception.model import load_model
    from perception.replay.foxglove_sink import foxglove_outputs
    from perception.replay.runner import replay
    from sensors.ros import open_recording
    from sensors.ros.writer import write_rosbag2
    from sensors.sim import simulate_drive

    torch.set_num_threads(1)
    model, config = load_model(checkpoint, None, torch.device("cpu"))
    sim = build_sim_config(config.data)
    with tempfile.TemporaryDirectory() as tmp:
        drive = list(simulate_drive(sim, seed=seed, num_frames=frames, scene_name="scene-0103"))
        bag = write_rosbag2(drive, Path(tmp) / "drive")
        recording = open_recording(bag)
        out = Path(tmp) / "out"
        grid = config.model.heads.segmentation.grid
        with foxglove_outputs(out / "results.mcap", grid) as publisher:
            sinks = [publisher]
            if ros_out:
                from perception.replay.ros_sink import ros_bag_output

                with ros_bag_output(out / "predictions") as ros:
                    stats = replay(recording, model, sinks + [ros], torch.device("cpu"), progress=False)
            else:
                stats = replay(recording, model, sinks, torch.device("cpu"), progress=False)
        sizes = {"bag_mb": sum(p.stat().st_size for p in bag.rglob("*")) / 1e6,
                 "results_mb": (out / "results.mcap").stat().st_size / 1e6}
    medians = {s: float(np.median(v)) for s, v in stats.stage_s.items()}
    cpu = {s: float(np.median(v)) for s, v in stats.stage_cpu_s.items()}
    return {"frames": stats.frames, "wall_s": stats.wall_s, "fps": stats.frames / stats.wall_s, "median_s": medians,
            "median_cpu_s": cpu, "image_size": tuple(sim.image_size), **sizes}


def report(result: dict, command: str, load_before: tuple, load_after: tuple, ros_out: bool) -> str:
    """The ``## Replay`` section of docs/benchmarks.md."""
    m, c = result["median_s"], result["median_cpu_s"]
    overhead, overhead_cpu = ((x["decode"] + x["write"]) / x["model"] for x in (m, c))
    outside, outside_cpu = ((x["decode"] + x["preprocess"] + x["postprocess"] + x["write"]) / x["model"] for x in (m, c))
    h, w = result["image_size"]
    lines = [
        SECTION, "",
        ("`benchmarks/replay.py` (method in its docstring): a simulated drive written as a rosbag2 (MCAP) and "
        "replayed as fast as possible through the shipped `tiny` checkpoint, as `perception replay` does; the "
        "replay's own work (reading and decoding the bag, synchronization, writing the results) against the "
        "model time measured in the same run."), "",
        f"Command: `{command}`; {platform.machine()}, {os.cpu_count()} CPUs, 1 torch thread; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. The machine is shared with other jobs (load "
        f"average before / after: {', '.join(f'{v:.1f}' for v in load_before)} / "
        f"{', '.join(f'{v:.1f}' for v in load_after)}), so wall times are noisy; the ratios compare stages of "
        f"the same frames. {result['frames']} frames of six {w}x{h} cameras, LiDAR, cabin and ground truth "
        f"(bag {result['bag_mb']:.1f} MB, results.mcap {result['results_mb']:.1f} MB"
        + (", with `--ros-out`" if ros_out else "") + ").", "",
        "| stage | median wall time per frame (ms) | median process CPU time per frame (ms) |",
        "| --- | ---: | ---: |",
    ]
    labels = {"decode": "decode/sync (bag read, messages decoded, cameras synchronized)", "preprocess": "preprocess",
              "model": "model", "postprocess": "postprocess", "write": "write (results.mcap"
              + (" + ROS 2 bag" if ros_out else "") + ")"}
    lines += [f"| {labels[s]} | {m[s] * 1e3:.1f} | {c[s] * 1e3:.1f} |"
              for s in ("decode", "preprocess", "model", "postprocess", "write")]
    goal = f"goal < {OVERHEAD_GOAL * 100:.0f}%"
    lines += [
        "", (f"- Replay: **{result['fps']:.2f} frames/s** ({result['wall_s'] / result['frames'] * 1e3:.0f} ms per frame, "
        "wall clock)."),
        (f"- Overhead of the replay (decode/sync + write) = **{overhead_cpu * 100:.1f}% of the model's CPU time** "
        f"({goal}: {'met' if overhead_cpu < OVERHEAD_GOAL else 'NOT met'}); {overhead * 100:.1f}% in wall time "
        f"({'met' if overhead < OVERHEAD_GOAL else 'NOT met'})."),
        (f"- Everything outside the forward pass (with pre- and postprocessing) = {outside_cpu * 100:.1f}% of the "
        f"model's CPU time ({outside * 100:.1f}% wall)."),
        "",
    ]
    return "\n".join(lines)



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "perception" / "checkpoints" / "tiny.pt")
    parser.add_argument("--frames", type=int, default=6, help="frames to replay (default 6)")
    parser.add_argument("--ros-out", action="store_true", help="also write the ROS 2 predictions bag")
    parser.add_argument("--write-docs", action="store_true", help="update the Replay section of docs/benchmarks.md")
    args = parser.parse_args()
    if args.frames < 2:
        parser.error("--frames must be at least 2")
    load_before = os.getloadavg()
    result = measure(args.checkpoint, args.frames, args.ros_out)
    command = "OMP_NUM_THREADS=1 python benchmarks/replay.py" + (f" --frames {args.frames}" if args.frames != 6 else "") \
        + (" --ros-out" if args.ros_out else "") + " --write-docs"
    section = report(result, command, load_before, os.getloadavg(), args.ros_out)
    print(section)
    if args.write_docs:
        write_section(DOCS, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
