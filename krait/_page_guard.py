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


class PageGuard:
    """Runs page jobs in the pool within :class:`PageLimits` (on the reactor thread).

    Args:
        pool: the page pool.
        reactor: for the page timers.
        limits: the limits.
    """

    def __init__(self, pool: WorkerPool, reactor: Any, limits: PageLimits) -> None:
        self.pool = pool
        self.reactor = reactor
        self.limits = limits
        pool.max_queued = limits.max_queued
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
        timer: list[Any] = []
        try:
            ticket = self.pool.submit(
                func,
                args,
                partial(self._done, request, what, timer, sink),
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
        timer.append(
            self.reactor.callLater(
                self.limits.max_queue_time, self._waited_too_long, request, what, ticket
            )
        )
        if self.limits.page_timeout > 0:
            timer.append(
                self.reactor.callLater(
                    self.limits.page_timeout, self._timed_out, request, what, ticket
                )
            )

    def _done(
        self,
        request: Request,
        what: str,
        timer: list[Any],
        sink: _Sink,
        succeeded: bool,
        value: Any,
    ) -> None:
        for call in timer:
            if call.active():
                call.cancel()
        if succeeded or not isinstance(value, Failure):
            sink(succeeded, value)
        elif isinstance(value.value, JobSkippedError):
            if value.value.reason == "expired":
                self._waited_too_long(request, what, None)
        elif value.check(JobInterrupted):
            log.info("{what} was stopped after its time ran out", what=what)
        else:
            sink(succeeded, value)

    def _waited_too_long(self, request: Request, what: str, ticket: Ticket | None) -> None:
        """The queue-time limit passed: a job still waiting gets 503 (and will not run)."""
        if (ticket is not None and ticket.state is not JobState.QUEUED) or is_abandoned(request):
            return
        log.warn(
            "503 for {what}: it waited {seconds}s for a thread (see --threads and "
            "--page-queue-time)",
            what=what,
            seconds=self.limits.max_queue_time,
        )
        send_unavailable(request)

    def _timed_out(self, request: Request, what: str, ticket: Ticket) -> None:
        stack = running_stack(ticket)
        if ticket.state is JobState.DONE:
            return
        log.error(
            "504 for {what}: the page ran longer than {seconds}s (see --page-timeout); "
            "it is stopped where it stands:\n{stack}",
            what=what,
            seconds=self.limits.page_timeout,
            stack=stack or "(it had not started yet)\n",
        )
        if not is_abandoned(request):
            send_error(request, 504, f"the page ran longer than {self.limits.page_timeout}s")
        self.pool.interrupt(ticket)
        if self._on_stuck is not None:
            grace = max(0.0, self._kill_after - self.limits.page_timeout)
            self.reactor.callLater(grace, self._check_stuck, what, ticket)

    def _check_stuck(self, what: str, ticket: Ticket) -> None:
        if ticket.state is not JobState.DONE and self._on_stuck is not None:
            self._on_stuck(what, self._kill_after)


def send_unavailable(request: Request) -> None:
    """Answer 503 with Retry-After and finish, unless the client is gone."""
    if is_abandoned(request):
        return
    body = write_error(request, 503, "", "the server is busy: try again in a moment")
    request.setHeader(b"retry-after", RETRY_AFTER)
    request.write(body)
    request.finish()
