"""One training at a time in a run folder: the lock file ``run.lock``, and a writable folder.

A training holds an exclusive ``flock`` on ``<out>/run.lock`` while it runs, and writes its
process id, host and start time into the file for the message another training gets. The
operating system drops the lock when the process ends, however it ends, so a lock file left
behind by a killed run is told from a live one by the lock, not by the process id (which the
system may have given to another process since): it is taken over, with a notice. The file is
removed when the run ends.

Only the process of rank 0 locks (``RANK`` under ``torchrun``); the other ranks write nothing
into the folder. A process may lock a folder it already holds (the command line holds it from
its checks to its last file; the estimator and the trainer within): the lock is released when
the outermost holder lets it go.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
import warnings
from pathlib import Path

from lstmkit.errors import Notice, UserError

LOCK_FILE = "run.lock"
_HELD: dict[str, list] = {}  # this process's locks: folder -> [file descriptor, holders]
_RETRY_S = 0.2  # a brief wait, so that another process's check (check_unlocked) is no conflict


def check_writable(out: str | os.PathLike) -> Path:
    """Refuses a run folder that cannot be written: an existing file, a path under a file, a
    read-only file system or a folder without write permission. Creates nothing.

    Raises:
        UserError: naming ``out`` (and the file or folder in the way).
    """
    path = Path(out)
    existing = next(p for p in (path, *path.parents) if p.exists() or p.is_symlink())
    if not existing.is_dir():
        if existing == path:
            raise UserError(f"out {path}: expected a folder, got a file")
        raise UserError(f"out {path}: expected a folder, got a path under the file {existing}")
    if _read_only_fs(existing):
        raise UserError(f"out {path}: {existing} is on a read-only file system")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" (in {existing})"
        raise UserError(f"out {path}: cannot create files there{where}: permission denied")
    return path


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_unlocked(out: str | os.PathLike) -> None:
    """Refuses a folder another training holds, before any work starts; touches nothing.

    Raises:
        UserError: naming ``out`` and the training holding it (process id and host).
    """
    path = Path(out)
    if not _locking() or _key(path) in _HELD or not (path / LOCK_FILE).is_file():
        return  # rank 0 holds it for the other ranks
    try:
        fd = os.open(path / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        if not _try_lock(fd, retry=False):
            raise UserError(_busy(path, fd))
    finally:
        os.close(fd)  # drops the lock this check took, if it took it


class RunLock:
    """The lock of the run folder ``out`` (see the module): ``with RunLock(out): ...``.

    Raises (on entering):
        UserError: another training holds ``out``, or ``out`` cannot be written.
    """

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out)
        self.key = _key(self.out)
        self.active = _locking()

    def acquire(self) -> RunLock:
        if not self.active:
            return self
        if self.key in _HELD:
            _HELD[self.key][1] += 1
            return self
        check_writable(self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        fd = self._lock()
        previous = _owner(fd)
        if previous:
            warnings.warn(
                f"out {self.out}: took over the lock of a training that ended without "
                f"removing it ({previous})",
                Notice,
                stacklevel=3,
            )
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        _HELD[self.key] = [fd, 1]
        return self

    def _lock(self) -> int:
        """The lock file, opened and locked: the one the folder holds when it is locked (a
        holder that was just releasing may have removed the one this process opened)."""
        lock = self.out / LOCK_FILE
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            if not _try_lock(fd, retry=True):
                message = _busy(self.out, fd)
                os.close(fd)
                raise UserError(message)
            with contextlib.suppress(OSError):
                if os.stat(lock, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                    return fd
            os.close(fd)

    def release(self) -> None:
        if not self.active or self.key not in _HELD:
            return
        held = _HELD[self.key]
        held[1] -= 1
        if held[1] > 0:
            return
        del _HELD[self.key]
        with contextlib.suppress(OSError):  # removed while still locked: no one takes it over
            (self.out / LOCK_FILE).unlink()
        os.close(held[0])

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _try_lock(fd: int, retry: bool) -> bool:
    """An exclusive lock on ``fd`` without waiting (but for a moment with ``retry``); False
    when another process holds one. A file system without ``flock`` counts as unlocked."""
    deadline = time.monotonic() + (_RETRY_S if retry else 0.0)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        except OSError as error:
            if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                return True
            raise


def _busy(out: Path, fd: int) -> str:
    owner = _owner(fd) or "its process is unknown"
    return (
        f"out {out}: another training is running in it ({owner}); wait for it to end, "
        "or choose another folder"
    )


def _owner(fd: int) -> str:
    """``pid N on host H since T`` as the lock file records it; "" when it is empty."""
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"null")
    except (OSError, ValueError):
        return ""
    if not isinstance(record, dict):
        return ""
    return " ".join(
        f"{word} {record[key]}"
        for word, key in (("pid", "pid"), ("on", "host"), ("since", "started"))
        if key in record
    )


def _locking() -> bool:
    """Whether this process locks run folders: rank 0 alone."""
    return os.environ.get("RANK", "0") == "0"


def _key(out: Path) -> str:
    return str(out.resolve())


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


__all__ = ["LOCK_FILE", "RunLock", "check_unlocked", "check_writable"]
