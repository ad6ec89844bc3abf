"""Data-parallel training under ``torchrun``: process group, batch shards, and a local launcher.

Every rank sees the same global batches (a task's batches depend only on the epoch and seed) and
trains on its own slice of each, rows ``rank * B / world`` onwards: for the language model these
are the rank's TBPTT streams, whose state it carries. The trainer weights each rank's loss by its
share of the global tokens, so the averaged gradient is that of the whole batch on one process,
and the weights stay equal on every rank. Logging, progress and checkpoints are rank 0's.

Backends: NCCL when CUDA is present, gloo on CPU. The process group is set up from the variables
``torchrun`` exports (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``);
without them (or with ``WORLD_SIZE=1``) everything runs as one process.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from lstmkit.errors import UserError


def init_from_env() -> tuple[int, int]:
    """Joins the process group ``torchrun`` describes, once; returns (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank())
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def default_device() -> torch.device:
    """This process's GPU (``cuda:LOCAL_RANK``) when CUDA is present, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank() if world_size() > 1 else 0)
    return torch.device("cpu")


def shard_rows(batch: Any, rank: int, world: int) -> Any:
    """Rank ``rank``'s rows of every batch-first tensor in ``batch`` (tensors, tuples, lists,
    dicts or dataclasses of them; None kept): ``torch.tensor_split`` into ``world`` parts.

    Example:
        >>> shard_rows((torch.arange(4), None), 1, 2)
        (tensor([2, 3]), None)
    """
    if isinstance(batch, Tensor):
        if len(batch) < world:
            raise UserError(
                f"batch: expected at least one row per process ({world}), got {len(batch)} rows; "
                "use a larger batch_size or fewer processes"
            )
        return torch.tensor_split(batch, world)[rank]
    if isinstance(batch, list | tuple):
        return type(batch)(shard_rows(b, rank, world) for b in batch)
    if isinstance(batch, dict):
        return {k: shard_rows(v, rank, world) for k, v in batch.items()}
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        parts = {
            f.name: shard_rows(getattr(batch, f.name), rank, world)
            for f in dataclasses.fields(batch)
        }
        return dataclasses.replace(batch, **parts)
    return batch


def gather_state(carry: Any) -> Any:
    """The carried state of all ranks joined along the batch dimension (dim 1 of ``(h, c)``,
    each (L*D, B, H)), so a checkpoint holds every stream whatever the number of processes."""
    if world_size() == 1:
        return carry
    if isinstance(carry, Tensor):
        parts = [torch.empty_like(carry) for _ in range(world_size())]
        dist.all_gather(parts, carry.contiguous())
        return torch.cat(parts, dim=1)  # (L*D, B, H)
    if isinstance(carry, list | tuple):
        return type(carry)(gather_state(c) for c in carry)
    return carry


def split_state(carry: Any, rank: int, world: int) -> Any:
    """This rank's streams of a saved state: the inverse of :func:`gather_state`."""
    if isinstance(carry, Tensor):
        return torch.tensor_split(carry, world, dim=1)[rank]
    if isinstance(carry, list | tuple):
        return type(carry)(split_state(c, rank, world) for c in carry)
    return carry


def agree(flag: bool, device: torch.device) -> bool:
    """True on every rank when it is true on any (a time budget that runs out on one)."""
    if world_size() == 1:
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def largest(value: float, device: torch.device) -> float:
    """The largest of the ranks' values (the schedule's clock: every rank steps with one lr)."""
    if world_size() == 1:
        return value
    tensor = torch.tensor([value], device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor.item())


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


SUPERVISED = "LSTMKIT_SUPERVISED"  # set for the workers of launch(): supervise() reads errors


def launch(nproc: int, argv: list[str]) -> int:
    """Runs ``lstmkit ARGV`` as ``nproc`` processes on this machine under ``torchrun``
    (``--standalone``: a free local port, no rendezvous server); returns its exit status.

    ``argv`` must not contain ``--nproc`` itself (the children would launch again). Ctrl-C
    reaches the processes from the terminal; this one waits for them to save and end.
    """
    if nproc < 1:
        raise UserError(f"nproc: expected a positive integer, got {nproc}")
    command = [
        sys.executable,
        "-c",
        "from lstmkit.train.distributed import supervise; supervise()",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "lstmkit",
        *argv,
    ]
    # torchrun's own log lines (its settings, the workers it stops) are not the user's business
    env = {**os.environ, "LOGLEVEL": os.environ.get("LOGLEVEL", "CRITICAL"), SUPERVISED: "1"}
    process = subprocess.Popen(command, env=env)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
    try:
        return process.wait()
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)


def supervise(argv: list[str] | None = None) -> None:
    """``torchrun ARGV`` (its launcher, in the process :func:`launch` starts), ending with the
    workers' status: where a worker refused its input (:func:`report_error` wrote the line, exit
    status 2) or was interrupted (130), one line or none instead of torchrun's traceback."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    try:
        run(parse_args(sys.argv[1:] if argv is None else argv))
    except ChildFailedError as error:
        failures = sorted(error.failures.items())
        for code in (2, 130):
            reported = [f for _, f in failures if f.exitcode == code]
            if reported:
                message = reported[0].message if code == 2 else ""
                if isinstance(message, str) and message:
                    print(message, file=sys.stderr)
                sys.exit(code)
        rank, failure = failures[0]
        print(
            f"lstmkit: error: process {rank} of the training ended with exit status "
            f"{failure.exitcode} (its messages are above)",
            file=sys.stderr,
        )
        sys.exit(1)
    except SignalException as stop:  # Ctrl-C: the workers saved and said so
        sys.exit(128 + int(stop.sigval))


def report_error(line: str) -> bool:
    """In a worker under :func:`supervise`, hands the error ``line`` to the launcher, which
    prints it once for every process; False where there is no launcher to read it."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path or not os.environ.get(SUPERVISED):  # a torchrun of the user's own: rank 0 says
        return False
    record = {"message": line, "timestamp": int(time.time())}
    Path(path).write_text(json.dumps(record), encoding="utf-8")
    return True


class ReadyToLaunch(Exception):
    """Raised where training would start while :func:`preflight` is checking a command."""


_PREFLIGHT = contextvars.ContextVar("lstmkit_preflight", default=False)


@contextlib.contextmanager
def preflight():
    """Within: the launching process runs the command's checks (its options, its data, its run
    folder) as a worker would, and :func:`check_preflight` stops it where training starts, so
    that a mistake is reported once, before ``torchrun`` starts any process."""
    token = _PREFLIGHT.set(True)
    try:
        yield
    finally:
        _PREFLIGHT.reset(token)


def check_preflight() -> None:
    """Raises :class:`ReadyToLaunch` within :func:`preflight` (where training starts)."""
    if _PREFLIGHT.get():
        raise ReadyToLaunch


def without_nproc(argv: list[str]) -> list[str]:
    """``argv`` less ``--nproc N`` / ``--nproc=N``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


class TaskStep(nn.Module):
    """A task's training loss as a module's ``forward``: DDP synchronises the gradients of what
    runs through ``forward``, and a task may call a model method (``loss``) instead."""

    def __init__(self, model: nn.Module, task: Any) -> None:
        super().__init__()
        self.model, self.task = model, task

    def forward(self, batch: Any, carry: Any) -> tuple[Tensor, int, Any]:
        return self.task.train_loss(self.model, batch, carry)


def data_parallel(model: nn.Module, task: Any) -> nn.Module:
    """The task's loss on ``model``; under a process group, wrapped in DistributedDataParallel
    (which also copies rank 0's weights to every rank)."""
    step = TaskStep(model, task)
    return DistributedDataParallel(step) if world_size() > 1 else step


def global_loss(loss: Tensor, tokens: int) -> tuple[Tensor, Tensor, int]:
    """(the loss to backpropagate, the global batch's mean loss, its tokens).

    Rank r's mean loss over its ``tokens`` is reweighted to ``sum_r / N * world`` (N: the global
    tokens), which DDP's averaging over ``world`` turns into the gradient of the global mean,
    also when the ranks' token counts differ (padding).
    """
    if world_size() == 1:
        return loss, loss.detach(), tokens
    stats = torch.stack([loss.detach() * tokens, torch.tensor(float(tokens), device=loss.device)])
    dist.all_reduce(stats)
    total = stats[1].item()
    return loss * (tokens * world_size() / total), stats[0] / stats[1], int(total)


def from_main(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (validation metrics, so that every rank decides alike)."""
    if world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class NullLog:
    """The metrics log of ranks other than 0: records nothing."""

    def write(self, split: str, step: int, **values: Any) -> dict:
        return {}
