"""Reading a saved folder that may be damaged or crafted: regular files inside it, bounded in size.

A checkpoint or a saved tokenizer can come from anyone. Before a file of it is opened, its path
is resolved (links followed) and must stay inside the folder, must be a regular file (not a
FIFO, whose open would block, nor a device such as ``/dev/zero``, which never ends) and must be
no larger than the reader's limit. The open itself is non-blocking and refuses a link in the
last component, so a file swapped for a FIFO or a link after the check cannot hang or escape.
No torch here: the ONNX runtime reads tokenizers with this too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lstmkit.errors import UserError

JSON_LIMIT = 64 << 20  # bytes of a JSON file: config.json, manifest.json, tokenizer.json
MODEL_LIMIT = 256 << 20  # bytes of a tokenizer's model file (SentencePiece protobuf)
_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def resolve_inside(path: str | os.PathLike, root: str | os.PathLike) -> Path:
    """``path`` with its links resolved, checked to stay inside ``root`` (whose own links count).

    Raises:
        UserError: naming ``path`` when it resolves outside ``root``.
    """
    real, top = os.path.realpath(path), os.path.realpath(root)
    if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
        raise UserError(
            f"{path}: links outside the folder {root} (to {real}); expected a file inside it"
        )
    return Path(real)


def kind_of(mode: int) -> str:
    """What a file of ``mode`` (``st_mode``) is, in words: "a FIFO", "a folder", ..."""
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def check_regular(path: str | os.PathLike, root: str | os.PathLike, limit: int | None) -> int:
    """The size of ``path``, a regular file inside ``root`` of at most ``limit`` bytes.

    Only ``stat`` is called: nothing is opened.

    Raises:
        UserError: naming ``path``: missing, outside ``root``, not a regular file, or too large.
    """
    real = resolve_inside(path, root)
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{path}: expected a regular file, got {kind_of(info.st_mode)}")
    if limit is not None and info.st_size > limit:
        raise UserError(f"{path}: expected at most {limit:,} bytes, got {info.st_size:,}")
    return info.st_size


def read_inside(path: str | os.PathLike, root: str | os.PathLike, limit: int) -> bytes:
    """The bytes of ``path``, a regular file inside ``root`` of at most ``limit`` bytes.

    Raises:
        UserError: naming ``path``: missing, outside ``root``, not a regular file, too large,
            or unreadable.
    """
    check_regular(path, root, limit)
    real = resolve_inside(path, root)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(real, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped since the check
            raise UserError(f"{path}: expected a regular file, got {kind_of(info.st_mode)}")
        try:
            data = file.read(limit + 1)
        except OSError as error:
            raise UserError(f"{path}: cannot read ({error.strerror})") from None
    if len(data) > limit:
        raise UserError(f"{path}: expected at most {limit:,} bytes, got more")
    return data
