"""Where lstmkit keeps what it generates or computes once and reuses: synthesised built-in data,
audio features.

The root is ``$LSTMKIT_CACHE`` when set, else ``$XDG_CACHE_HOME/lstmkit``, else
``~/.cache/lstmkit``. Each user of the cache takes its own sub-folder (``speech/``,
``features/``) and publishes a finished entry by renaming a temporary folder into place
(:func:`publish_entry`, with a marker file written last), so an interrupted generation never
leaves a half-written entry that a later run would trust; temporary folders left by a killed
process of this host are removed by the next build.

Example:
    >>> import os
    >>> os.environ["LSTMKIT_CACHE"] = "/tmp/lstmkit-cache-example"
    >>> str(cache_dir("speech"))
    '/tmp/lstmkit-cache-example/speech'
    >>> del os.environ["LSTMKIT_CACHE"]
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

CACHE_ENV = "LSTMKIT_CACHE"


def cache_root() -> Path:
    """The cache's root folder (not created)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lstmkit"


def cache_dir(name: str) -> Path:
    """The sub-folder ``name`` of the cache root (not created)."""
    return cache_root() / name


def publish_entry(folder: Path, marker: str, build: Callable[[Path], None]) -> None:
    """Build ``folder`` in a temporary sibling and rename it into place.

    Another process may publish the same entry meanwhile: the first rename wins, and the other
    build is dropped.

    Args:
        folder: the entry's place (its parent is created).
        marker: a file that ``build`` writes last: its presence shows that an entry is complete.
        build: writes the entry into the (empty) folder it is given.

    Raises:
        OSError: the folder cannot be made or renamed and no complete entry is there; and what
            ``build`` raises (the temporary folder is removed).
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    for stale in folder.parent.glob(f".tmp-{folder.name}-{host}-*"):
        pid = stale.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):  # left by a killed generation
            shutil.rmtree(stale, ignore_errors=True)
    tmp = folder.parent / f".tmp-{folder.name}-{host}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        build(tmp)
        os.rename(tmp, folder)
    except OSError:
        if not (folder / marker).is_file():  # else another process published it first
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


__all__ = ["CACHE_ENV", "cache_dir", "cache_root", "publish_entry"]
