"""The model worker: one thread, batches of one key up to max_batch, failures kept apart.

Jobs are queued before the worker starts, so what it finds waiting (and so how it batches) does
not depend on timing.
"""

import threading

import pytest

from lstmkit.serve.worker import ModelWorker, QueueFull


class Recorder:
    """A handler doubling its payloads, recording each batch and the thread it ran in."""

    def __init__(self):
        self.batches, self.threads = [], set()

    def __call__(self, payloads):
        self.batches.append(list(payloads))
        self.threads.add(threading.get_ident())
        if any(p < 0 for p in payloads):
            raise ValueError(f"payload: expected a number >= 0, got {min(payloads)}")
        return [2 * p for p in payloads]


def run_all(worker, jobs):
    """Queues ``(key, payload, size)`` jobs, then starts the worker; the finished jobs."""
    submitted = [worker.submit(*job) for job in jobs]
    worker.start()
    for job in submitted:
        job.future.exception(timeout=10)  # waits for the job; None when it succeeded
    worker.stop()
    return submitted


def test_jobs_of_one_key_run_in_batches_of_at_most_max_batch():
    handler = Recorder()
    worker = ModelWorker({"t": handler}, batched=["t"], max_batch=3)
    jobs = run_all(worker, [(("t",), k) for k in range(7)])
    assert [j.future.result() for j in jobs] == [0, 2, 4, 6, 8, 10, 12]
    assert handler.batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert worker.stats.to_dict() == {"requests": 7, "model_batches": 3, "largest": 3}


def test_sizes_count_toward_max_batch_and_keys_are_not_mixed():
    handler = Recorder()
    worker = ModelWorker({"t": handler}, batched=["t"], max_batch=4)
    run_all(
        worker,
        [
            (("t", "a"), 1, 2),
            (("t", "a"), 2, 2),
            (("t", "a"), 3, 1),
            (("t", "b"), 4, 1),
            (("t", "a"), 5, 1),
        ],
    )
    assert handler.batches == [[1, 2], [3], [4], [5]]


def test_an_endpoint_not_batched_runs_one_job_at_a_time():
    handler = Recorder()
    worker = ModelWorker({"g": handler}, batched=[], max_batch=8)
    run_all(worker, [(("g",), k) for k in range(3)])
    assert handler.batches == [[0], [1], [2]]


def test_a_failing_job_fails_alone_and_its_batch_mates_succeed():
    handler = Recorder()
    worker = ModelWorker({"t": handler}, batched=["t"], max_batch=8)
    jobs = run_all(worker, [(("t",), 1), (("t",), -1), (("t",), 2)])
    assert jobs[0].future.result() == 2
    assert jobs[2].future.result() == 4
    with pytest.raises(ValueError, match="expected a number >= 0, got -1"):
        jobs[1].future.result()
    assert handler.batches == [[1, -1, 2], [1], [-1], [2]]  # the batch, then each alone


def test_every_job_runs_in_the_one_worker_thread():
    handler = Recorder()
    worker = ModelWorker({"t": handler}, batched=["t"], max_batch=2)
    run_all(worker, [(("t",), k) for k in range(6)])
    assert len(handler.threads) == 1
    assert threading.get_ident() not in handler.threads


def test_a_full_queue_refuses_the_next_job():
    worker = ModelWorker({"t": Recorder()}, queue_size=2)
    worker.submit(("t",), 1)
    worker.submit(("t",), 2)
    assert worker.depth == 2
    with pytest.raises(QueueFull, match="2 requests are waiting"):
        worker.submit(("t",), 3)


def test_a_cancelled_job_is_skipped():
    handler = Recorder()
    worker = ModelWorker({"t": handler}, batched=["t"])
    first = worker.submit(("t",), 1)
    assert first.future.cancel()
    (second,) = run_all(worker, [(("t",), 2)])
    assert second.future.result() == 4
    assert handler.batches == [[2]]


def test_warnings_of_a_job_run_alone_become_its_notices():
    import warnings

    def noisy(payloads):
        warnings.warn("prompt: mapped to <unk>: 'é'", UserWarning, stacklevel=1)
        return payloads

    worker = ModelWorker({"n": noisy})
    (job,) = run_all(worker, [(("n",), 1)])
    assert job.notices == ["prompt: mapped to <unk>: 'é'"]
