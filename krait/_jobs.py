"""A job handed to a worker pool: its ticket, its life, and the ways it may not run.

Plain values and two helpers that act on threads (nothing here touches the reactor): the pool
in :mod:`krait._workers` creates and updates the tickets; the request path reads them to show
where a stuck page is, and to stop it.
"""

from __future__ import annotations

import ctypes
import enum
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass


class QueueFullError(RuntimeError):
    """The pool already holds as many waiting jobs as it may: answer 503, do not queue."""


class JobSkippedError(RuntimeError):
    """A job was dropped before it ran: it waited too long, or its client is gone.

    Attributes:
        reason: ``"expired"`` (it waited past its deadline) or ``"abandoned"`` (nobody waits
            for its result any more).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"the job was not run: {reason}")
        self.reason = reason


class JobInterrupted(BaseException):
    """Raised inside a job's thread by :meth:`WorkerPool.interrupt` (a page past its time).

    A BaseException, as KeyboardInterrupt is: a page's own ``except Exception`` must not
    swallow it and spin on.
    """


class JobState(enum.Enum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


@dataclass(eq=False)
class Ticket:
    """One job handed to a pool: what the reactor side may ask about it while it runs.

    Attributes:
        queued_at: ``time.monotonic()`` when it was queued.
        deadline: the monotonic time after which it is dropped if it has not started yet.
        abandoned: called by the thread about to run it; True drops it (its client left).
        state: queued, running or done.
        thread_id: the ident of the thread running it, once it runs.
        started_at: monotonic time it started running.
        interrupted: :class:`JobInterrupted` was sent to its thread (then the thread clears
            a late one once the job is done; a job never interrupted skips that call).
    """

    queued_at: float
    deadline: float | None = None
    abandoned: Callable[[], bool] | None = None
    state: JobState = JobState.QUEUED
    thread_id: int | None = None
    started_at: float | None = None
    interrupted: bool = False


def skip_reason(ticket: Ticket) -> str | None:
    """Why a job about to run should not (runs in the pool thread)."""
    if ticket.deadline is not None and time.monotonic() > ticket.deadline:
        return "expired"
    if ticket.abandoned is not None and ticket.abandoned():
        return "abandoned"
    return None


def set_async_exception(thread_id: int, exception: type[BaseException] | None) -> bool:
    """Have ``exception`` raised in the thread ``thread_id`` (None clears a pending one)."""
    target = ctypes.c_ulong(thread_id)
    payload = ctypes.py_object(exception) if exception is not None else None
    changed = int(ctypes.pythonapi.PyThreadState_SetAsyncExc(target, payload))
    return changed == 1


def running_stack(ticket: Ticket) -> str:
    """Where the thread running ``ticket``'s job is now, as a formatted stack ('' when the
    job does not run)."""
    thread_id = ticket.thread_id
    frame = sys._current_frames().get(thread_id) if thread_id is not None else None
    if ticket.state is not JobState.RUNNING or frame is None:
        return ""
    return "".join(traceback.format_stack(frame))
