"""Where threads meet the reactor.

User code (scripts, templates, controllers, WebSocket controller threads) never runs on the
reactor thread. This module owns the thread pools and is the only place that hands work to
threads and results back to the reactor (``callFromThread``).

The pool is krait's own rather than ``twisted.python.threadpool``: a request is one short job,
and on a busy server the cost is in waking threads and passing the GIL back and forth, not in
running a small script. So:

- jobs queued while the reactor handles a batch of events wake a thread once, after the batch
  (``callLater(0)``), instead of one thread per job while the reactor still holds the GIL;
- a job wakes a sleeping thread only when no thread is already looking for work; a thread that
  takes a job and leaves more behind wakes the next one, so a backlog always has a thread
  coming for it even when every running job blocks (a sleeping script never holds up others
  while the pool has threads to spare);
- finished results are collected and handed to the reactor in batches, one wake-up per batch;
- on Linux, pool threads are scheduled as ``SCHED_BATCH``: a thread the reactor wakes then
  waits for the reactor to block instead of preempting it. Preempting gains nothing, because
  the reactor thread holds the GIL: the woken thread could only block on the GIL again, and the
  two extra context switches per wake-up cost more than the rest of a small hand-off. The
  reactor thread keeps the normal policy, so the server answers the network as before.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python import threadable
from twisted.python.failure import Failure

from krait._jobs import (
    JobInterrupted,
    JobSkippedError,
    JobState,
    QueueFullError,
    Ticket,
    set_async_exception,
    skip_reason,
)
from krait._thread_policy import defer_to_running_threads

T = TypeVar("T")

log = Logger(namespace="krait")

_Sink = Callable[[bool, Any], object]
_Outcome = tuple[_Sink, bool, Any]


_Job = tuple[_Sink, contextvars.Context, Callable[..., Any], tuple[Any, ...], Ticket]


class WorkerPool:
    """A named thread pool whose life follows the reactor's.

    Threads start as work needs them, up to ``size``, and sleep between jobs until the pool
    stops. Call :meth:`run` from the reactor thread.

    Args:
        reactor: the reactor the results are delivered to.
        size: the largest number of threads.
        name: the pool's name, shown in thread names.
        join_timeout: seconds to wait for busy threads when the pool stops.
        max_queued: the most jobs that may wait for a thread in :meth:`submit` with
            ``bounded=True`` (None: no bound).
    """

    def __init__(
        self,
        reactor: Any,
        size: int,
        name: str,
        join_timeout: float = 10.0,
        max_queued: int | None = None,
    ) -> None:
        self._reactor = reactor
        self.size = size
        self.name = name
        self.join_timeout = join_timeout
        self.max_queued = max_queued
        self._lock = threading.Lock()
        self._jobs: deque[_Job] = deque()
        self._sleepers: list[threading.Lock] = []
        self._threads: list[threading.Thread] = []
        self._looking = 0
        self._stopping = False
        self._wake_scheduled = False
        self._outcomes: deque[_Outcome] = deque()
        self._delivery_scheduled = False
        self._shutdown_trigger: Any = None

    @property
    def reactor(self) -> Any:
        """The reactor the results are delivered to."""
        return self._reactor

    def start(self) -> None:
        """Accept work (idempotent) and stop the threads when the reactor shuts down."""
        if self._shutdown_trigger is not None:
            return
        self._stopping = False
        self._shutdown_trigger = self._reactor.addSystemEventTrigger(
            "during", "shutdown", self._stop_at_shutdown
        )

    def stop(self, join: bool = True) -> None:
        """Let queued work finish, then end the threads.

        Args:
            join: wait for the threads to end (it blocks while a job still runs); with False
                they end on their own once the work queued now is done.
        """
        if self._shutdown_trigger is None:
            return
        trigger, self._shutdown_trigger = self._shutdown_trigger, None
        self._reactor.removeSystemEventTrigger(trigger)
        self._stop_threads(join)

    def _stop_at_shutdown(self) -> None:
        self._shutdown_trigger = None
        self._stop_threads(join=True)

    def _stop_threads(self, join: bool) -> None:
        with self._lock:
            # Jobs queued since the last wake-up still run: make sure a thread comes for them.
            waiting = self._summon() if self._jobs and self._looking == 0 else None
            self._stopping = True
            threads, self._threads = self._threads, []
            sleepers, self._sleepers = self._sleepers, []
            self._looking += len(sleepers)
        for sleeper in sleepers:
            sleeper.release()
        if waiting is not None:
            waiting.release()
        if join:
            self._join(threads)

    def _join(self, threads: list[threading.Thread]) -> None:
        """Wait for the threads, but not forever: a job that never returns must not keep the
        server from stopping (the threads are daemons, so the process can still exit)."""
        deadline = time.monotonic() + self.join_timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in threads if thread.is_alive()]
        if stuck:
            log.warn(
                "{count} thread(s) of {pool} still busy {timeout}s after the pool began "
                "stopping; leaving them behind: {names}",
                count=len(stuck),
                pool=self.name,
                timeout=self.join_timeout,
                names=", ".join(stuck),
            )

    def run(self, func: Callable[..., T], *args: Any) -> Deferred[T]:
        """Run ``func(*args)`` in the pool, in a copy of the caller's context.

        Returns:
            A Deferred that fires on the reactor thread with the result (or the failure).
        """
        deferred: Deferred[T] = Deferred()
        self.call(func, args, partial(_fire, deferred))
        return deferred

    def call(self, func: Callable[..., Any], args: tuple[Any, ...], sink: _Sink) -> None:
        """Run ``func(*args)`` in the pool, then ``sink(True, result)`` on the reactor thread.

        The cheaper form of :meth:`run` for the request path: no Deferred. ``sink`` gets
        ``(False, failure)`` when ``func`` raised.
        """
        self.submit(func, args, sink)

    def submit(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        sink: _Sink,
        *,
        bounded: bool = False,
        max_wait: float | None = None,
        abandoned: Callable[[], bool] | None = None,
    ) -> Ticket:
        """Like :meth:`call`, with the limits of a request: a bounded queue, a deadline to
        start by, and a test of whether anybody still waits for the result.

        Args:
            func: the job.
            args: its arguments.
            sink: gets ``(True, result)`` or ``(False, failure)`` on the reactor thread; the
                failure of a job dropped before it ran wraps :class:`JobSkippedError`.
            bounded: refuse the job when ``max_queued`` jobs already wait.
            max_wait: seconds the job may wait for a thread before it is dropped.
            abandoned: asked (in the pool thread) just before the job runs; True drops it.

        Returns:
            The job's :class:`Ticket`.

        Raises:
            QueueFullError: ``bounded`` and the queue is full; nothing was queued.
        """
        self.start()
        now = time.monotonic()
        ticket = Ticket(now, None if max_wait is None else now + max_wait, abandoned)
        job: _Job = (sink, contextvars.copy_context(), func, args, ticket)
        with self._lock:
            if bounded and self.max_queued is not None and self._queue_full(self.max_queued):
                raise QueueFullError(f"{len(self._jobs)} jobs already wait for {self.name}")
            self._jobs.append(job)
            if self._wake_scheduled:
                return ticket
            self._wake_scheduled = True
        if threadable.isInIOThread():
            self._reactor.callLater(0, self._wake)
        else:
            self._wake()
        return ticket

    def _queue_full(self, limit: int) -> bool:
        """Whether ``limit`` jobs wait beyond those idle threads take at once (locked)."""
        idle = len(self._sleepers) + self._looking + self.size - len(self._threads)
        return len(self._jobs) >= limit + max(0, idle)

    @property
    def queued(self) -> int:
        """How many jobs wait for a thread now."""
        return len(self._jobs)

    @property
    def busy(self) -> int:
        """How many threads run a job now (neither asleep nor looking for work)."""
        with self._lock:
            return max(0, len(self._threads) - len(self._sleepers) - self._looking)

    def interrupt(self, ticket: Ticket) -> bool:
        """Raise :class:`JobInterrupted` in the thread running ``ticket``'s job.

        The exception arrives at the job's next Python instruction, so a loop of pure
        Python stops; a thread blocked in a C call (``time.sleep``, a socket read) sees it
        only when that call returns.

        Returns:
            True when the job was running and the exception is on its way.
        """
        with self._lock:
            if ticket.state is not JobState.RUNNING or ticket.thread_id is None:
                return False
            sent = set_async_exception(ticket.thread_id, JobInterrupted)
            ticket.interrupted = ticket.interrupted or sent
            return sent

    def _wake(self) -> None:
        """Get a thread looking for the queued jobs, unless one already is."""
        with self._lock:
            self._wake_scheduled = False
            sleeper = self._summon() if self._jobs and self._looking == 0 else None
        if sleeper is not None:
            sleeper.release()

    def _summon(self) -> threading.Lock | None:
        """Get one more thread looking for work (call with the lock held).

        Returns:
            The lock a sleeping thread waits on, for the caller to release once it has let go
            of the pool's lock; None when a new thread was started, or none may start.
        """
        if self._stopping:
            return None
        if self._sleepers:
            self._looking += 1
            return self._sleepers.pop()
        if len(self._threads) < self.size:
            self._looking += 1
            wake = threading.Lock()
            wake.acquire()
            thread = threading.Thread(
                target=self._work,
                args=(wake,),
                name=f"{self.name}-{len(self._threads)}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()
        return None

    def _work(self, wake: threading.Lock) -> None:
        """A thread's loop; it starts counted as looking for work."""
        defer_to_running_threads()
        while True:
            job, sleeper = self._next_job(wake)
            if sleeper is not None:
                sleeper.release()
            if job is not None:
                self._run_job(job)
            elif self._stopping:
                return
            else:
                wake.acquire()

    def _next_job(self, wake: threading.Lock) -> tuple[_Job | None, threading.Lock | None]:
        """Take a job (waking a helper if more wait), or register as sleeping."""
        with self._lock:
            self._looking -= 1
            if not self._jobs:
                if not self._stopping:
                    self._sleepers.append(wake)
                return None, None
            job = self._jobs.popleft()
            sleeper = self._summon() if self._jobs and self._looking == 0 else None
            return job, sleeper

    def _run_job(self, job: _Job) -> None:
        sink, context, func, args, ticket = job
        skipped = skip_reason(ticket)
        if skipped is not None:
            outcome: _Outcome = (sink, False, Failure(JobSkippedError(skipped)))
        else:
            outcome = self._execute(sink, context, func, args, ticket)
        self._outcomes.append(outcome)
        with self._lock:
            self._looking += 1
            if self._delivery_scheduled:
                return
            self._delivery_scheduled = True
        call_in_reactor(self._reactor, self._deliver)

    def _execute(
        self,
        sink: _Sink,
        context: contextvars.Context,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        ticket: Ticket,
    ) -> _Outcome:
        """Run one job; an interruption meant for it never escapes into the pool's loop."""
        with self._lock:
            ticket.thread_id = threading.get_ident()
            ticket.started_at = time.monotonic()
            ticket.state = JobState.RUNNING
        try:
            try:
                outcome: _Outcome = (sink, True, context.run(func, *args))
            except BaseException:
                outcome = (sink, False, Failure())
        except JobInterrupted:  # arrived while the failure above was being recorded
            outcome = (sink, False, Failure(JobInterrupted()))
        self._finish(ticket)
        return outcome

    def _finish(self, ticket: Ticket) -> None:
        """Mark the job done, then drop an interruption that came too late for it.

        ``interrupt`` only raises into a RUNNING job, under the pool's lock: once the state
        is DONE no new one comes, and clearing then discards any still pending.
        """
        while True:
            try:
                with self._lock:
                    ticket.state = JobState.DONE
                    interrupted = ticket.interrupted
                if interrupted:  # a ctypes call per job showed in profiles
                    set_async_exception(threading.get_ident(), None)
                return
            except JobInterrupted:
                continue

    def _deliver(self) -> None:
        """Hand every finished job's outcome to its sink (on the reactor thread)."""
        with self._lock:
            self._delivery_scheduled = False
        outcomes = self._outcomes
        while outcomes:
            sink, succeeded, value = outcomes.popleft()
            try:
                sink(succeeded, value)
            except Exception:
                # One broken sink must not strand the outcomes queued behind it.
                log.failure("error while handing a job's result to the reactor")


def _fire(deferred: Deferred[Any], succeeded: bool, value: Any) -> None:
    if succeeded:
        deferred.callback(value)
    else:
        deferred.errback(value)


def call_in_reactor(reactor: Any, func: Callable[..., Any], *args: Any) -> None:
    """Schedule ``func(*args)`` on the reactor thread from any thread."""
    from_threads: IReactorFromThreads = reactor
    from_threads.callFromThread(func, *args)
