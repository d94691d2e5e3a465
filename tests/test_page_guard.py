"""PageGuard in process: one timer for every page in flight, 503 and 504 at their deadlines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from shell import make_request, wire
from twisted.internet.task import Clock

from krait._jobs import JobState, Ticket
from krait._page_guard import PageGuard, PageLimits
from krait._workers import WorkerPool


class _HeldPool:
    """Keeps the jobs it is given; the test decides when they start and end."""

    max_queued: int | None = None
    queued = 0

    def __init__(self) -> None:
        self.jobs: list[tuple[Ticket, Callable[[bool, Any], object]]] = []
        self.interrupted: list[Ticket] = []

    def submit(self, func: Any, args: Any, sink: Callable[[bool, Any], object], **_: Any) -> Ticket:
        ticket = Ticket(0.0)
        self.jobs.append((ticket, sink))
        return ticket

    def interrupt(self, ticket: Ticket) -> bool:
        self.interrupted.append(ticket)
        return True

    def finish(self, index: int) -> None:
        ticket, sink = self.jobs[index]
        ticket.state = JobState.DONE
        sink(True, "result")


def guard(limits: PageLimits) -> tuple[PageGuard, _HeldPool, Clock]:
    pool, clock = _HeldPool(), Clock()
    return PageGuard(cast(WorkerPool, pool), clock, limits), pool, clock


def test_many_pages_share_one_timer() -> None:
    page_guard, pool, clock = guard(PageLimits(max_queue_time=5, page_timeout=10))
    for _ in range(100):
        page_guard.run(make_request(), "/p", print, (), lambda ok, value: None)
    assert len(clock.getDelayedCalls()) == 1
    for index in range(100):
        pool.finish(index)
    assert clock.getDelayedCalls() == []  # nothing left to watch: no timer either


def test_a_page_still_queued_at_its_limit_gets_503_and_later_ones_wait_for_theirs() -> None:
    page_guard, _pool, clock = guard(PageLimits(max_queue_time=5, page_timeout=0))
    first, second = make_request(), make_request()
    page_guard.run(first, "/a", print, (), lambda ok, value: None)
    clock.advance(2)
    page_guard.run(second, "/b", print, (), lambda ok, value: None)
    clock.advance(3)
    assert wire(first).startswith(b"HTTP/1.1 503 ")
    assert not second.finished
    clock.advance(2)
    assert wire(second).startswith(b"HTTP/1.1 503 ")


def test_a_page_running_past_its_timeout_gets_504_and_is_interrupted() -> None:
    page_guard, pool, clock = guard(PageLimits(max_queue_time=5, page_timeout=10))
    request, done = make_request(), make_request()
    page_guard.run(request, "/spin", print, (), lambda ok, value: None)
    page_guard.run(done, "/fast", print, (), lambda ok, value: None)
    pool.jobs[0][0].state = JobState.RUNNING
    pool.finish(1)
    clock.advance(10)
    assert wire(request).startswith(b"HTTP/1.1 504 ")
    assert pool.interrupted == [pool.jobs[0][0]]
    assert clock.getDelayedCalls() == []


def test_a_finished_page_gets_its_result_and_no_timer_answer() -> None:
    page_guard, pool, clock = guard(PageLimits(max_queue_time=5, page_timeout=10))
    results: list[object] = []
    page_guard.run(make_request(), "/p", print, (), lambda ok, value: results.append(value))
    pool.finish(0)
    clock.advance(20)
    assert results == ["result"]
    assert pool.interrupted == []
