"""``perception demo``: the main job on the embedded default (see :mod:`perception.demo`)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_demo_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from perception.demo import SHIPPED_CHECKPOINT

    parser = subparsers.add_parser(
        "demo", help="simulate a drive, write and read it as nuScenes, run the shipped model, evaluate every head"
    )
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default: out/demo)")
    parser.add_argument("--frames", type=int, default=8, help="key frames to simulate (default: 8)")
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT,
                        help="model checkpoint (default: the shipped one)")
    parser.add_argument("--cabin-seconds", type=float, default=60.0,
                        help="seconds of simulated cabin video scored for driver events (default: 60)")
    return parser


def run_demo(args: argparse.Namespace) -> int:
    from perception.cli_evaluate import headline
    from perception.demo import run_demo as run

    result = run(args.out, num_frames=args.frames, checkpoint=args.checkpoint, cabin_seconds=args.cabin_seconds)
    print(f"simulated {result.num_frames} frames with {result.num_boxes} annotated boxes")
    print(f"nuScenes layout written and read back: {result.dataset_root} "
          f"(max point error {result.max_point_error_m:.1e} m, box centre error {result.max_box_center_error_m:.1e} m)")
    print(f"preview: {result.preview}")
    print(headline(result.metrics))
    print(f"report: {result.report}")
    return 0
