"""The limits a page runs under: a bounded queue, a time to start by, a time to finish by.

A page is user code, and user code may be slow, stuck or flooded with requests. So a page
job is refused with ``503 Service Unavailable`` and ``Retry-After`` when the page pool's queue
is full or when it waited too long for a thread; it is not run at all when its client left
(or its HTTP/2 stream was reset) while it waited; and once it has run for ``page_timeout``
seconds its client gets ``504 Gateway Timeout`` at once, the log shows the line the page is
stuck on, and the pool raises an exception in its thread to stop it (a pure-Python loop stops
at once; a call blocked in C stops when it returns).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request

from krait._answers import send_error, write_error
from krait._jobs import (
    JobInterrupted,
    JobSkippedError,
    JobState,
    QueueFullError,
    Ticket,
    running_stack,
)
from krait._twisted_compat import is_abandoned
from krait._workers import WorkerPool

log = Logger(namespace="krait")

RETRY_AFTER = b"1"
"""Seconds a refused client is asked to wait (RFC 9110 §10.2.3)."""


@dataclass(frozen=True)
class PageLimits:
    """How long and how many pages may wait and run.

    Attributes:
        max_queued: page jobs that may wait for a thread; more get 503.
        max_queue_time: seconds a job may wait for a thread before it gets 503 unrun.
        page_timeout: seconds a page may run before its client gets 504 (0: no limit).
    """

    max_queued: int = 1024
    max_queue_time: float = 30.0
    page_timeout: float = 60.0


_Sink = Callable[[bool, Any], object]


@dataclass(eq=False, slots=True)
class _Watched:
    """A page the guard keeps an eye on until it is done."""

    request: Request
    what: str
    submitted: float
    ticket: Ticket | None = None


class PageGuard:
    """Runs page jobs in the pool within :class:`PageLimits` (on the reactor thread).

    Every page has the same two limits, counted from its submission, so pages reach each
    limit in the order they came. The guard keeps the pages in flight in two insertion-ordered
    dicts and arms one reactor timer for the oldest page's next deadline: a page costs two dict
    entries, not two ``callLater`` timers to create and cancel (that showed in a profile).

    Args:
        pool: the page pool.
        reactor: for the page timer.
        limits: the limits.
    """

    def __init__(self, pool: WorkerPool, reactor: Any, limits: PageLimits) -> None:
        self.pool = pool
        self.reactor = reactor
        self.limits = limits
        pool.max_queued = limits.max_queued
        self._queue_watch: dict[_Watched, None] = {}
        self._time_watch: dict[_Watched, None] = {}
        self._timer: Any = None
        self._kill_after = 0.0
        self._on_stuck: Callable[[str, float], object] | None = None

    def watch_stuck_pages(
        self, kill_after: float, on_stuck: Callable[[str, float], object]
    ) -> None:
        """Call ``on_stuck(what, kill_after)`` for a page still running ``kill_after``
        seconds after it started, although its 504 stopped it (a worker process then asks to
        be replaced: see ``--page-kill-timeout``)."""
        self._kill_after = kill_after
        self._on_stuck = on_stuck

    def run(
        self,
        request: Request,
        what: str,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        sink: _Sink,
    ) -> None:
        """Run ``func(*args)`` for ``request`` and hand its outcome to ``sink``, or answer
        503/504 for it; ``what`` names the page in the log."""
        watched = _Watched(request, what, self.reactor.seconds())
        try:
            watched.ticket = self.pool.submit(
                func,
                args,
                partial(self._done, watched, sink),
                bounded=True,
                max_wait=self.limits.max_queue_time,
                abandoned=partial(is_abandoned, request),
            )
        except QueueFullError:
            log.warn(
                "503 for {what}: {count} pages already wait for a thread (see --page-queue)",
                what=what,
                count=self.pool.queued,
            )
            send_unavailable(request)
            return
        self._queue_watch[watched] = None
        if self.limits.page_timeout > 0:
            self._time_watch[watched] = None
        if self._timer is None:
            self._arm()

    def _done(self, watched: _Watched, sink: _Sink, succeeded: bool, value: Any) -> None:
        self._queue_watch.pop(watched, None)
        self._time_watch.pop(watched, None)
        if not self._queue_watch and not self._time_watch and self._timer is not None:
            # Nothing left to watch: an idle server keeps no timer (and a test no dirty reactor).
            self._timer.cancel()
            self._timer = None
        if succeeded or not isinstance(value, Failure):
            sink(succeeded, value)
        elif isinstance(value.value, JobSkippedError):
            if value.value.reason == "expired":
                self._waited_too_long(watched)
        elif value.check(JobInterrupted):
            log.info("{what} was stopped after its time ran out", what=watched.what)
        else:
            sink(succeeded, value)

    def _arm(self) -> None:
        """Set the timer for the earliest deadline of the pages in flight (if any)."""
        deadlines = []
        if self._queue_watch:
            deadlines.append(next(iter(self._queue_watch)).submitted + self.limits.max_queue_time)
        if self._time_watch:
            deadlines.append(next(iter(self._time_watch)).submitted + self.limits.page_timeout)
        if deadlines:
            delay = max(0.0, min(deadlines) - self.reactor.seconds())
            self._timer = self.reactor.callLater(delay, self._sweep)

    def _sweep(self) -> None:
        """Act on every page past a limit, then arm the timer for the next deadline."""
        self._timer = None
        now = self.reactor.seconds()
        for watched in _expired(self._queue_watch, now - self.limits.max_queue_time):
            self._waited_too_long(watched)
        for watched in _expired(self._time_watch, now - self.limits.page_timeout):
            self._timed_out(watched)
        self._arm()

    def _waited_too_long(self, watched: _Watched) -> None:
        """The queue-time limit passed: a job still waiting gets 503 (and will not run)."""
        ticket, request = watched.ticket, watched.request
        if (ticket is not None and ticket.state is not JobState.QUEUED) or is_abandoned(request):
            return
        log.warn(
            "503 for {what}: it waited {seconds}s for a thread (see --threads and "
            "--page-queue-time)",
            what=watched.what,
            seconds=self.limits.max_queue_time,
        )
        send_unavailable(request)

    def _timed_out(self, watched: _Watched) -> None:
        ticket = watched.ticket
        if ticket is None:
            return
        stack = running_stack(ticket)
        if ticket.state is JobState.DONE:
            return
        log.error(
            "504 for {what}: the page ran longer than {seconds}s (see --page-timeout); "
            "it is stopped where it stands:\n{stack}",
            what=watched.what,
            seconds=self.limits.page_timeout,
            stack=stack or "(it had not started yet)\n",
        )
        if not is_abandoned(watched.request):
            send_error(
                watched.request, 504, f"the page ran longer than {self.limits.page_timeout}s"
            )
        self.pool.interrupt(ticket)
        if self._on_stuck is not None:
            grace = max(0.0, self._kill_after - self.limits.page_timeout)
            self.reactor.callLater(grace, self._check_stuck, watched.what, ticket)

    def _check_stuck(self, what: str, ticket: Ticket) -> None:
        if ticket.state is not JobState.DONE and self._on_stuck is not None:
            self._on_stuck(what, self._kill_after)


def _expired(watch: dict[_Watched, None], submitted_by: float) -> list[_Watched]:
    """Take the pages submitted at or before ``submitted_by`` out of ``watch`` (oldest first)."""
    expired = []
    for watched in watch:
        if watched.submitted > submitted_by:
            break
        expired.append(watched)
    for watched in expired:
        del watch[watched]
    return expired


def send_unavailable(request: Request) -> None:
    """Answer 503 with Retry-After and finish, unless the client is gone."""
    if is_abandoned(request):
        return
    body = write_error(request, 503, "", "the server is busy: try again in a moment")
    request.setHeader(b"retry-after", RETRY_AFTER)
    request.write(body)
    request.finish()
