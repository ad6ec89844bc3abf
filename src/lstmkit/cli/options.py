"""Options from three places, in rising order: built-in defaults, a ``--config`` file, flags.

Every command's options are declared once with :func:`option`. argparse records only the flags a
user typed (their argparse default is ``SUPPRESS``); :func:`settings` then lays them over the
config file's values and the defaults. A config file (YAML, TOML or JSON) uses the options' names,
with ``_`` or ``-`` (``hidden_size: 512`` or ``hidden-size = 512``), at the top level or one level
down in sections of any name (``model: {hidden_size: 512}``); each value is checked as the flag's
would be, and a mistake names the file, the key and what was expected. A run's checkpoint
``config.json`` (or its folder) is a config file too: its settings are read back as options
(:func:`checkpoint_options`), so a run can be replayed; ``--print-config`` (:func:`printable`)
writes the settings a command would use as a YAML config file.
"""

from __future__ import annotations

import argparse
import difflib
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from lstmkit.data.config_file import read_config_file, shown
from lstmkit.errors import Notice, UserError

DEFAULTS = "lstmkit_defaults"
NOT_OPTIONS = ("run", "parser_", "config", "print_config")
CHECKPOINT_FORMAT = "lstmkit-checkpoint"
# The run group: where a command writes and how it reports, which a replayed run chooses anew.
RUN_OPTIONS = ("out", "overwrite", "resume", "progress", "json", "nproc")


def option(
    group, *flags: str, default: Any = None, deprecated: tuple[str, ...] = (), **kwargs: Any
) -> argparse.Action:
    """``group.add_argument`` with the default kept aside, so that a typed flag can be told
    from a default one; the help shows the default. ``deprecated`` are old names of the flag,
    still accepted (on the command line and as config keys) with a warning."""
    parser = getattr(group, "_lstmkit_parser", group)
    if deprecated:
        kwargs["action"] = _Deprecated
    action = group.add_argument(*flags, *deprecated, default=argparse.SUPPRESS, **kwargs)
    action.deprecated = frozenset(deprecated)
    getattr(parser, DEFAULTS)[action.dest] = default
    if kwargs.get("help"):
        action.help = kwargs["help"] + _default_note(action, default)
    return action


def preset(parser: argparse.ArgumentParser, values: dict[str, Any]) -> None:
    """Replaces the defaults of ``parser``'s options named in ``values`` (a task's own, over
    the dataclasses' defaults), in the table of defaults and in the help."""
    defaults = getattr(parser, DEFAULTS)
    for action in parser._actions:
        if action.dest in values:
            defaults[action.dest] = values[action.dest]
            if action.help:
                text = action.help.split(" (default:")[0]
                action.help = text + _default_note(action, values[action.dest])


def _default_note(action: argparse.Action, default: Any) -> str:
    """`` (default: ...)``, in the words of the command line for a switch: none for a flag that
    only turns something on or off (its help says what), the flag in force for ``--x/--no-x``."""
    if isinstance(action, argparse.BooleanOptionalAction):
        on, off = action.option_strings[:2]
        return f" (default: {on if default else off})"
    if action.nargs == 0 or default is None or default is False:
        return ""
    return f" (default: {default})"


class _Deprecated(argparse.Action):
    """Stores the value as ``store`` does; an old name of the flag warns."""

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string in self.deprecated:
            _warn_renamed(parser.prog, option_string, self.option_strings[0])
        setattr(namespace, self.dest, values)


def _warn_renamed(prog: str, old: str, new: str) -> None:
    print(f"{prog}: warning: {old} is deprecated; use {new}", file=sys.stderr)


def command_parser(commands, name: str, run: Callable, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand whose options :func:`settings` reads; it takes ``--config FILE``."""
    parser = commands.add_parser(name, **kwargs)
    setattr(parser, DEFAULTS, {})
    parser.set_defaults(run=run, parser_=parser)
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="read options from a YAML, TOML or JSON file, or a run's checkpoint config.json "
        "(or its folder) to replay it; flags given here override it",
    )
    return parser


def group(parser: argparse.ArgumentParser, title: str):
    """An argument group whose :func:`option` calls record defaults on ``parser``."""
    g = parser.add_argument_group(title)
    g._lstmkit_parser = parser
    return g


def restrict(parser: argparse.ArgumentParser, dest: str, choices: tuple[str, ...]) -> None:
    """Gives option ``dest`` its ``choices`` (checked on the command line and in config files
    before the command runs), e.g. ``--monitor`` the task's validation metrics."""
    for action in parser._actions:
        if action.dest == dest:
            action.choices = choices


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Every option of the command: its flag if typed, else its config-file value, else default.

    Raises:
        UserError: the config file is unreadable, has an unknown key, a key given twice or a
            value of the wrong kind, naming the file and the key.
    """
    parser = args.parser_
    values = dict(getattr(parser, DEFAULTS))
    from_file = {} if args.config is None else _from_file(parser, Path(args.config))
    given = {k: v for k, v in vars(args).items() if k not in NOT_OPTIONS}
    values.update(from_file)
    values.update(given)
    # What the user set (flags or file), for checks such as --resume's.
    values["given_"] = (set(given) | set(from_file)) & set(getattr(parser, DEFAULTS))
    return values


def _from_file(parser: argparse.ArgumentParser, path: Path) -> dict[str, Any]:
    names = _option_names(parser)
    if path.name == "config.json" and not path.exists() and path.parent.is_dir():
        path = path.parent  # RUN/config.json: a run folder keeps it in best/ and last/
    if path.is_dir():  # a run folder or a checkpoint: its config.json
        from lstmkit.checkpoint import resolve_checkpoint

        path = resolve_checkpoint(path) / "config.json"
    data = read_config_file(path)
    if data.get("format") == CHECKPOINT_FORMAT:
        return _from_checkpoint(parser, path, data, names)
    values: dict[str, Any] = {}
    where: dict[str, str] = {}  # dest -> the key that set it
    for key, value in _flatten(data, path).items():
        name = key.rsplit(".", 1)[-1]
        action = names.get(name.replace("-", "_"))
        if action is None:
            close = difflib.get_close_matches(name.replace("-", "_"), list(names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"{path}: unknown option {shown(key)}{hint}")
        if action.dest in where:
            raise UserError(
                f"{path}: {where[action.dest]!r} and {key!r} set the same option; give it once"
            )
        if "--" + name.replace("_", "-") in action.deprecated:
            warnings.warn(f"{path}: {key} is deprecated; use {action.dest}", Notice, stacklevel=2)
        where[action.dest] = key
        values[action.dest] = _convert(action, value, f"{path}: {key}")
    return values


def _option_names(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The options a config file may set, by name: each option's ``dest``, and the long flags
    of those that take a value (``--max-time`` as ``max_time``, an old name too)."""
    known = getattr(parser, DEFAULTS)
    names: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if not action.option_strings or action.dest not in known:
            continue
        names[action.dest] = action
        if action.nargs != 0:
            for flag in action.option_strings:
                names.setdefault(flag.lstrip("-").replace("-", "_"), action)
    return names


def _flatten(data: dict, path: Path) -> dict[str, Any]:
    """Top-level keys, and the keys of sections (mappings) one level down, as ``section.key``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for name, item in items:
            full = str(key) if name is None else f"{key}.{name}"
            if isinstance(item, dict):
                raise UserError(f"{path}: {shown(full)}: sections nest one level only")
            if full in flat:
                raise UserError(f"{path}: {shown(full)} is given twice")
            flat[full] = item
    return flat


def checkpoint_options(config: dict) -> dict[str, Any]:
    """A run's settings, as its checkpoint's ``config.json`` records them, by option name: the
    estimator's hyperparameters (``model``, ``optim``, ``train``, ``features`` flattened; the
    optimiser's ``patience`` is ``lr_patience``) and the data sources the run read."""
    flat: dict[str, Any] = {}
    for key, value in (config.get("estimator") or {}).items():
        if key == "optim" and isinstance(value, dict):
            flat.update({"lr_patience" if k == "patience" else k: v for k, v in value.items()})
        elif key in ("model", "train", "tokenizer_options", "features") and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    sources = dict(((config.get("data") or {}).get("sources")) or {})
    sources.pop("seed", None)  # the training seed, recorded with the estimator's
    for part in ("valid", "test"):  # src/tgt files: a (src, tgt) pair
        if isinstance(sources.get(part), list) and len(sources[part]) == 2:
            sources[f"{part}_src"], sources[f"{part}_tgt"] = sources.pop(part)
    renamed = {"path": "csv", "builtin": "dataset"}  # a forecaster's series
    flat.update({renamed.get(k, k): v for k, v in sources.items() if k != "dataframe"})
    return flat


def _from_checkpoint(parser, path: Path, config: dict, names: dict) -> dict[str, Any]:
    task = parser.prog.split()[1] if len(parser.prog.split()) > 1 else None
    if config.get("task") != task:
        raise UserError(
            f"{path}: expected the config of a run of task {task}, "
            f"got task {shown(config.get('task'))}"
        )
    values, left_out = {}, []
    for key, value in checkpoint_options(config).items():
        action = names.get(key)
        if action is None or action.dest in RUN_OPTIONS:
            left_out.append(key)
            continue
        values[action.dest] = _convert(action, value, f"{path}: {key}")
    if left_out:
        warnings.warn(
            f"{path}: left out the run's settings that {parser.prog} has no option for: "
            + ", ".join(left_out),
            Notice,
            stacklevel=2,
        )
    return values


def _convert(action: argparse.Action, value: Any, where: str) -> Any:
    """A config value checked and converted as argparse would convert the flag's text."""
    if value is None:
        return None
    if action.nargs == 0:  # a switch such as --tie-weights
        if not isinstance(value, bool):
            raise UserError(f"{where}: expected true or false, got {shown(value)}")
        return value
    if action.nargs in ("+", "*") and isinstance(value, list):  # as the flag's words
        if action.nargs == "+" and not value:  # none of them, as when the flag is not given
            return None
        return [_convert_one(action, item, where) for item in value]
    return _convert_one(action, value, where)


def _convert_one(action: argparse.Action, value: Any, where: str) -> Any:
    if isinstance(value, bool) and getattr(action.type, "accepts_bool", False):
        value = str(value).lower()  # a setting of yes, no or something else (season_adjust)
    if isinstance(value, bool | list | dict) or value is None:
        raise UserError(f"{where}: expected {_kind(action)}, got {shown(value)}")
    convert = action.type or str
    try:
        result = convert(str(value))
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        raise UserError(f"{where}: expected {_kind(action)}, got {shown(value)}") from None
    if action.choices is not None and result not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise UserError(f"{where}: expected one of {choices}, got {shown(value)}")
    return result


def _kind(action: argparse.Action) -> str:
    names = {int: "an integer", float: "a number", str: "text"}
    return names.get(action.type, getattr(action.type, "kind", "a value"))


def _checked(kind: str, test: Callable[[float], bool], base: type) -> Callable[[str], Any]:
    def convert(text: str):
        try:
            value = base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {shown(text)}") from None
        # inf passes "> 0" and nan fails every test: neither is a setting
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"expected {kind}, got {shown(text)}")
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
decay = _checked("a decay in [0, 1)", lambda v: 0 <= v < 1, float)
warp_spread = _checked("a number in [0, 0.5)", lambda v: 0 <= v < 0.5, float)


# ---------------------------------------------------------------------- --print-config
def printable(parser: argparse.ArgumentParser, chosen: Callable | None = None) -> None:
    """Adds ``--print-config`` to a train command: print the settings it would use (defaults,
    ``--config`` file, flags; ``chosen(args)`` where the command adds its own, default
    :func:`settings`) as YAML that ``--config`` reads back, and exit 0 without training."""
    parser.add_argument(
        "--print-config",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the settings this command would train with (defaults, --config file, "
        "flags) as a YAML config file, and exit without training",
    )
    run = parser.get_default("run")

    def command(args: argparse.Namespace) -> int:
        if not getattr(args, "print_config", False):
            return run(args)
        sys.stdout.write(config_text(parser, (chosen or settings)(args)))
        return 0

    parser.set_defaults(run=command)


def config_text(parser: argparse.ArgumentParser, s: dict[str, Any]) -> str:
    """``s``'s options as a YAML config file, in sections named after the help's groups; the
    run group (where to write, what to print) is left out: a replay chooses its own."""
    known = getattr(parser, DEFAULTS)
    sections: dict[str, dict[str, Any]] = {}
    for g in parser._action_groups:
        for action in g._group_actions:
            if action.dest in known and action.dest not in RUN_OPTIONS:
                title = g.title.split(" (")[0] if hasattr(g, "_lstmkit_parser") else "options"
                sections.setdefault(title, {})[action.dest] = _plain(s[action.dest])
    return yaml.safe_dump(sections, sort_keys=False, allow_unicode=True, width=100)


def _plain(value: Any) -> Any:
    """A setting as YAML data: a flag's several words (lists of lists) as one list."""
    if isinstance(value, list | tuple):
        return [x for item in value for x in (item if isinstance(item, list) else [item])]
    return value
