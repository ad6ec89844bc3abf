"""Loading and verifying a checkpoint, and resuming training from it."""

from __future__ import annotations

import contextlib
import copy
import os
import random
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.modules.module import register_module_parameter_registration_hook

from lstmkit.checkpoint.codec import (
    CONFIG_FILE,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_FILE,
    MODEL_FILE,
    OWN_FILES,
    STATE_FILE,
    STATE_TENSORS_FILE,
    Checkpoint,
    add_aliases,
    decode,
    is_inner_path,
    is_task_name,
    read_json,
    read_tensors,
    sha256,
)
from lstmkit.errors import UserError
from lstmkit.tokenizers.files import kind_of, resolve_inside

MAX_ENTRIES = 1000  # in a checkpoint folder, which holds a dozen


def load_checkpoint(directory: str | os.PathLike, *, task: str | None = None) -> Checkpoint:
    """Read and verify a checkpoint written by :func:`save_checkpoint`.

    A checkpoint that a save killed midway left renamed aside (``.<name>.old-<pid>``) is put back
    first, so that a crash at any moment leaves the last good checkpoint loadable.

    Args:
        directory: the checkpoint directory.
        task: if given, the task the checkpoint must be for.

    Returns:
        The :class:`Checkpoint`; pass it to :func:`restore_training` to resume.

    Raises:
        UserError: naming the file when the directory or a file is missing, a file's size or
            sha256 differs from manifest.json, config.json is another format or version, or the
            checkpoint is for another task.
    """
    directory = Path(directory)
    if task is not None and not is_task_name(task):
        raise UserError(f"task: expected a task's name such as 'lm', got {task!r}")
    recover(directory)
    if not directory.is_dir():
        state = "got a file" if directory.exists() else "no such checkpoint directory"
        raise UserError(f"{directory}: {state}")
    check_folder(directory)
    config_path = directory / CONFIG_FILE
    try:
        config = read_json(config_path)
    except UserError:
        _verify_manifest(directory)  # a damaged config.json is reported as a checksum mismatch
        raise
    _check_format(config_path, config)  # before the manifest, whose layout the version decides
    _verify_manifest(directory)
    if task is not None and config.get("task") != task:
        raise UserError(
            f"{config_path}: checkpoint of task {config.get('task')!r}, expected {task!r}"
        )
    state_dict = read_tensors(directory / MODEL_FILE)
    _check_finite(state_dict, directory / MODEL_FILE)
    add_aliases(state_dict, config.get("tied_weights", {}), config_path)
    state_path = directory / STATE_FILE
    state = read_json(state_path)
    if not isinstance(state, dict):
        raise UserError(f"{state_path}: expected a JSON object, got {type(state).__name__}")
    tensors = read_tensors(directory / STATE_TENSORS_FILE)
    add_aliases(tensors, state.pop("tensor_aliases", {}), state_path)
    state.pop("tensors", None)
    try:
        decoded = decode(state, tensors, state_path)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as error:
        detail = f"{type(error).__name__}: {error}"
        raise UserError(
            f"{state_path}: expected the training state lstmkit writes, got {detail:.120}"
        ) from None
    return Checkpoint(config, state_dict, decoded, directory)


def check_folder(directory: Path) -> None:
    """Refuses a checkpoint folder holding anything but folders and regular files inside it.

    A link may point to another entry of the folder; one leading outside it (``tokenizer/`` or
    ``model.safetensors`` to elsewhere, ``config.json`` to ``/dev/zero``), a FIFO, a device or a
    socket is refused here, before any file is opened, as is a folder of more than
    ``MAX_ENTRIES`` entries (a checkpoint holds a dozen).

    Raises:
        UserError: naming the entry.
    """
    count = 0
    for parent, folders, files in os.walk(directory):  # links to folders are listed, not entered
        for name in (*folders, *files):
            count += 1
            if count > MAX_ENTRIES:
                raise UserError(
                    f"{directory}: expected a checkpoint folder (a dozen files), got more than "
                    f"{MAX_ENTRIES:,} entries"
                )
            path = Path(parent, name)
            try:
                info = os.stat(resolve_inside(path, directory))
            except OSError:
                raise UserError(f"{path}: a link to nothing (to {os.readlink(path)})") from None
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                raise UserError(f"{path}: expected a regular file, got {kind_of(info.st_mode)}")


def _check_finite(tensors: dict[str, torch.Tensor], where: Path) -> None:
    # Training refuses to save a weight that is not finite, so such a file is damaged.
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise UserError(
                f"{where}: {name} holds NaN or infinite values (lstmkit never saves such "
                "weights: the file is damaged)"
            )


def _check_format(path: Path, config: Any) -> None:
    found = config.get("format") if isinstance(config, dict) else type(config).__name__
    if found != FORMAT:
        raise UserError(f"{path}: expected format {FORMAT!r}, got {found!r}")
    version = config.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        newer = type(version) is int and version > FORMAT_VERSION
        hint = f" (written by lstmkit {config.get('lstmkit_version')}; upgrade lstmkit)"
        raise UserError(
            f"{path}: expected format_version {FORMAT_VERSION}, got {version!r}"
            + (hint if newer else "")
        )


def _verify_manifest(directory: Path) -> None:
    path = directory / MANIFEST_FILE
    manifest = read_json(path)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise UserError(f'{path}: expected {{"files": {{name: {{"sha256", "bytes"}}}}}}')
    for name in OWN_FILES:
        if name not in files:
            raise UserError(f"{path}: does not list {name}")
    for name, entry in files.items():
        file = directory / name
        if not is_inner_path(name) or not isinstance(entry, dict):
            raise UserError(f"{path}: bad entry {name!r}")
        if not file.is_file():
            raise UserError(f"{file}: missing (listed in {MANIFEST_FILE})")
        if file.stat().st_size != entry.get("bytes") or sha256(file) != entry.get("sha256"):
            raise UserError(f"{file}: checksum mismatch (file altered or truncated)")


# ---------------------------------------------------------------------------- the model
def build_model(checkpoint: Checkpoint, build: Callable[[], nn.Module]) -> nn.Module:
    """The network ``build()`` makes from ``checkpoint.config``, holding the checkpoint's weights.

    The config's sizes are checked against the weights' shapes before anything is allocated:
    ``model.num_layers`` may not exceed the tensors stored (each layer has weights), then the
    network is built on the ``meta`` device (shapes, no memory) and its tensors' names and
    shapes must be those of ``model.safetensors``. Only then is it built for real, so a crafted
    ``hidden_size`` or ``num_layers`` costs no more memory than the weights file holds.

    Args:
        checkpoint: from :func:`load_checkpoint`.
        build: makes the network from the checkpoint's (already validated) config.

    Raises:
        UserError: naming config.json and the first size or tensor that does not fit.
    """
    where, weights = checkpoint.directory / CONFIG_FILE, checkpoint.directory / MODEL_FILE
    stored = checkpoint.state_dict
    model = checkpoint.config.get("model")
    layers = model.get("num_layers") if isinstance(model, dict) else None
    if isinstance(layers, int) and layers > len(stored):
        raise UserError(
            f"{where}: model.num_layers: expected at most {len(stored)} (the tensors in "
            f"{MODEL_FILE}), got {layers}"
        )
    try:
        with torch.device("meta"), _at_most(2 * len(stored) + 16, where):
            shapes = {name: tuple(t.shape) for name, t in build().state_dict().items()}
    except UserError:
        raise
    except (RuntimeError, ValueError, OverflowError, MemoryError) as error:
        detail = " ".join(str(error).split())
        raise UserError(f"{where}: model: sizes that cannot be built ({detail:.160})") from None
    missing = sorted(shapes.keys() - stored.keys())
    extra = sorted(stored.keys() - shapes.keys())
    if missing:
        raise UserError(
            f"{where}: model: the config makes {missing[0]}, which {MODEL_FILE} does not hold"
        )
    if extra:
        raise UserError(
            f"{where}: model: {MODEL_FILE} holds {extra[0]}, which the config does not make"
        )
    for name, shape in shapes.items():
        if shape != tuple(stored[name].shape):
            raise UserError(
                f"{where}: model: the config makes {name} of shape {list(shape)}, "
                f"{weights.name} holds {list(stored[name].shape)}"
            )
    network = build()
    _load_state(network, stored, weights, "model")
    return network


@contextlib.contextmanager
def _at_most(limit: int, where: Path) -> Iterator[None]:
    """Stops a build in this thread once it has registered more than ``limit`` parameters: a
    config asking for more layers than the weights hold is refused without building them all."""
    thread, count = threading.get_ident(), 0

    def hook(module: nn.Module, name: str, param: Any) -> None:
        nonlocal count
        if threading.get_ident() == thread:
            count += 1
            if count > limit:
                raise UserError(
                    f"{where}: model: expected a network of the tensors stored in {MODEL_FILE}, "
                    f"got one of more than {limit} parameters"
                )

    handle = register_module_parameter_registration_hook(hook)
    try:
        yield
    finally:
        handle.remove()


# ---------------------------------------------------------------------------- resuming
def restore_training(
    checkpoint: Checkpoint,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
) -> None:
    """Put a run back where the checkpoint left it, so that it continues exactly.

    Loads the weights (strict), the optimizer's and scheduler's state when given, and the RNG
    states of python ``random``, numpy, torch CPU and (when saved and available) CUDA.

    Args:
        checkpoint: from :func:`load_checkpoint`.
        model: built from ``checkpoint.config``, on any device.
        optimizer, scheduler: built as for the saved run, over ``model``'s parameters.

    Raises:
        UserError: the weights or states do not fit, or the checkpoint holds no optimizer or
            scheduler state for one that was given.
    """
    state, where = checkpoint.training_state, checkpoint.directory
    _load_state(model, checkpoint.state_dict, where / MODEL_FILE, "model")
    # Copies: torch keeps the given tensors as the optimizer's own state when dtype and device
    # already match, and training would then change the checkpoint in memory.
    for obj, what in ((optimizer, "optimizer"), (scheduler, "scheduler")):
        if obj is not None:
            _load_state(obj, copy.deepcopy(state.get(what)), where / STATE_FILE, what)
    rng = state["rng"]
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])  # noqa: NPY002
    torch.set_rng_state(rng["torch_cpu"])
    if rng.get("torch_cuda") and torch.cuda.is_available():
        for index, cuda_state in enumerate(rng["torch_cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, index)


def _load_state(obj: Any, state: Any, where: Path, what: str) -> None:
    if state is None:
        raise UserError(f"{where}: holds no {what} state")
    try:
        obj.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as error:
        detail = " ".join(str(error).split())
        raise UserError(f"{where}: does not fit the {what}: {detail:.300}") from None


# ---------------------------------------------------------------------------- folders and files
def is_checkpoint(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` looks like an lstmkit checkpoint (not verified: see load)."""
    directory = Path(directory)
    if not (directory / MANIFEST_FILE).is_file():
        return False
    try:
        config = read_json(directory / CONFIG_FILE)
    except UserError:
        return False
    return isinstance(config, dict) and config.get("format") == FORMAT


def resolve_checkpoint(
    directory: str | os.PathLike, prefer: tuple[str, ...] = ("best", "last")
) -> Path:
    """A checkpoint directory itself, or a run folder's first checkpoint of ``prefer``.

    A path that does not exist is returned as it is, for :func:`load_checkpoint` to report.
    A run folder whose checkpoint was renamed aside by a save that was killed before it put the
    new one in place gets it back (see :func:`recover`).

    Raises:
        UserError: a folder that is neither a checkpoint nor a run folder holding one.
    """
    path = Path(directory)
    if (path / CONFIG_FILE).exists() or not path.is_dir():
        return path
    for name in prefer:
        if (path / name / CONFIG_FILE).exists() or recover(path / name):
            resolve_inside(path / name, path)  # a run folder's checkpoint is inside it
            return path / name
    wanted = " or ".join(f"{name}/" for name in prefer)
    raise UserError(f"{path}: expected a checkpoint or a run folder (with {wanted})")


def recover(target: Path) -> bool:
    """Puts back ``target`` from ``.<name>.old-<pid>``, where a save killed between its two
    renames left it (POSIX cannot swap two folders atomically); True if it did."""
    if target.exists():
        return False
    for old in sorted(target.parent.glob(f".{target.name}.old-*")):
        if is_checkpoint(old):
            os.replace(old, target)
            return True
    return False
