"""The worker pool: jobs run off the reactor, results come back on it, blocking jobs overlap."""

from __future__ import annotations

import contextvars
import os
import sys
import threading
from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from krait._bridge import WorkerPool, defer_to_running_threads

_marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(reactor, 4, "test-pool")
    yield workers
    workers.stop()


def _thread_name() -> str:
    return threading.current_thread().name


def _fail() -> None:
    raise KeyError("from the job")


@pytest_twisted.ensureDeferred
async def test_job_runs_in_a_pool_thread_and_its_result_arrives_on_the_reactor(
    pool: WorkerPool,
) -> None:
    arrived_in: list[str] = []
    result = pool.run(_thread_name)
    result.addCallback(lambda name: arrived_in.append(_thread_name()) or name)
    assert (await result).startswith("test-pool-")
    assert arrived_in == [threading.main_thread().name]


@pytest_twisted.ensureDeferred
async def test_exception_in_a_job_fails_its_deferred(pool: WorkerPool) -> None:
    with pytest.raises(KeyError, match="from the job"):
        await pool.run(_fail)


@pytest_twisted.ensureDeferred
async def test_job_runs_in_a_copy_of_the_callers_context(pool: WorkerPool) -> None:
    token = _marker.set("the caller's")
    try:
        assert await pool.run(_marker.get) == "the caller's"
    finally:
        _marker.reset(token)


def _policy() -> int:
    return os.sched_getscheduler(0)


def _batch_allowed() -> bool:
    """Whether this machine lets a thread lower itself to SCHED_BATCH (a sandbox may not)."""
    allowed: list[bool] = []
    probe = threading.Thread(target=lambda: allowed.append(defer_to_running_threads()))
    probe.start()
    probe.join()
    return allowed == [True]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SCHED_BATCH is Linux's")
@pytest_twisted.ensureDeferred
async def test_pool_threads_do_not_preempt_on_wake_up_but_the_reactor_thread_still_does(
    pool: WorkerPool,
) -> None:
    if not _batch_allowed():
        pytest.skip("this machine refuses sched_setscheduler(SCHED_BATCH) to threads")
    assert await pool.run(_policy) == os.SCHED_BATCH
    assert _policy() == os.SCHED_OTHER


@pytest_twisted.ensureDeferred
async def test_blocking_jobs_run_at_once_up_to_the_pool_size(pool: WorkerPool) -> None:
    """Four jobs that each wait for all four can only finish if they all run together."""
    everyone = threading.Barrier(4)
    results = await defer.gatherResults(
        [pool.run(everyone.wait, 30) for _ in range(4)], consumeErrors=True
    )
    assert sorted(results) == [0, 1, 2, 3]


@pytest_twisted.ensureDeferred
async def test_no_more_threads_than_the_pool_size(pool: WorkerPool) -> None:
    release = threading.Event()
    running: list[str] = []
    lock = threading.Lock()

    def job() -> str:
        with lock:
            running.append(_thread_name())
        release.wait(30)
        return _thread_name()

    jobs = [pool.run(job) for _ in range(10)]
    reactor.callLater(0.05, release.set)  # type: ignore[attr-defined]
    names = await defer.gatherResults(jobs, consumeErrors=True)
    assert len(names) == 10
    assert len(set(names)) <= 4


def test_stop_lets_queued_jobs_finish(pool: WorkerPool) -> None:
    done: list[int] = []
    for number in range(5):
        pool.run(done.append, number)
    pool.stop()
    assert sorted(done) == [0, 1, 2, 3, 4]
