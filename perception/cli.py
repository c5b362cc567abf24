"""The ``perception`` command: one entry point with a subcommand per job.

User errors (bad paths, corrupt data, invalid configs) end in one line on stderr and exit
status 2, never a traceback; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sensors.errors import SensorDataError

EXIT_USER_ERROR = 2
#: Exceptions that mean "the user asked for something that cannot be done", not a bug.
USER_ERRORS: tuple[type[BaseException], ...] = (SensorDataError, FileNotFoundError, FileExistsError, ValueError, KeyError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand (their modules import heavy libraries lazily)."""
    from perception.cli_demo import add_demo_parser, run_demo
    from perception.cli_evaluate import add_evaluate_parser, run_evaluate
    from perception.cli_export import add_export_parser, run_export
    from perception.cli_replay import add_replay_parser, run_replay
    from perception.cli_simulate import add_simulate_parser, run_simulate
    from perception.cli_train import add_train_parser, run_train

    parser = argparse.ArgumentParser(
        prog="perception",
        description="Multi-task camera+LiDAR BEV perception: simulate, train, evaluate, replay, export, demo.",
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
    except USER_ERRORS as error:
        if args.debug:
            raise
        message = str(error) if not isinstance(error, KeyError) else f"missing key {error}"
        print(f"perception {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"perception {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
