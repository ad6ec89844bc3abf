"""Entry point of the `lstmkit` command."""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from importlib import import_module

from lstmkit import __version__
from lstmkit.cli import experiment, export, info, inspect, serve
from lstmkit.errors import Notice, UserError
from lstmkit.registry import TASKS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstmkit",
        description="Train, inspect and deploy LSTM and sequence-to-sequence LSTM models.",
    )
    parser.add_argument("--version", action="version", version=f"lstmkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info.register(commands)
    for spec in TASKS.values():  # lstmkit <task> <verb>, in the registry's order
        import_module(spec.cli).register(commands)
    inspect.register(commands)
    export.register(commands)
    serve.register(commands)
    experiment.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error argparse printed (code 2)
        return done.code if isinstance(done.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 2
    name = " ".join(filter(None, ["lstmkit", args.command, getattr(args, "verb", None)]))
    with warnings.catch_warnings():
        warnings.simplefilter("always", Notice)
        warnings.showwarning = lambda message, category, *_: _note(name, message, category)
        try:
            return args.run(args)
        except UserError as err:  # the user's mistake: one line naming what and where
            print(f"{name}: error: {as_flags(str(err), parser, args)}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
            sys.stderr.close()
            return 0


def as_flags(message: str, parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """A library message in the command line's words: one that starts with a Python argument
    the command has a flag for (``top_k: expected ...``, ``resume runs/x: ...``) starts with the
    flag instead (``--top-k: expected ...``).

    Example:
        >>> parser = build_parser()
        >>> args = parser.parse_args(["lm", "predict", "runs/x", "the cat"])
        >>> as_flags("top_k: expected a positive integer, got 0", parser, args)
        '--top-k: expected a positive integer, got 0'
    """
    match = re.match(r"(\w+)(?=[:. ])", message)
    flags = flag_names(parser, args)
    if match is None or match[1] not in flags:
        return message
    return flags[match[1]] + message[match.end() :]


def flag_names(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    """The invoked command's options: Python argument (``dest``) -> its long flag; a command
    may name more (``flag_aliases`` among its defaults, e.g. ``{"k": "--top-k"}``)."""
    names: dict[str, str] = {}
    current = parser
    for level in ("command", "verb"):
        subparsers = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = getattr(args, level, None)
        if not subparsers or chosen not in subparsers[0].choices:
            break
        current = subparsers[0].choices[chosen]
        for action in current._actions:
            long = [o for o in action.option_strings if o.startswith("--")]
            if long:
                names[action.dest] = long[0]
    return {**names, **getattr(args, "flag_aliases", {})}


def _note(name: str, message, category) -> None:
    """A :class:`Notice` as one line on stderr; other warnings as Python prints them."""
    if issubclass(category, Notice):
        print(f"{name}: note: {message}", file=sys.stderr)
    else:
        print(f"{name}: warning: {category.__name__}: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
