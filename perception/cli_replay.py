"""``perception replay``: run a recorded drive through the model; results for Foxglove and ROS tools.

Examples::

    perception replay drive_bag/ --checkpoint perception/checkpoints/tiny.pt --out replay/
    perception replay drive_bag/ --checkpoint ckpt.pt --out replay/ --realtime --serve
    perception replay drive.bag --checkpoint ckpt.pt --out replay/ --profile autoware --ros-out
    perception replay drive_bag/ --runtime onnxruntime --model model.onnx --out replay/   # from perception export
    perception replay drive_bag/ --inspect

Writes ``OUT/results.mcap`` and ``OUT/foxglove_layout.json`` (the layout of
``docs/foxglove_layout.json`` for the model's cameras: import it in Foxglove, then open the file)
and, with ``--ros-out``, the rosbag2 ``OUT/predictions``. See docs/replay.md.
"""
from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from perception.cli_export import add_runtime_arguments, load_network

#: Exit status of a replay stopped by Ctrl-C (its results hold the frames done).
EXIT_INTERRUPTED = 130
#: Exit status when no frame at all could be replayed (as for any user error, see perception.cli).
EXIT_USER_ERROR = 2
RESULTS_MCAP = "results.mcap"
ROS_BAG = "predictions"
LAYOUT = "foxglove_layout.json"


def add_replay_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``replay`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "replay", help="run a recorded drive (rosbag2, ROS 1 bag, .pcd folder) through the model",
        description="Replay a recording through a checkpoint: OUT/results.mcap for Foxglove (input, predictions, "
                    "ground truth where recorded), optionally a rosbag2 of the predictions and a live stream.",
    )
    parser.add_argument("recording", type=Path, help="rosbag2 folder or file (.mcap, .db3), ROS 1 .bag, or .pcd folder")
    parser.add_argument("--inspect", action="store_true",
                        help="list topics, types, counts, rates, the profile that fits and the unusable topics, then exit")
    parser.add_argument("--checkpoint", type=Path, help="model checkpoint (or --model; required unless --inspect)")
    parser.add_argument("--model", type=Path, help="ONNX file from 'perception export' (with --runtime onnxruntime)")
    add_runtime_arguments(parser)
    parser.add_argument("--config", type=Path, help="YAML config (default: the one stored in the checkpoint)")
    parser.add_argument("--out", type=Path, help="output folder (required unless --inspect)")
    parser.add_argument("--profile", help="topic profile: a shipped name or a YAML file (default: the one that fits)")
    parser.add_argument("--tolerance", type=float, default=0.12,
                        help="seconds within which a camera image joins a LiDAR frame (default 0.12)")
    parser.add_argument("--realtime", action="store_true",
                        help="pace by the recorded timestamps; frames the model cannot keep up with are dropped")
    parser.add_argument("--ros-out", action="store_true",
                        help=f"also write the predictions as ROS 2 messages into the rosbag2 OUT/{ROS_BAG}")
    parser.add_argument("--serve", action="store_true", help="stream the results live to Foxglove over WebSocket")
    parser.add_argument("--host", default="127.0.0.1", help="WebSocket address to bind with --serve (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="WebSocket port with --serve (default 8765; 0: any free)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run_replay(args: argparse.Namespace) -> int:
    """Run the replay described by ``args``; print the summary. Returns 0, or 130 after Ctrl-C.

    Raises:
        ValueError, sensors.errors.SensorDataError: bad arguments or an unusable recording (no
            LiDAR topic, unreadable bag ...): one line, shown by ``perception.cli``.
    """
    from rich.console import Console

    from sensors.ros import inspect_recording, open_recording

    if args.inspect:
        print("\n".join(inspect_recording(args.recording, profile=args.profile).lines()))
        return 0
    if (args.checkpoint is None and args.model is None) or args.out is None:
        raise ValueError("--checkpoint (or --model) and --out are required (or use --inspect)")
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out}: exists and is not a folder")
    if args.tolerance < 0:
        raise ValueError(f"--tolerance must be >= 0 s, got {args.tolerance}")
    if not 0 <= args.port < 65536:
        raise ValueError(f"--port must be in [0, 65535], got {args.port}")
    recording = open_recording(args.recording, profile=args.profile, tolerance_s=args.tolerance)
    console = Console()

    from perception.distributed import resolve_device
    from perception.replay.foxglove_sink import foxglove_outputs
    from perception.replay.layout import write_layout
    from perception.replay.runner import replay
    from perception.replay.summary import summary
    from sensors.atomic import check_output_dir

    out: Path = args.out
    check_output_dir(out, is_replay_output, "replay folder")
    device = resolve_device(args.device)
    model, config = load_network(args, device)
    outputs = {"results": str(out / RESULTS_MCAP), "Foxglove layout": str(out / LAYOUT)}
    with ExitStack() as stack:
        publisher = stack.enter_context(foxglove_outputs(
            out / RESULTS_MCAP, config.model.heads.segmentation.grid,
            serve=(args.host, args.port) if args.serve else None))
        sinks = [publisher]
        if publisher.server is not None:
            outputs["live"] = f"ws://{args.host}:{publisher.server.port} (Foxglove: open connection)"
            print(f"streaming to Foxglove on ws://{args.host}:{publisher.server.port}", file=sys.stderr)
        if args.ros_out:
            from perception.replay.ros_sink import ros_bag_output

            sinks.append(stack.enter_context(ros_bag_output(out / ROS_BAG)))
            outputs["ROS 2 bag"] = str(out / ROS_BAG)
        lidar_messages = None if args.quiet else _lidar_messages(recording)
        stats = replay(recording, model, sinks, device, realtime=args.realtime, progress=not args.quiet,
                       total=lidar_messages)
    write_layout(out / LAYOUT, config.model.cameras)
    console.print(summary(stats, recording.summary, outputs))
    if stats.interrupted:
        print(f"perception replay: interrupted after {stats.frames} frames; {out / RESULTS_MCAP} holds them",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if stats.frames == 0:
        # every message was unusable: a script must not mistake this run for a good one
        print(f"perception replay: error: {args.recording}: no frame could be replayed (the summary above "
              "counts why)", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def is_replay_output(folder: Path) -> bool:
    """Whether ``folder`` holds only what a replay writes (its files are replaced by a new replay)."""
    return all(entry.name in (RESULTS_MCAP, LAYOUT, ROS_BAG) or entry.name.startswith(".") for entry in folder.iterdir())


def _lidar_messages(recording) -> int | None:
    """LiDAR messages in the recording's index (the frames to expect, for the progress bar)."""
    info = recording.inspect()
    counts = [t.count for t in info.topics if t.role == "lidar"]
    return counts[0] if counts else None
