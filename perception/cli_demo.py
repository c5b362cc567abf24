"""``perception demo``: the main job on the embedded default (see :mod:`perception.demo`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: Exit status of a demo stopped by Ctrl-C during the replay (the bag and results.mcap are kept).
EXIT_INTERRUPTED = 130


def add_demo_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from perception.demo import SHIPPED_CHECKPOINT

    parser = subparsers.add_parser(
        "demo", help="simulate a drive, write it as a rosbag2, replay it through the shipped model, score every head",
        description="Simulate a drive (fixed seed), write it as a rosbag2 (MCAP), replay it through the model as "
                    "'perception replay' does, score every head and write OUT/report.html, OUT/results.mcap "
                    "(open in Foxglove with OUT/foxglove_layout.json), OUT/metrics.json and OUT/report.md.",
    )
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default: out/demo)")
    parser.add_argument("--frames", type=int, default=8, help="key frames to simulate (default: 8)")
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT,
                        help="model checkpoint (default: the shipped one)")
    parser.add_argument("--cabin-seconds", type=float, default=60.0,
                        help="seconds of simulated cabin video scored for driver events (default: 60)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def run_demo(args: argparse.Namespace) -> int:
    from perception.cli_evaluate import headline
    from perception.demo import run_demo as run

    result = run(args.out, num_frames=args.frames, checkpoint=args.checkpoint, cabin_seconds=args.cabin_seconds,
                 progress=not args.quiet)
    if result.interrupted:
        kept = ", ".join(str(path) for path in result.files.values())
        print(f"perception demo: interrupted; kept what was finished ({kept}); no report written", file=sys.stderr)
        return EXIT_INTERRUPTED
    seconds = sum(result.stage_s.values())
    print(f"simulated {result.num_frames} frames ({result.num_boxes} annotated boxes), wrote them as a rosbag2 and "
          f"replayed it through the model in {seconds:.0f} s")
    print(headline(result.metrics))
    warmup = result.metrics.get("warmup", {}).get("first_frame_s")
    if warmup is not None:
        print(f"warm-up (first frame, not in the latency): {warmup:.2f} s")
    print(f"drive (rosbag2):   {result.files['bag']}")
    print(f"Foxglove:          {result.files['results.mcap']} (layout {result.files['foxglove_layout.json']})")
    print(f"metrics:           {result.files['metrics.json']}")
    print(f"report:            {result.report_html}")
    return 0
