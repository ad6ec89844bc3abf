"""Saving a checkpoint atomically, and checking a run's output folder."""

from __future__ import annotations

import errno
import os
import random
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit import __version__
from lstmkit.checkpoint.codec import (
    CONFIG_FILE,
    CONFIG_KEYS,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_FILE,
    MODEL_FILE,
    OWN_FILES,
    STATE_FILE,
    STATE_KEYS,
    STATE_TENSORS_FILE,
    TOKENIZER_DIR,
    dedupe,
    encode,
    fsync_dir,
    is_inner_path,
    is_task_name,
    json_bytes,
    read_json,
    sha256,
    write_bytes,
    write_tensors,
)
from lstmkit.checkpoint.load import is_checkpoint, recover
from lstmkit.errors import UserError


def save_checkpoint(
    directory: str | os.PathLike,
    *,
    task: str,
    config: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    training_state: dict[str, Any] | None = None,
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    """Write a checkpoint atomically: all of the new one, or the previous one untouched.

    Everything goes into a sibling ``.<name>.tmp-<pid>``, is fsynced, then renamed into place; a
    previous checkpoint is renamed aside first and removed only once the new one is in. What a
    save killed midway left is dealt with first: a checkpoint renamed aside is put back if
    ``directory`` is missing, and the temporaries of processes no longer running are removed.

    Args:
        directory: the checkpoint directory; absent, empty, or an earlier checkpoint.
        task: ``"lm"``, ``"seq2seq"`` or ``"forecast"``.
        config: the run's settings as plain JSON (``{"model": ..., "data": ..., "training": ...}``).
        model: its ``state_dict()`` is saved; tied weights are stored once.
        optimizer, scheduler: their ``state_dict()`` is saved, if given.
        training_state: the caller's progress (step, epoch, data position, best metric, ...):
            JSON values, tensors or numpy arrays.
        extra_files: more files by relative path, e.g. ``{"tokenizer/vocab.json": b"..."}``.

    Returns:
        ``directory`` as a Path.

    Raises:
        UserError: ``directory`` holds something other than a checkpoint of its own files; or
            writing failed (a full disk, no permission): the message names ``directory`` and the
            cause, the previous checkpoint is intact and no temporary is left.
        ValueError, TypeError: a bad ``task``, a reserved key, or a value JSON cannot hold.

    Example:
        >>> import tempfile
        >>> from lstmkit.checkpoint import load_checkpoint
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     run = Path(tmp, "run")
        ...     _ = save_checkpoint(run, task="forecast", config={}, model=nn.Linear(2, 1))
        ...     sorted(load_checkpoint(run, task="forecast").state_dict)
        ['bias', 'weight']
    """
    if not is_task_name(task):
        raise ValueError(f"task: expected a task's name such as 'lm', got {task!r}")
    target = Path(os.path.abspath(directory))
    recover(target)
    _remove_leftovers(target)
    _check_replaceable(target)
    weights, tied = dedupe(model.state_dict())
    header = _config_header(task, config, tied)
    state, state_tensors = _encode_training_state(optimizer, scheduler, training_state)
    files = _check_extra_files(extra_files or {})
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    had_previous = target.exists()
    try:
        _write_tree(tmp, header, weights, state, state_tensors, files)
        _swap_in(tmp, target)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(_write_failure(target, error, had_previous)) from error
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Path(directory)


def _write_failure(target: Path, error: OSError, had_previous: bool) -> str:
    full = error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    why = "the disk is full" if full else "writing failed"
    kept = "the previous checkpoint is intact" if had_previous else "nothing was written"
    return f"{target}: cannot save the checkpoint: {why} ({error.strerror or error}); {kept}"


def _remove_leftovers(target: Path) -> None:
    """Removes the ``.<name>.tmp-<pid>`` and ``.<name>.old-<pid>`` that saves of processes which
    no longer run (killed mid-save) left beside ``target``."""
    if os.name != "posix":  # os.kill(pid, 0) probes a process only on POSIX
        return
    for path in target.parent.glob(f".{target.name}.*-*"):
        kind, _, pid = path.name.removeprefix(f".{target.name}.").partition("-")
        if kind not in ("tmp", "old") or not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # alive, another user's
            pass


def _check_replaceable(target: Path) -> None:
    # Replacing the directory deletes what it holds, so only a checkpoint's own files may go.
    if not target.exists():
        return
    if not target.is_dir():
        raise UserError(f"{target}: expected a checkpoint directory, got a file")
    entries = {p.name for p in target.iterdir()}
    if not entries:
        return
    if not is_checkpoint(target):
        raise UserError(f"{target}: is not an lstmkit checkpoint; refusing to replace it")
    manifest = read_json(target / MANIFEST_FILE)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise UserError(f"{target / MANIFEST_FILE}: not a checkpoint manifest; refusing to replace")
    foreign = entries - {PurePosixPath(name).parts[0] for name in files} - {MANIFEST_FILE}
    if foreign:
        raise UserError(
            f"{target}: holds files that are not part of the checkpoint "
            f"({', '.join(sorted(foreign))}); refusing to replace it"
        )


def _config_header(task: str, config: dict[str, Any], tied: dict[str, str]) -> dict[str, Any]:
    clash = CONFIG_KEYS & config.keys()
    if clash:
        raise ValueError(f"config: {sorted(clash)} are written by save_checkpoint itself")
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "task": task, **config}
    header["lstmkit_version"] = __version__
    if tied:
        header["tied_weights"] = tied
    return header


def _encode_training_state(optimizer, scheduler, progress) -> tuple[dict, dict[str, Tensor]]:
    clash = STATE_KEYS & (progress or {}).keys()
    if clash:
        raise ValueError(f"training_state: {sorted(clash)} are written by save_checkpoint itself")
    # The global numpy generator is legacy, but it is the one user code draws from.
    rng = {"python": random.getstate(), "numpy": np.random.get_state(legacy=False)}  # noqa: NPY002
    rng["torch_cpu"] = torch.get_rng_state()
    if torch.cuda.is_initialized():  # asking an unused GPU for its state would initialise CUDA
        rng["torch_cuda"] = torch.cuda.get_rng_state_all()
    state = {
        **(progress or {}),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "rng": rng,
    }
    tensors: dict[str, Tensor] = {}
    encoded = encode(state, "", tensors)
    unique, aliases = dedupe(tensors)
    encoded["tensors"] = {
        name: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
        for name, t in unique.items()
    }
    if aliases:
        encoded["tensor_aliases"] = aliases
    return encoded, unique


def _check_extra_files(files: dict[str, bytes]) -> dict[str, bytes]:
    for name, data in files.items():
        parts = PurePosixPath(name).parts
        if (
            not is_inner_path(name)
            or parts[0] in (*OWN_FILES, MANIFEST_FILE)
            or parts == (TOKENIZER_DIR,)
        ):
            raise ValueError(
                f"extra_files: expected a relative path other than the checkpoint's own files, "
                f"got {name!r}"
            )
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"extra_files[{name!r}]: expected bytes, got {type(data).__name__}")
    return files


def _write_tree(tmp: Path, header, weights, state, state_tensors, files) -> None:
    if tmp.exists():  # left by a crashed save of an earlier process with our pid
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    write_bytes(tmp / CONFIG_FILE, json_bytes(header, "config"))
    write_tensors(tmp / MODEL_FILE, weights)
    write_bytes(tmp / STATE_FILE, json_bytes(state, "training_state"))
    write_tensors(tmp / STATE_TENSORS_FILE, state_tensors)
    for name, data in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        write_bytes(tmp / name, bytes(data))
    manifest = {
        name: {"sha256": sha256(tmp / name), "bytes": (tmp / name).stat().st_size}
        for name in sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
    }
    write_bytes(tmp / MANIFEST_FILE, json_bytes({"files": manifest}, "manifest"))
    for folder in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
        fsync_dir(folder)


def _swap_in(tmp: Path, target: Path) -> None:
    if not target.exists():
        os.replace(tmp, target)
    else:
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if old.exists():  # left by a crashed save of an earlier process with our pid
            shutil.rmtree(old)
        os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            os.replace(old, target)
            raise
        # The new checkpoint is in place; an old copy that will not go away is only clutter.
        shutil.rmtree(old, ignore_errors=True)
    fsync_dir(target.parent)


# ---------------------------------------------------------------------------- folders
def check_output_dir(path: str | os.PathLike, overwrite: bool) -> Path:
    """Make sure ``out`` is a folder a new run may use, creating it if needed.

    Refuses a folder holding another run (config.json) or anything else unless ``overwrite``;
    deletes nothing either way (a later :func:`save_checkpoint` replaces only a checkpoint).

    Raises:
        UserError: naming ``out`` and the path.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"out {path}: expected a folder, got a file")
    if path.is_dir() and not overwrite:
        if (path / CONFIG_FILE).exists():
            held = f"holds another run ({CONFIG_FILE})"
        else:
            held = "is not empty" if any(path.iterdir()) else ""
        if held:
            raise UserError(f"out {path}: {held}; choose a new folder or pass `overwrite=True`")
    path.mkdir(parents=True, exist_ok=True)
    return path
