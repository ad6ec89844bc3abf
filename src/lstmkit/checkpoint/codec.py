"""Checkpoint codec: the format's names, JSON for non-JSON values, tensors stored once, file I/O.

The layout and markers are described in :mod:`lstmkit.checkpoint`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import safetensors.torch
from safetensors import SafetensorError
from torch import Tensor

from lstmkit.errors import UserError
from lstmkit.tokenizers.files import JSON_LIMIT, check_regular, read_inside

FORMAT = "lstmkit-checkpoint"
FORMAT_VERSION = 1
TASK_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")  # a registered task's name, e.g. "lm"
CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
TOKENIZER_DIR = "tokenizer"
STATE_FILE = "training_state.json"
STATE_TENSORS_FILE = "training_state.safetensors"
MANIFEST_FILE = "manifest.json"
OWN_FILES = (CONFIG_FILE, MODEL_FILE, STATE_FILE, STATE_TENSORS_FILE)
CONFIG_KEYS = {"format", "format_version", "task", "lstmkit_version", "tied_weights"}
STATE_KEYS = {"optimizer", "scheduler", "rng", "tensors", "tensor_aliases"}
_MARKERS = {"__float__", "__tuple__", "__int_keys__", "__ndarray__", "__tensor__"}


@dataclass
class Checkpoint:
    """A loaded, verified checkpoint.

    Attributes:
        config: config.json as written (``format``, ``task``, ``model``, ``data``, ...).
        state_dict: the model's tensors, tied names pointing at the same tensor.
        training_state: the caller's progress keys plus ``optimizer`` and ``scheduler`` (their
            ``state_dict()``, or None) and ``rng``, with tensors and inf/nan restored.
        directory: where it was loaded from.
    """

    config: dict[str, Any]
    state_dict: dict[str, Tensor]
    training_state: dict[str, Any]
    directory: Path

    @property
    def task(self) -> str:
        """The task the model was trained for: ``"lm"``, ``"seq2seq"`` or ``"forecast"``."""
        return self.config["task"]

    @property
    def tokenizer_dir(self) -> Path:
        """The folder holding the tokenizer's files (those saved as ``tokenizer/...``)."""
        return self.directory / TOKENIZER_DIR


# ----------------------------------------------------------- JSON for non-JSON values
def encode(value: Any, path: str, tensors: dict[str, Tensor]) -> Any:
    """``value`` as JSON, its tensors moved to ``tensors`` under their dotted path."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, Tensor):
        if path in tensors:
            raise ValueError(f"{path}: two tensors would be stored under this name (dotted keys?)")
        tensors[path] = value
        return {"__tensor__": path}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return encode(value.item(), path, tensors)
    if isinstance(value, (list, tuple)):
        items = [encode(v, _join(path, i), tensors) for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not _MARKERS & value.keys():
            return {k: encode(v, _join(path, k), tensors) for k, v in value.items()}
        if all(isinstance(k, int) and not isinstance(k, bool) for k in value):
            items = {str(k): encode(v, _join(path, k), tensors) for k, v in value.items()}
            return {"__int_keys__": items}
    raise TypeError(
        f"{path or 'training state'}: cannot store {type(value).__name__} {value!r:.60} in a "
        "checkpoint; expected JSON values, tensors or numpy arrays (dict keys all str or all int)"
    )


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def decode(value: Any, tensors: dict[str, Tensor], where: Path) -> Any:
    if isinstance(value, list):
        return [decode(v, tensors, where) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        if value["__tensor__"] not in tensors:
            raise UserError(f"{where}: tensor {value['__tensor__']!r} is not stored")
        return tensors[value["__tensor__"]]
    if "__float__" in value:
        return float(value["__float__"])
    if "__tuple__" in value:
        return tuple(decode(v, tensors, where) for v in value["__tuple__"])
    if "__int_keys__" in value:
        return {int(k): decode(v, tensors, where) for k, v in value["__int_keys__"].items()}
    if "__ndarray__" in value:
        return np.array(value["__ndarray__"], dtype=value["dtype"])
    return {k: decode(v, tensors, where) for k, v in value.items()}


# ---------------------------------------------------------------- tensors stored once
def dedupe(tensors: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Tensors to store (CPU, contiguous) and ``alias -> stored name`` for exact repeats.

    safetensors refuses tensors sharing memory. A tensor that is the same view as an earlier one
    (a tied weight) becomes an alias; one that only overlaps another is stored as its own copy.
    """
    unique: dict[str, Tensor] = {}
    aliases: dict[str, str] = {}
    views: dict[tuple, str] = {}
    storages: set[tuple] = set()
    for name, tensor in tensors.items():
        t = tensor.detach()
        storage = (t.device, t.untyped_storage().data_ptr())
        view = (*storage, t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)
        if t.numel() and view in views:
            aliases[name] = views[view]
            continue
        if t.numel() and storage in storages:
            t = t.clone()
        elif t.numel():
            views[view] = name
            storages.add(storage)
        unique[name] = t.cpu().contiguous()
    return unique, aliases


def add_aliases(tensors: dict[str, Tensor], aliases: Any, where: Path) -> None:
    if not isinstance(aliases, dict):
        raise UserError(f"{where}: expected tied names as a JSON object, got {aliases!r:.60}")
    for alias, name in aliases.items():
        if name not in tensors:
            raise UserError(f"{where}: {alias!r} is tied to {name!r}, which is not stored")
        tensors[alias] = tensors[name]


# ------------------------------------------------------------------------------ files
def is_inner_path(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(path.parts) and not path.is_absolute() and ".." not in path.parts


def json_bytes(value: Any, what: str) -> bytes:
    try:
        return (json.dumps(value, indent=2, allow_nan=False) + "\n").encode("utf-8")
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what}: cannot be written as JSON: {error}") from None


def write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def write_tensors(path: Path, tensors: dict[str, Tensor]) -> None:
    safetensors.torch.save_file(tensors, str(path), metadata={"format": "pt"})
    with open(path, "rb+") as file:
        os.fsync(file.fileno())


def fsync_dir(path: Path) -> None:
    # Makes the renames and new names durable; Windows cannot open a directory (nor needs to).
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_tensors(path: Path) -> dict[str, Tensor]:
    """The tensors of a safetensors file, a regular file inside its folder (checked first)."""
    check_regular(path, path.parent, None)
    try:
        return safetensors.torch.load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise UserError(f"{path}: cannot read tensors ({error})") from None


def read_json(path: Path) -> Any:
    """The JSON of ``path``, a regular file inside its folder of at most ``JSON_LIMIT`` bytes.

    Raises:
        UserError: naming ``path``: missing, a link outside its folder, not a regular file, too
            large, not UTF-8, not JSON, nested too deeply, or an integer too long to convert.
    """
    data = read_inside(path, path.parent, JSON_LIMIT)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        at = f"(at line {error.lineno}, column {error.colno})"
        raise UserError(f"{path}: invalid JSON: {error.msg} {at}") from None
    except RecursionError:
        raise UserError(f"{path}: invalid JSON: nested too deeply") from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise UserError(f"{path}: invalid JSON: {str(error).split(';')[0]}") from None


def is_task_name(task: object) -> bool:
    """Whether ``task`` can name a checkpoint's task (a lower-case identifier, as the tasks of
    :mod:`lstmkit.registry` and ``"experiment"``)."""
    return isinstance(task, str) and TASK_NAME.fullmatch(task) is not None
