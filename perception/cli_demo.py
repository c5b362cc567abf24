"""``perception demo``: the main job on the embedded default (see :mod:`perception.demo`)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_demo_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("demo", help="simulate a drive, run the shipped model, evaluate, report")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default: out/demo)")
    parser.add_argument("--frames", type=int, default=6, help="key frames to simulate (default: 6)")
    parser.add_argument("--seed", type=int, default=0, help="simulator seed (default: 0)")
    return parser


def run_demo(args: argparse.Namespace) -> int:
    from perception.demo import run_demo as run

    result = run(args.out, num_frames=args.frames, seed=args.seed)
    print(f"simulated {result.num_frames} frames with {result.num_boxes} annotated boxes")
    print(f"nuScenes layout written and read back: {result.dataset_root}")
    print(f"round trip: max point error {result.max_point_error_m:.2e} m, max box centre error {result.max_box_center_error_m:.2e} m")
    print(f"preview: {result.preview}")
    return 0
