"""The worker pool: jobs run off the reactor, results come back on it, blocking jobs overlap."""

from __future__ import annotations

import contextvars
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from krait._jobs import running_stack
from krait._thread_policy import defer_to_running_threads
from krait._workers import (
    JobInterrupted,
    JobSkippedError,
    JobState,
    QueueFullError,
    WorkerPool,
)

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


def _collector() -> tuple[list[tuple[bool, object]], Callable[[bool, object], None]]:
    outcomes: list[tuple[bool, object]] = []
    return outcomes, lambda ok, value: outcomes.append((ok, value))


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await deferLater(reactor, 0.01, lambda: None)


@pytest_twisted.ensureDeferred
async def test_a_bounded_submit_is_refused_once_the_queue_is_full() -> None:
    pool = WorkerPool(reactor, 1, "bounded", max_queued=2)
    release = threading.Event()
    try:
        outcomes, sink = _collector()
        pool.submit(release.wait, (30,), sink, bounded=True)
        await _until(lambda: pool.queued == 0)  # the one thread took it
        pool.submit(release.wait, (30,), sink, bounded=True)
        pool.submit(release.wait, (30,), sink, bounded=True)
        with pytest.raises(QueueFullError):
            pool.submit(release.wait, (30,), sink, bounded=True)
        pool.submit(release.wait, (30,), sink)  # unbounded work (templates, WebSockets) queues
        release.set()
        await _until(lambda: len(outcomes) == 4)
        assert [ok for ok, _ in outcomes] == [True] * 4
    finally:
        release.set()
        pool.stop()


@pytest_twisted.ensureDeferred
async def test_a_job_that_waited_past_its_deadline_is_dropped_unrun() -> None:
    pool = WorkerPool(reactor, 1, "deadline")
    release = threading.Event()
    ran: list[str] = []
    try:
        outcomes, sink = _collector()
        pool.submit(release.wait, (30,), lambda ok, value: None)
        pool.submit(ran.append, ("late",), sink, max_wait=0.05)
        await deferLater(reactor, 0.2, lambda: None)
        release.set()
        await _until(lambda: bool(outcomes))
        ok, failure = outcomes[0]
        assert not ok
        assert isinstance(failure, Failure)
        assert isinstance(failure.value, JobSkippedError)
        assert failure.value.reason == "expired"
        assert ran == []
    finally:
        release.set()
        pool.stop()


@pytest_twisted.ensureDeferred
async def test_a_job_whose_client_left_is_dropped_unrun(pool: WorkerPool) -> None:
    ran: list[str] = []
    outcomes, sink = _collector()
    pool.submit(ran.append, ("x",), sink, abandoned=lambda: True)
    await _until(lambda: bool(outcomes))
    failure = outcomes[0][1]
    assert isinstance(failure, Failure)
    assert isinstance(failure.value, JobSkippedError)
    assert failure.value.reason == "abandoned"
    assert ran == []


def _spin_forever() -> None:
    while True:
        pass


@pytest_twisted.ensureDeferred
async def test_interrupt_stops_a_runaway_job_and_its_thread_serves_again() -> None:
    pool = WorkerPool(reactor, 1, "runaway")
    try:
        outcomes, sink = _collector()
        ticket = pool.submit(_spin_forever, (), sink)
        await _until(lambda: ticket.state is JobState.RUNNING)
        assert "_spin_forever" in running_stack(ticket)
        assert pool.interrupt(ticket)
        await _until(lambda: bool(outcomes))
        failure = outcomes[0][1]
        assert isinstance(failure, Failure)
        assert failure.check(JobInterrupted)
        assert ticket.state is JobState.DONE
        assert not pool.interrupt(ticket)
        assert await pool.run(_thread_name) == "runaway-0"
    finally:
        pool.stop()


@pytest_twisted.ensureDeferred
async def test_interrupts_racing_the_end_of_jobs_never_break_the_pool() -> None:
    """Interrupting jobs as they finish: each still reports once, and the pool goes on."""
    pool = WorkerPool(reactor, 2, "racing")
    try:
        outcomes, sink = _collector()
        tickets = [pool.submit(sum, (range(2000),), sink) for _ in range(300)]
        while not all(t.state is JobState.DONE for t in tickets):
            for ticket in tickets:
                pool.interrupt(ticket)
            await deferLater(reactor, 0, lambda: None)
        await _until(lambda: len(outcomes) == 300)
        assert all(
            ok or (isinstance(value, Failure) and value.check(JobInterrupted))
            for ok, value in outcomes
        )
        assert await pool.run(sum, range(10)) == 45
    finally:
        pool.stop()
