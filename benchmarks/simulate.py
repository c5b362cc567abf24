"""Speed of the drive simulator: samples per second for one full keyframe and where the time goes.

A full sample is the LiDAR key sweep, six cameras (default 450 x 800) with exact depth, the
cabin camera, boxes with LiDAR point counts and the BEV map. The nine extra 20 Hz sweeps a
nuScenes keyframe carries are timed separately. Wall time and process CPU time are reported
(the CPU may be shared with other jobs: compare CPU seconds across machines with care).

    .venv/bin/python benchmarks/simulate.py [--frames 6] [--write-docs]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np

from benchmarks.doc_sections import write_section
from sensors.sim import SimConfig
from sensors.sim.drive import DriveSimulator

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
STAGES = ("lidar", "cameras", "cabin", "boxes", "bev_map")


def measure(frames: int, seed: int, threads: int) -> dict[str, float]:
    """Per-sample seconds (wall and CPU) of each stage over ``frames`` keyframes after a warm-up,
    with ``threads`` Numba threads."""
    numba.set_num_threads(threads)
    config = dataclasses.replace(SimConfig(), sweeps_per_keyframe=1)
    sim = DriveSimulator(config, seed, (frames + 2) / config.keyframe_rate_hz, "scene-0061")
    sim.keyframe(0)  # compile / load the numba kernels
    sim.timings.clear()
    sim.cpu_timings.clear()
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(1, frames + 1):
        sim.keyframe(i)
    out = {"sample_wall": (time.perf_counter() - wall) / frames, "sample_cpu": (time.process_time() - cpu) / frames}
    out.update({stage: sim.timings.get(stage, 0.0) / frames for stage in STAGES})
    out.update({stage + "_cpu": sim.cpu_timings.get(stage, 0.0) / frames for stage in STAGES})
    per = config.sweeps_per_interval
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(1, frames + 1):
        for g in range(i * per, (i + 1) * per - 1):
            sim.sweep(g)
    out["extra_sweeps_wall"] = (time.perf_counter() - wall) / frames
    out["extra_sweeps_cpu"] = (time.process_time() - cpu) / frames
    return out


def report(result: dict[str, float], single: dict[str, float], frames: int) -> str:
    """The markdown ``## Simulator`` section (``result`` with all Numba threads, ``single`` with one)."""
    load = os.getloadavg()[0]
    names = ("LiDAR key sweep (32 x 1084 rays)", "six cameras 450x800 + depth + shadows", "cabin camera 240x320",
             "boxes + num_lidar_points", "BEV map 200x200")
    rows = [(name, result[stage], result[stage + "_cpu"]) for name, stage in zip(names, STAGES)]
    rows.append(("rest (world update, Frame assembly)", result["sample_wall"] - sum(r[1] for r in rows),
                 result["sample_cpu"] - sum(r[2] for r in rows)))
    lines = [
        "## Simulator",
        "",
        f"One full keyframe (LiDAR key sweep, six cameras at 450x800 with depth, cabin, boxes, BEV map): "
        f"**{1 / result['sample_wall']:.2f} samples/s** wall ({result['sample_wall'] * 1000:.0f} ms/sample, "
        f"{result['sample_cpu'] * 1000:.0f} ms CPU over {numba.get_num_threads()} Numba threads). "
        f"The nine extra 20 Hz sweeps of a nuScenes keyframe add {result['extra_sweeps_wall'] * 1000:.0f} ms wall "
        f"({result['extra_sweeps_cpu'] * 1000:.0f} ms CPU), so a keyframe with all sweeps runs at "
        f"{1 / (result['sample_wall'] + result['extra_sweeps_wall']):.2f} samples/s. With one Numba thread "
        f"(`NUMBA_NUM_THREADS=1`) the same run gives {1 / single['sample_wall']:.2f} samples/s "
        f"({single['sample_cpu'] * 1000:.0f} ms CPU per sample). A sample is {single['sample_cpu']:.2f} CPU s of "
        f"work, so two idle cores would give at most about {2 / single['sample_cpu']:.0f} samples/s (not measured: "
        f"no idle machine was available). Numba runs on its workqueue threading layer (see "
        f"`sensors/sim/raycast.py`).",
        "",
        f"Command: `.venv/bin/python benchmarks/simulate.py --frames {frames} --write-docs`; {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, numba {numba.__version__}; mean over {frames} "
        f"keyframes after a warm-up keyframe. Load average during the run: {load:.1f} (the CPU is shared with "
        f"other jobs, so wall times are pessimistic; CPU seconds are the steadier figure).",
        "",
        "| stage | wall ms / sample | CPU ms / sample | share of CPU |",
        "|---|---|---|---|",
    ]
    for name, wall, cpu in rows:
        lines.append(f"| {name} | {wall * 1000:.1f} | {cpu * 1000:.1f} | {cpu / result['sample_cpu'] * 100:.0f}% |")
    lines.append(f"| nine extra sweeps (not in the sample) | {result['extra_sweeps_wall'] * 1000:.1f} | "
                 f"{result['extra_sweeps_cpu'] * 1000:.1f} | – |")
    return "\n".join(lines) + "\n"



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=6, help="keyframes to time (default 6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-docs", action="store_true", help="update the Simulator section of docs/benchmarks.md")
    args = parser.parse_args()
    np.seterr(all="ignore")
    threads = numba.get_num_threads()
    single = measure(args.frames, args.seed, 1)
    section = report(measure(args.frames, args.seed, threads), single, args.frames)
    print(section)
    if args.write_docs:
        write_section(DOCS, section)


if __name__ == "__main__":
    main()
