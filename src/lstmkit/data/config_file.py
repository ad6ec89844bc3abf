"""Reading a run's settings from a YAML, TOML or JSON config file.

A config file is small and read whole, so what it may hold is bounded before anything is built
from it: at most :data:`MAX_BYTES`, numbers of at most :data:`MAX_DIGITS` digits, YAML aliases
that expand to at most :data:`MAX_ALIASED` values (a "billion laughs" file is refused, not
expanded), and every key of a mapping given once.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

import yaml

from lstmkit.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no tomllib; tomli is the same parser under another name
    import tomli as tomllib

SUFFIXES = (".yaml", ".yml", ".toml", ".json")
MAX_BYTES = 1 << 20  # a config file of a megabyte is already a hundred times the largest we write
MAX_DIGITS = 100  # no setting needs a longer number; int() of 5,000 digits is refused by Python
MAX_ALIASED = 100_000  # values YAML aliases may add to a file's own
_DIGITS = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML (``.yaml``, ``.yml``), TOML (``.toml``) or JSON (``.json``) config file.

    Returns:
        The top-level mapping, as the parser gives it.

    Raises:
        UserError: naming the file (and line and column where there is one) for a missing or
            special file, one over :data:`MAX_BYTES`, a syntax error, a number over
            :data:`MAX_DIGITS` digits, a YAML alias bomb, a key given twice in one mapping or a
            top level that is not a mapping.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> (folder / "a.yaml").write_text("lr: 0.1\\nlr: 0.2\\n")
        16
        >>> read_config_file(folder / "a.yaml")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lstmkit.errors.UserError: ...a.yaml:2:1: 'lr' is given twice (lines 1 and 2)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(
            f"{path}: expected a .yaml, .yml, .toml or .json file, got {suffix or 'none'!r}"
        )
    text = read_text(path, limit=MAX_BYTES)
    if suffix == ".toml":
        data = _toml(path, text)
    elif suffix == ".json":
        data = _json(path, text)
    else:
        data = _yaml(path, text)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise UserError(f"{path}: expected a mapping of settings at the top level, got {got}")
    return data


def read_text(path: Path, limit: int | None = None) -> str:
    """The UTF-8 text of the regular file ``path``, of at most ``limit`` bytes when given.

    Raises:
        UserError: naming the file: missing, not a regular file (a FIFO or a device is never
            opened), unreadable, over the limit, or not UTF-8.
    """
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            what = "a folder" if stat.S_ISDIR(mode) else "a special file (FIFO, device, socket)"
            raise UserError(f"{path}: expected a regular file, got {what}")
        with path.open("rb") as file:
            data = file.read(-1 if limit is None else limit + 1)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror})") from None
    if limit is not None and len(data) > limit:
        raise UserError(f"{path}: expected at most {limit:,} bytes, got more")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text (byte {error.start})") from None


def _position(text: str, offset: int) -> str:
    before = text[:offset]
    return f"{before.count(chr(10)) + 1}:{offset - before.rfind(chr(10))}"


def _long_number(path: Path, text: str, start: int = 0) -> UserError | None:
    """The error for the first run of more than :data:`MAX_DIGITS` digits from ``start``."""
    found = _DIGITS.search(text, start)
    if found is None:
        return None
    where = _position(text, found.start())
    digits = len(found[0])
    return UserError(
        f"{path}:{where}: a number of {digits:,} digits; expected at most {MAX_DIGITS}"
    )


def _toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        twice = _toml_twice(path, text, str(error))
        raise twice or UserError(f"{path}: invalid TOML: {error}") from None
    except ValueError:  # int() of a number past Python's limit on digits
        raise _long_number(path, text) or UserError(f"{path}: invalid TOML") from None


def _toml_twice(path: Path, text: str, message: str) -> UserError | None:
    """tomllib's "Cannot overwrite a value (at line 2, column 9)" naming the key and both lines,
    where the key stands at the start of the two lines."""
    found = re.match(r"Cannot overwrite a value \(at line (\d+), column \d+\)", message)
    lines = text.splitlines()
    if found is None or int(found[1]) > len(lines):
        return None
    line = int(found[1])
    key = lines[line - 1].split("=")[0].strip()
    first = next(
        (k for k in range(1, line) if key and lines[k - 1].split("=")[0].strip() == key), None
    )
    if first is None:
        return None
    return UserError(f"{path}:{line}:1: {shown(key)} is given twice (lines {first} and {line})")


def _json(path: Path, text: str) -> Any:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise UserError(f"{path}: {shown(key)} is given twice in one object")
            seen[key] = value
        return seen

    def number(convert):
        def parse(literal: str):
            if len(literal.lstrip("-")) > MAX_DIGITS:
                raise _long_number(path, text) or UserError(f"{path}: a number too long")
            return convert(literal)

        return parse

    try:
        return json.loads(
            text, object_pairs_hook=unique, parse_int=number(int), parse_float=number(float)
        )
    except json.JSONDecodeError as error:
        at = f"(at line {error.lineno}, column {error.colno})"
        raise UserError(f"{path}: invalid JSON: {error.msg} {at}") from None
    except RecursionError:
        raise UserError(f"{path}: invalid JSON: nested too deeply") from None


# ---------------------------------------------------------------------- YAML
def _yaml(path: Path, text: str) -> Any:
    try:
        loader = yaml.SafeLoader(text)  # reads the text for characters YAML refuses
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_node(path, node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise UserError(f"{path}: invalid YAML: {_yaml_problem(error, text)}") from None
    except RecursionError:
        raise UserError(f"{path}: invalid YAML: nested too deeply") from None


def _yaml_problem(error: yaml.YAMLError, text: str) -> str:
    mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
    at = f" (at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    if isinstance(error, yaml.reader.ReaderError):  # its str() spans two lines
        line, column = _position(text, error.position).split(":")
        code = error.character if isinstance(error.character, int) else ord(error.character)
        problem = f"unacceptable character #x{code:04x}: {error.reason}"
        at = f" (at line {line}, column {column})"
    return f"{problem or error}{at}"


def _check_node(path: Path, root: yaml.Node) -> None:
    """Refuses what the YAML parser would build slowly or silently: an alias bomb, a number past
    :data:`MAX_DIGITS` digits, a key given twice in one mapping. Linear in the file: each node is
    visited once, however often aliases repeat it."""
    sizes: dict[int, int] = {}  # id(node) -> values it expands to
    numbers = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # a node that contains itself (an alias to an ancestor) counts once
        if isinstance(node, yaml.ScalarNode):
            found = _DIGITS.search(node.value) if node.tag in numbers else None
            if found is not None:
                mark = node.start_mark
                raise UserError(
                    f"{path}:{mark.line + 1}:{mark.column + 1}: a number of {len(found[0]):,} "
                    f"digits; expected at most {MAX_DIGITS}"
                )
            return 1
        if isinstance(node, yaml.MappingNode):
            _unique_keys(path, node)
            children = [n for pair in node.value for n in pair]
        else:
            children = list(node.value)
        sizes[id(node)] = total = 1 + sum(size(child) for child in children)
        return total

    expanded = size(root)
    if expanded > len(sizes) + MAX_ALIASED:
        raise UserError(
            f"{path}: its aliases expand to {expanded:,} values; expected at most "
            f"{MAX_ALIASED:,} more than the file's own {len(sizes):,} (a YAML alias bomb?)"
        )


def _unique_keys(path: Path, node: yaml.MappingNode) -> None:
    lines: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        if key.value in lines:
            raise UserError(
                f"{path}:{line}:{key.start_mark.column + 1}: {shown(key.value)} is given twice "
                f"(lines {lines[key.value]} and {line})"
            )
        lines[key.value] = line


def shown(value: Any, width: int = 40) -> str:
    """``repr(value)`` cut to ``width`` characters with "…"."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"
