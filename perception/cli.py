"""The ``perception`` command: one entry point with a subcommand per job.

User errors (bad paths, corrupt data, invalid configs, an output that cannot be written, a full
disk, a missing GPU) end in one line on stderr and exit status 2, never a traceback; ``--debug``
shows the traceback instead. Ctrl-C ends with status 130 and one line. Output piped into a reader
that stops early (``| head``) ends the command quietly (exit status 141). Each command writes its
output complete or not at all (see ``docs/reliability.md``).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sensors.errors import SensorDataError

EXIT_USER_ERROR = 2
#: Exit status when stdout is a pipe closed by its reader (128 + SIGPIPE, as a shell reports it).
EXIT_BROKEN_PIPE = 141
#: Exceptions that mean "the user asked for something that cannot be done" (or the machine cannot
#: do it: a full disk, a folder without write permission), not a bug.
USER_ERRORS: tuple[type[BaseException], ...] = (SensorDataError, OSError, ValueError, KeyError)
#: What PyTorch's DataLoader puts before the traceback of an error it re-raises from a worker.
_WORKER_TRACEBACK = "Original Traceback (most recent call last):"


def error_line(error: BaseException) -> str:
    """The one-line message shown for a user error.

    OSErrors name their file and reason (``out/x: Permission denied``) without the errno; the
    text of an error re-raised from a DataLoader worker is cut to the original message; anything
    left on several lines is joined into one.
    """
    if isinstance(error, KeyError):
        message = f"missing key {error}"
    elif isinstance(error, OSError) and error.strerror:
        message = f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    else:
        message = str(error)
    if _WORKER_TRACEBACK in message:
        last = message.strip().splitlines()[-1]
        head, sep, tail = last.partition(": ")
        message = tail if sep and " " not in head else last
    return " ".join(message.split()) or type(error).__name__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand (their modules import heavy libraries lazily)."""
    from perception.cli_demo import add_demo_parser, run_demo
    from perception.cli_evaluate import add_evaluate_parser, run_evaluate
    from perception.cli_export import add_export_parser, run_export
    from perception.cli_replay import add_replay_parser, run_replay
    from perception.cli_ros_node import add_ros_node_parser, run_ros_node
    from perception.cli_simulate import add_simulate_parser, run_simulate
    from perception.cli_train import add_train_parser, run_train

    parser = argparse.ArgumentParser(
        prog="perception",
        description="Multi-task camera+LiDAR BEV perception: simulate, train, evaluate, replay, export, ROS 2 node, demo.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, add_parser, run in (
        ("demo", add_demo_parser, run_demo),
        ("simulate", add_simulate_parser, run_simulate),
        ("train", add_train_parser, run_train),
        ("evaluate", add_evaluate_parser, run_evaluate),
        ("replay", add_replay_parser, run_replay),
        ("export", add_export_parser, run_export),
        ("ros-node", add_ros_node_parser, run_ros_node),
    ):
        add_parser(subparsers)
        subparsers.choices[name].set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:
        # the reader of stdout went away (``perception replay X --inspect | head``): stop quietly,
        # with stdout on /dev/null so that the interpreter's final flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except USER_ERRORS as error:
        if args.debug:
            raise
        print(f"perception {args.command}: error: {error_line(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"perception {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
