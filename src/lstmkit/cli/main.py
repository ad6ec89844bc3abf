"""Entry point of the `lstmkit` command."""

from __future__ import annotations

import argparse
import sys

from lstmkit import __version__
from lstmkit.cli import info
from lstmkit.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstmkit",
        description="Train, inspect and deploy LSTM and sequence-to-sequence LSTM models.",
    )
    parser.add_argument("--version", action="version", version=f"lstmkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except UserError as err:  # the user's mistake: one line naming what and where, no traceback
        print(f"lstmkit {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
