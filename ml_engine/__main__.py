"""``python -m ml_engine <command> ...``: the engine's command line (train, evaluate, predict, ...)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ml_engine.cli import COMMANDS
from ml_engine.device import DeviceUnavailableError


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subcommand per module listed in ``ml_engine.cli.COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="python -m ml_engine", description="FaceLoop's machine-learning engine."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name in COMMANDS:
        importlib.import_module(f"ml_engine.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns its exit status.

    Bad input (a missing file, an unknown format, an unreadable checkpoint, an absent GPU)
    ends with a one-line error and status 2 instead of a traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, DeviceUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
