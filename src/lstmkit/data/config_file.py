"""Reading a run's settings from a YAML or TOML config file."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

from lstmkit.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no tomllib; tomli is the same parser under another name
    import tomli as tomllib


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML (``.yaml``, ``.yml``) or TOML (``.toml``) config file into a dict.

    Raises:
        UserError: naming the file (and line and column) for a missing file, a syntax error or a
            top level that is not a mapping.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml"):
        raise UserError(f"{path}: expected a .yaml, .yml or .toml file, got {suffix or 'none'!r}")
    text = read_text(path)
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise UserError(f"{path}: invalid TOML: {error}") from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
            at = f" (at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            if isinstance(error, yaml.reader.ReaderError):  # its str() spans two lines
                before = text[: error.position]
                line, column = before.count("\n") + 1, error.position - before.rfind("\n")
                code = error.character if isinstance(error.character, int) else ord(error.character)
                problem = f"unacceptable character #x{code:04x}: {error.reason}"
                at = f" (at line {line}, column {column})"
            raise UserError(f"{path}: invalid YAML: {problem or error}{at}") from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise UserError(f"{path}: expected a mapping of settings at the top level, got {got}")
    return data


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text (byte {error.start})") from None
