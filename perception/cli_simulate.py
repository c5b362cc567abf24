"""``perception simulate``: generate a seeded drive and write it as a nuScenes or KITTI dataset or
a rosbag2 recording."""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

DEFAULT_PREVIEW = "preview.png"


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"--size must look like 450x800 (H x W), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def add_simulate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``simulate`` subcommand on an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "simulate", help="simulate a drive (LiDAR, six cameras, cabin, ground truth) and write it",
        description="Simulate a seeded drive through a procedural town and write it in the nuScenes "
                    "(v1.0-mini, with the town as map expansion) or KITTI object layout or as a rosbag2 recording "
                    "(docs/replay.md), optionally with a preview picture.",
    )
    parser.add_argument("--out", type=Path, required=True, help="dataset root (or rosbag2 folder) to write")
    parser.add_argument("--frames", type=int, default=10, help="keyframes (2 Hz) to simulate (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="world, traffic and noise seed (default 0)")
    parser.add_argument("--scene", default="scene-0061",
                        help="scene name (default scene-0061, a v1.0-mini train scene, so the devkit splits work)")
    parser.add_argument("--format", choices=("nuscenes", "kitti", "rosbag2", "none"), default="nuscenes",
                        help="dataset layout to write (default nuscenes; rosbag2: a recording with the standard "
                             "ROS 2 message types; none: only simulate)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap",
                        help="rosbag2 storage (default mcap)")
    parser.add_argument("--sweeps", type=int, default=None,
                        help="LiDAR sweeps per keyframe interval written, the key sweep included (default 10: "
                             "the full 20 Hz LiDAR; 1: only the 2 Hz key sweeps, like the training data)")
    parser.add_argument("--preview", nargs="?", const=DEFAULT_PREVIEW, type=Path, default=None,
                        help=f"write a preview PNG of one sample (default path <out>/{DEFAULT_PREVIEW})")
    parser.add_argument("--size", type=_size, default=(450, 800), help="camera image size HxW (default 450x800)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run_simulate(args: argparse.Namespace) -> int:
    """Run ``perception simulate``; returns the exit status (0 on success)."""
    from tqdm import tqdm

    from sensors.atomic import check_output_dir, check_output_file
    from sensors.kitti.writer import is_kitti_root
    from sensors.nuscenes.writer import is_nuscenes_root
    from sensors.sim import SimConfig, render_preview
    from sensors.sim.drive import drive_simulator
    from sensors.sim.town_map import town_map

    if args.frames < 1:
        raise ValueError(f"--frames must be >= 1, got {args.frames}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if args.sweeps is not None and args.sweeps < 1:
        raise ValueError(f"--sweeps must be >= 1, got {args.sweeps}")
    out = Path(args.out)
    # Every output is checked before the drive is simulated (minutes), not after.
    previous_output = {"nuscenes": is_nuscenes_root, "kitti": is_kitti_root,
                       "rosbag2": lambda folder: (folder / "metadata.yaml").is_file()}
    if args.format in previous_output:
        check_output_dir(out, previous_output[args.format], "dataset folder")
    preview = None
    if args.preview is not None:
        preview = args.preview if args.preview.is_absolute() or args.preview != Path(DEFAULT_PREVIEW) else out / args.preview
        check_output_file(preview, "preview picture")
    # KITTI triggers its camera when the scanner faces forward, at the LiDAR timestamp.
    trigger = {"lidar_stamp_azimuth_deg": 0.0} if args.format == "kitti" else {}
    config = SimConfig(image_size=tuple(args.size), **trigger)
    if args.sweeps is not None:
        config = replace(config, sweeps_per_keyframe=args.sweeps)
    preview_index = min(2, args.frames - 1)
    kept: dict[str, Any] = {}

    sim = drive_simulator(config, seed=args.seed, num_frames=args.frames, scene_name=args.scene)

    def frames() -> Iterator[Any]:
        stream = (sim.keyframe(k) for k in range(args.frames))
        for i, frame in enumerate(tqdm(stream, total=args.frames, desc="simulate", unit="frame",
                                       disable=args.no_progress, file=sys.stderr)):
            if i == preview_index:
                kept["frame"] = frame
            yield frame

    if args.format == "nuscenes":
        from sensors.nuscenes.writer import write_nuscenes

        write_nuscenes(frames(), out, maps={args.scene: town_map(sim.town)})
    elif args.format == "kitti":
        from sensors.kitti.writer import write_kitti

        write_kitti(frames(), out)
    elif args.format == "rosbag2":
        from sensors.ros.writer import write_rosbag2

        write_rosbag2(frames(), out, storage=args.storage)
    else:
        for _ in frames():
            pass
    if preview is not None:
        render_preview(kept["frame"], preview)
        print(f"preview: {preview}")
    print(f"wrote {args.frames} frames ({args.format}) to {out}")
    return 0
