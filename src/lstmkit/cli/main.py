"""Entry point of the `lstmkit` command."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import re
import sys
import warnings
from importlib import import_module

from lstmkit import __version__, missing_extra
from lstmkit.cli import experiment, export, info, inspect, serve
from lstmkit.cli.options import settings
from lstmkit.errors import Notice, UserError
from lstmkit.registry import TASKS


class Parser(argparse.ArgumentParser):
    """argparse's parser, its mistakes told in one line and no usage lines:
    ``PROG: error: MESSAGE (see PROG --help)``. Its subcommands' parsers are of this class too."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``lstmkit`` parser: ``info``, a command per registered task (:mod:`lstmkit.registry`),
    then ``inspect``, ``export``, ``serve`` and ``experiment``; each command's module adds its
    verbs and options."""
    parser = Parser(
        prog="lstmkit",
        description="Train, inspect and deploy LSTM and sequence-to-sequence LSTM models.",
    )
    parser.add_argument("--version", action="version", version=f"lstmkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info.register(commands)
    for spec in TASKS.values():  # lstmkit <task> <verb>, in the registry's order
        if spec.cli is not None:
            import_module(spec.cli).register(commands)
    inspect.register(commands)
    export.register(commands)
    serve.register(commands)
    experiment.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:  # told by the command they were given to, which knows its flags
            command = invoked(parser, args)
            command.error(
                f"unrecognized arguments: {' '.join(extras)}{_did_you_mean(extras, command)}"
            )
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
        except ImportError as err:  # an optional package: name the extra that installs it
            line = missing_extra(err)
            if line is None:
                raise
            print(f"{name}: error: {line}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
            sys.stderr.close()
            return 0


def invoked(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command ``args`` ran (``lstmkit lm train``'s), or ``parser`` itself."""
    return [parser, *_command_path(parser, args)][-1]


def _command_path(parser: argparse.ArgumentParser, args: argparse.Namespace):
    """The parsers below ``parser`` that ``args`` went through: the command's, then its verb's."""
    current = parser
    for level in ("command", "verb"):
        subparsers = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = getattr(args, level, None)
        if not subparsers or chosen not in subparsers[0].choices:
            return
        current = subparsers[0].choices[chosen]
        yield current


def _did_you_mean(extras: list[str], parser: argparse.ArgumentParser) -> str:
    """`` (did you mean --x?)`` for the first unknown flag close to one of the command's."""
    flags = [f for a in parser._actions for f in a.option_strings if f.startswith("--")]
    for word in extras:
        if word.startswith("--"):
            close = difflib.get_close_matches(word.split("=")[0], flags, n=1)
            return f" (did you mean {close[0]}?)" if close else ""
    return ""


# A message's subject: one Python argument, or several joined by "/", " and " or ", ".
SUBJECT = re.compile(r"\w+(?:(?:/| and |, )\w+)*(?=[:. ])")
JOINS = re.compile(r"(/| and |, )")
CODE = re.compile(r"`([^`]+)`")  # a name or keyword arguments in a message: `overwrite=True`


def as_flags(message: str, parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """A library message in the command line's words. The Python arguments the command has
    flags for become the flags where the message names them

    * as its subject, one or several (``top_k: expected ...``, ``resume runs/x: ...``,
      ``data and train: ...``, ``valid/test: ...``): ``--top-k: expected ...``;
    * in backquotes, a name or keyword arguments (`` `train` ``, `` `overwrite=True` ``,
      `` `src=FILE, tgt=FILE` ``): the command-line arguments (``--train``, ``--overwrite``,
      ``--src FILE --tgt FILE``); a backquoted name the command lacks stays as it is;
    * before a value given to one of its flags, on the command line or in its ``--config``
      file (``..., tgt a.fr has 2``): ``--tgt a.fr``.

    Example:
        >>> parser = build_parser()
        >>> args = parser.parse_args(["lm", "predict", "runs/x", "the cat"])
        >>> as_flags("top_k: expected a positive integer, got 0", parser, args)
        '--top-k: expected a positive integer, got 0'
        >>> args = parser.parse_args(["lm", "train", "--out", "runs/x"])
        >>> as_flags("out runs/x: is not empty; pass `overwrite=True`", parser, args)
        '--out runs/x: is not empty; pass --overwrite'
    """
    flags = flag_names(parser, args)
    message = _subject(message, flags)
    message = CODE.sub(lambda code: _arguments(code[1], flags) or code[0], message)
    return _before_values(message, flags, args)


def _subject(message: str, flags: dict[str, str]) -> str:
    match = SUBJECT.match(message)
    if match is None:
        return message
    parts = JOINS.split(match[0])  # name, join, name, ...
    if all(name in flags for name in parts[::2]):
        parts[::2] = [flags[name] for name in parts[::2]]
        return "".join(parts) + message[match.end() :]
    first = re.match(r"(\w+)(?=[:. ])", message)  # not all are flags: the first alone
    if first is None or first[1] not in flags:
        return message
    return flags[first[1]] + message[first.end() :]


def _arguments(code: str, flags: dict[str, str]) -> str | None:
    """``name`` or ``name=value, ...`` as command-line arguments; None unless all are flags."""
    words = []
    for item in code.split(", "):
        name, equals, value = item.partition("=")
        if name not in flags:
            return None
        words.append(flags[name] if not equals or value == "True" else f"{flags[name]} {value}")
    return " ".join(words)


def _before_values(message: str, flags: dict[str, str], args: argparse.Namespace) -> str:
    """``name VALUE`` as ``--flag VALUE`` where VALUE is text given to one of the flags."""
    values = dict(vars(args))
    if getattr(args, "config", None) is not None:  # the values of the --config file too
        with contextlib.suppress(UserError, OSError), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # told once already, when the command read them
            chosen = settings(args)
            values = {**{k: chosen[k] for k in chosen["given_"]}, **values}
    given = {v for k, v in values.items() if k in flags and isinstance(v, str) and v}
    if not given:
        return message
    names = "|".join(map(re.escape, sorted(flags, key=len, reverse=True)))
    values = "|".join(map(re.escape, sorted(given, key=len, reverse=True)))
    pattern = rf"(?<![\w-])({names}) (?=(?:{values})(?![^\s:;,)]))"
    return re.sub(pattern, lambda name: flags[name[1]] + " ", message)


def flag_names(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    """The invoked command's options: Python argument (``dest``) -> its long flag; a command
    may name more (``flag_aliases`` among its defaults, e.g. ``{"k": "--top-k"}``)."""
    names: dict[str, str] = {}
    for command in _command_path(parser, args):
        for action in command._actions:
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
