"""Options from three places, in rising order: built-in defaults, a ``--config`` file, flags.

Every command's options are declared once with :func:`option`. argparse records only the flags a
user typed (their argparse default is ``SUPPRESS``); :func:`settings` then lays them over the
config file's values and the defaults. A config file (YAML or TOML) uses the options' names, with
``_`` or ``-`` (``hidden_size: 512`` or ``hidden-size = 512``), at the top level or one level down
in sections of any name (``model: {hidden_size: 512}``); each value is checked as the flag's would
be, and a mistake names the file, the key and what was expected.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lstmkit.data.config_file import read_config_file
from lstmkit.errors import UserError

DEFAULTS = "lstmkit_defaults"


def option(group, *flags: str, default: Any = None, **kwargs: Any) -> argparse.Action:
    """``group.add_argument`` with the default kept aside, so that a typed flag can be told
    from a default one; the help shows the default."""
    parser = getattr(group, "_lstmkit_parser", group)
    action = group.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)
    getattr(parser, DEFAULTS)[action.dest] = default
    if default is not None and default is not False and kwargs.get("help"):
        action.help = f"{kwargs['help']} (default: {default})"
    return action


def command_parser(commands, name: str, run: Callable, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand whose options :func:`settings` reads; it takes ``--config FILE``."""
    parser = commands.add_parser(name, **kwargs)
    setattr(parser, DEFAULTS, {})
    parser.set_defaults(run=run, parser_=parser)
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="read options from a YAML or TOML file; flags given here override it",
    )
    return parser


def group(parser: argparse.ArgumentParser, title: str):
    """An argument group whose :func:`option` calls record defaults on ``parser``."""
    g = parser.add_argument_group(title)
    g._lstmkit_parser = parser
    return g


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Every option of the command: its flag if typed, else its config-file value, else default.

    Raises:
        UserError: the config file is unreadable, has an unknown key or a value of the wrong
            kind, naming the file and the key.
    """
    parser = args.parser_
    values = dict(getattr(parser, DEFAULTS))
    from_file = {} if args.config is None else _from_file(parser, Path(args.config))
    given = {k: v for k, v in vars(args).items() if k not in ("run", "parser_", "config")}
    values.update(from_file)
    values.update(given)
    # What the user set (flags or file), for checks such as --resume's.
    values["given_"] = (set(given) | set(from_file)) & set(getattr(parser, DEFAULTS))
    return values


def _from_file(parser: argparse.ArgumentParser, path: Path) -> dict[str, Any]:
    actions = {a.dest: a for a in parser._actions if a.option_strings and a.dest in _known(parser)}
    values: dict[str, Any] = {}
    for key, value in _flatten(read_config_file(path), path).items():
        dest = key.replace("-", "_")
        if dest not in actions:
            close = difflib.get_close_matches(dest, list(actions), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"{path}: unknown option {key!r}{hint}")
        values[dest] = _convert(actions[dest], value, f"{path}: {key}")
    return values


def _known(parser: argparse.ArgumentParser) -> dict[str, Any]:
    return getattr(parser, DEFAULTS)


def _flatten(data: dict, path: Path) -> dict[str, Any]:
    """Top-level keys, and the keys of sections (mappings) one level down."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for name, item in items:
            if isinstance(item, dict):
                raise UserError(f"{path}: {key}.{name}: sections nest one level only")
            if name in flat:
                raise UserError(f"{path}: {name!r} is given twice")
            flat[str(name)] = item
    return flat


def _convert(action: argparse.Action, value: Any, where: str) -> Any:
    """A config value checked and converted as argparse would convert the flag's text."""
    if value is None:
        return None
    if action.nargs == 0:  # a switch such as --tie-weights
        if not isinstance(value, bool):
            raise UserError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(value, bool | list | dict):
        raise UserError(f"{where}: expected {_kind(action)}, got {value!r}")
    convert = action.type or str
    try:
        result = convert(str(value))
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        raise UserError(f"{where}: expected {_kind(action)}, got {value!r}") from None
    if action.choices is not None and result not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise UserError(f"{where}: expected one of {choices}, got {value!r}")
    return result


def _kind(action: argparse.Action) -> str:
    names = {int: "an integer", float: "a number", str: "text"}
    return names.get(action.type, getattr(action.type, "kind", "a value"))


def _checked(kind: str, test: Callable[[float], bool], base: type) -> Callable[[str], Any]:
    def convert(text: str):
        try:
            value = base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}")
        return value

    convert.kind = kind
    convert.__name__ = kind
    return convert


positive_int = _checked("a positive integer", lambda v: v > 0, int)
nonnegative_int = _checked("an integer >= 0", lambda v: v >= 0, int)
positive_float = _checked("a number > 0", lambda v: v > 0, float)
nonnegative_float = _checked("a number >= 0", lambda v: v >= 0, float)
probability = _checked("a probability in [0, 1)", lambda v: 0 <= v < 1, float)
unit_interval = _checked("a probability in (0, 1]", lambda v: 0 < v <= 1, float)
