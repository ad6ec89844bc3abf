"""The one thread that runs the model: requests queue up, compatible ones run as one batch.

The event loop never runs torch: each request becomes a :class:`Job` on a bounded queue, and the
loop awaits its future. One dedicated thread takes jobs in order; after taking one it keeps
taking jobs of the same batch key (e.g. /translate with the same decoding options) for up to
``wait_s`` or until ``max_batch`` items, and runs them through the model together. Torch is so
never used from two threads at once, and a burst of small requests costs one forward pass.

A batch that fails is run again one job at a time, so that one bad request fails alone.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import warnings
from collections.abc import Callable, Collection, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

STOP = object()

# handler(payloads) -> one result per payload; runs in the worker thread.
Handler = Callable[[Sequence[Any]], list[Any]]


class QueueFull(Exception):
    """The queue holds as many requests as it may; the request is refused (503)."""


@dataclass
class Job:
    """One request for the model: ``key`` picks the handler and what it may batch with."""

    key: Hashable
    payload: Any
    size: int = 1  # items the job adds to a batch (sentences of a /translate request)
    future: Future = field(default_factory=Future)
    notices: list[str] = field(default_factory=list)


@dataclass
class Stats:
    jobs: int = 0
    batches: int = 0
    largest: int = 0  # the most jobs run in one batch

    def to_dict(self) -> dict:
        return {"requests": self.jobs, "model_batches": self.batches, "largest": self.largest}


class ModelWorker:
    """A thread running ``handlers[key[0]]`` on batches of jobs with equal ``key`` (a tuple).

    Args:
        handlers: by a key's first element (the endpoint), a function of a list of payloads
            returning one result per payload.
        batched: the endpoints whose jobs are gathered into batches; others run one by one.
        max_batch: the most items (``Job.size`` summed) run together; a larger job runs alone.
        queue_size: jobs that may wait; :meth:`submit` raises :class:`QueueFull` beyond.
        wait_s: how long to wait for more jobs to batch with the first one.
        threads: torch's intra-op threads, set in the worker thread (None: unchanged).
    """

    def __init__(
        self,
        handlers: dict[str, Handler],
        batched: Collection[str] = (),
        max_batch: int = 32,
        queue_size: int = 256,
        wait_s: float = 0.002,
        threads: int | None = None,
    ) -> None:
        self.handlers, self.batched = handlers, set(batched)
        self.max_batch, self.wait_s = max_batch, wait_s
        self.threads = threads
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.stats = Stats()
        self._held: Job | None = None  # taken while batching, but of another key: runs next
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the event loop's side
    def submit(self, key: Hashable, payload: Any, size: int = 1) -> Job:
        """Queues a job and returns it; its ``future`` gets the result or the exception.

        Raises:
            QueueFull: ``queue_size`` jobs are waiting already.
        """
        job = Job(key, payload, size)
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            raise QueueFull(
                f"server busy: {self.queue.maxsize} requests are waiting for the model; retry later"
            ) from None
        return job

    async def run(self, key: Hashable, payload: Any, size: int = 1) -> tuple[Any, list[str]]:
        """Submits a job and awaits it: the result and the notices the model raised."""
        job = self.submit(key, payload, size)
        result = await asyncio.wrap_future(job.future)
        return result, job.notices

    @property
    def depth(self) -> int:
        """Jobs waiting for the model."""
        return self.queue.qsize()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lstmkit-model", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Lets the jobs queued so far finish, then ends the thread."""
        if self._thread is None:
            return
        self.queue.put(STOP)
        self._thread.join(timeout)
        self._thread = None

    # ------------------------------------------------------------------ the worker thread
    def _loop(self) -> None:
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)
        while True:
            job = self._held if self._held is not None else self.queue.get()
            self._held = None
            if job is STOP:
                return
            self._run(self._gather(job) if job.key[0] in self.batched else [job])

    def _gather(self, first: Job) -> list[Job]:
        """``first`` and the jobs of its key that come within ``wait_s``, up to ``max_batch``."""
        batch, size = [first], first.size
        deadline = time.monotonic() + self.wait_s
        while size < self.max_batch:
            try:
                remaining = deadline - time.monotonic()
                job = self.queue.get_nowait() if remaining <= 0 else self.queue.get(True, remaining)
            except queue.Empty:
                break
            if job is STOP or job.key != first.key or size + job.size > self.max_batch:
                self._held = job
                break
            batch.append(job)
            size += job.size
        return batch

    def _run(self, batch: list[Job]) -> None:
        batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not batch:
            return
        self.stats.jobs += len(batch)
        self.stats.batches += 1
        self.stats.largest = max(self.stats.largest, len(batch))
        handler = self.handlers[batch[0].key[0]]
        try:
            results, notices = _call(handler, [job.payload for job in batch])
        except Exception as error:  # every failure goes back to its request
            if len(batch) == 1:
                batch[0].future.set_exception(error)
                return
            for job in batch:  # one bad request must not fail the others
                try:
                    (result,), job.notices = _call(handler, [job.payload])
                except Exception as alone:
                    job.future.set_exception(alone)
                else:
                    job.future.set_result(result)
            return
        for job, result in zip(batch, results, strict=True):
            # A batch's warnings cannot be told apart by request: a batching handler puts each
            # request's own notices in its result instead.
            job.notices = notices if len(batch) == 1 else []
            job.future.set_result(result)


def _call(handler: Handler, payloads: list) -> tuple[list, list[str]]:
    """``handler(payloads)`` and the warnings it raised, as text. Only this thread runs
    handlers, so recording warnings here does not take other threads' model warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = handler(payloads)
    if len(results) != len(payloads):
        raise RuntimeError(f"handler: expected {len(payloads)} results, got {len(results)}")
    return results, list(dict.fromkeys(str(w.message) for w in caught))
