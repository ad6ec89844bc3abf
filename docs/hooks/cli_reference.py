"""MkDocs hook: the command-line reference page, generated from the argparse parsers.

``reference/cli.md`` exists only in the build: :func:`on_files` walks the parser tree of
``lstmkit.cli.main.build_parser()`` and adds the page with one section per command (usage,
description, a table of its options). A checked-in copy under ``docs/`` is refused, so the page
can never drift from the parsers.
"""

from __future__ import annotations

import argparse
import html
import re

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

PAGE = "reference/cli.md"
WIDTH = 100  # usage lines wrap here, whatever the terminal of the build is
MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]|])")


def on_files(files, config):
    """Adds the generated page to the site's files (MkDocs event)."""
    if files.get_file_from_path(PAGE) is not None:
        raise PluginError(f"docs/{PAGE} is generated from the parsers; delete the file in docs/")
    files.append(File.generated(config, PAGE, content=render()))
    return files


def render() -> str:
    """The reference page's Markdown."""
    from lstmkit.cli.main import build_parser

    lines = [
        "# Command-line reference",
        "",
        "Generated from the parsers (`lstmkit.cli.main.build_parser()`) when the site is built;",
        "`lstmkit COMMAND --help` prints the same. Every option of a command can also come from",
        "a [configuration file](../features/configuration.md) (`--config`); flags override it.",
        "",
    ]
    for depth, parser, summary in _walk(build_parser()):
        lines += _section(depth, parser, summary)
    return "\n".join(lines) + "\n"


def _walk(parser: argparse.ArgumentParser, depth: int = 1, summary: str | None = None):
    """(depth, parser, one-line help) for ``parser`` and every sub-command below it, in order."""
    yield depth, parser, summary
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                yield from _walk(child, depth + 1, helps.get(name))


def _section(depth: int, parser: argparse.ArgumentParser, summary: str | None) -> list[str]:
    lines = ["#" * min(max(depth, 2), 6) + " " + parser.prog, ""]
    description = parser.description or summary
    if description:
        lines += [_text(description), ""]
    lines += ["```", _usage(parser), "```", ""]
    commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in commands:
        lines += ["| command | what it does |", "|---|---|"]
        for choice in action._choices_actions:
            anchor = _slug(f"{parser.prog} {choice.dest}")
            lines.append(f"| [`{choice.dest}`](#{anchor}) | {_cell(choice.help or '')} |")
        lines.append("")
    defaults = _defaults(parser)
    for group in parser._action_groups:
        rows = [_row(parser, a, defaults) for a in group._group_actions if _shown(a)]
        if not rows:
            continue
        lines += [f"**{_text(group.title or 'options')}**", ""]
        if group.description:
            lines += [_text(group.description), ""]
        lines += ["| option | default | description |", "|---|---|---|", *rows, ""]
    return lines


def _shown(action: argparse.Action) -> bool:
    hidden = (argparse._SubParsersAction, argparse._HelpAction)  # -h is on every command
    return not isinstance(action, hidden) and action.help != argparse.SUPPRESS


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = parser.formatter_class(prog=parser.prog, width=WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _defaults(parser: argparse.ArgumentParser) -> dict:
    """The defaults lstmkit's option helper keeps beside argparse (whose own are SUPPRESS)."""
    try:
        from lstmkit.cli.options import DEFAULTS
    except ImportError:  # the helper moved or went: argparse's own defaults only
        return {}
    return getattr(parser, DEFAULTS, {}) or {}


def _row(parser: argparse.ArgumentParser, action: argparse.Action, defaults: dict) -> str:
    formatter = parser.formatter_class(prog=parser.prog, width=WIDTH)
    if action.option_strings:
        metavar = formatter._format_args(action, action.dest.upper())
        metavar = "" if action.nargs == 0 else f" {metavar}"
        name = ", ".join(f"`{flag}{metavar}`" for flag in action.option_strings)
    else:
        name = f"`{formatter._format_args(action, action.dest)}`"
    default = defaults.get(action.dest, action.default)
    help_text = formatter._expand_help(action) if action.help else ""
    suffix = f" (default: {default})"
    if help_text.endswith(suffix):  # the option helper appends it; the column shows it
        help_text = help_text[: -len(suffix)]
    return f"| {name} | {_default(action, default)} | {_cell(help_text)} |"


def _default(action: argparse.Action, default) -> str:
    if default is None or default == argparse.SUPPRESS or (action.nargs == 0 and not default):
        return ""
    if isinstance(default, list | tuple):
        default = " ".join(map(str, default))
    return f"`{default}`"


def _text(text: str) -> str:
    """argparse's text as one Markdown paragraph (argparse reflows it too)."""
    return MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(" ".join(text.split()), quote=False))


def _cell(text: str) -> str:
    return _text(text)


def _slug(title: str) -> str:
    """The anchor MkDocs' toc extension gives a heading (its default slugify)."""
    slug = re.sub(r"[^\w\s-]", "", title).strip().lower()
    return re.sub(r"[-\s]+", "-", slug)
