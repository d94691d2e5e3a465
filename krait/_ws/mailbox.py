"""What a threaded controller shares with the server: queues, marks, the stop flag and hooks.

A :class:`Mailbox` belongs to one :class:`krait.websockets.WebsocketsCtrlBase`. The server
puts incoming messages in and takes outgoing ones out on the reactor; the controller's thread
pops and pushes. Both queues are bounded the same way, by a count and by bytes: past the
pause marks the server stops reading from the client (incoming) or a pushing thread waits
for the client to read (outgoing), and the half-way marks undo that, so a slow side never
makes the other buffer without limit. The mailbox also holds the server's hooks (start the
controller thread, "something to send", "read again") and whether a controller thread runs.

Nothing here knows Twisted: every decision is made from plain values, under one lock.

A thread waiting for an incoming message waits on a bell, not a ``threading.Condition``: a
``queue.SimpleQueue`` of wake-up tokens, one owed to each waiting reader when a message
comes. Both sides of a wake-up are then C code, where a ``Condition`` makes a lock object
and runs a few dozen lines of Python per wait and per notify (a two-thread ping-pong through
the mailbox on one core: 19.2 → 18.1 µs per round trip). A reader that already holds the
lock (a blocking pop inside ``on_in_message``, which runs under it) still waits on the
``Condition``, which releases it.
"""

from __future__ import annotations

import collections
import enum
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

IN_QUEUE_PAUSE_AT = 256
"""Queued incoming messages at which krait stops reading from a threaded connection."""
IN_QUEUE_RESUME_AT = IN_QUEUE_PAUSE_AT // 2
"""Queued incoming messages at which it reads again."""
IN_QUEUE_PAUSE_BYTES = 1024 * 1024
"""Queued incoming bytes at which krait stops reading from a threaded connection."""
IN_QUEUE_RESUME_BYTES = IN_QUEUE_PAUSE_BYTES // 2
"""Queued incoming bytes at which it reads again."""
OUT_QUEUE_HIGH_BYTES = 1024 * 1024
"""Queued outgoing bytes above which ``push_out_message`` waits for the client to read."""
OUT_QUEUE_LOW_BYTES = OUT_QUEUE_HIGH_BYTES // 2
"""Queued outgoing bytes at which waiting pushes go on."""

_SIZED = frozenset({str, bytes, bytearray})

Hook = Callable[[], None]


def _held_here(lock: Any) -> bool:
    """Whether the calling thread holds the re-entrant ``lock`` (``RLock._is_owned``, which
    ``threading.Condition`` relies on too)."""
    return bool(lock._is_owned())


def message_size(message: Any) -> int:
    """About the memory a queued message takes: its length plus an object's overhead."""
    return len(message) + 64 if message.__class__ in _SIZED else 64


class Throttle(enum.Enum):
    """What the server should do about reading after a message was queued."""

    ROOM = "room"
    """Under the pause marks: read on."""
    PAUSE = "pause"
    """Over them while a thread pops: stop reading until a pop brings the queue down."""
    DROPPED = "dropped"
    """Over them and no thread will ever pop: the newest message was dropped; read on, so
    that the client's pings and close still arrive."""


class Mailbox:
    """The locked queues between a threaded controller and its connection."""

    def __init__(self) -> None:
        # Re-entrant: an event-model on_in_message runs under it and may push_out_message.
        self.lock = threading.RLock()
        self._in_ready = threading.Condition(self.lock)  # readers holding the lock wait here
        self._bell: queue.SimpleQueue[None] = queue.SimpleQueue()  # the others, here
        self._bell_readers = 0
        self._lock_readers = 0
        self._out_room = threading.Condition(self.lock)
        self._in: collections.deque[Any] = collections.deque()
        self._in_bytes = 0
        self._out: collections.deque[Any] = collections.deque()
        self._out_bytes = 0
        self._out_waiting = 0
        # Set by the server while it does not read because the incoming queue is full; the
        # pop that brings the queue down to the resume marks clears it and calls on_drained.
        self._reading_paused = False
        self._stopped = threading.Event()
        # Set while no controller thread runs: before it starts, as after it returned.
        self._thread_idle = threading.Event()
        self._thread_idle.set()
        self._start_thread: Hook | None = None
        self._on_out: Hook | None = None
        self._on_drained: Hook | None = None

    def attach(self, *, start_thread: Hook, on_out: Hook, on_drained: Hook) -> None:
        """A server takes the controller: its hooks for the thread, sends and reading.

        Args:
            start_thread: starts the controller thread (``on_start`` calls it).
            on_out: called after every push, from any thread: something waits to be sent.
            on_drained: called, from the popping thread, when a pop brings a paused
                incoming queue down to the resume marks: read again.
        """
        self._start_thread = start_thread
        self._on_out = on_out
        self._on_drained = on_drained

    def detach(self) -> None:
        """The connection closed: nothing more is sent and nobody reads."""
        self._on_out = None
        self._on_drained = None

    # Incoming messages.

    def put_in(self, message: Any) -> None:
        """Queue an incoming message (with :attr:`lock` held, as ``on_in_message`` runs)."""
        self._in.append(message)
        self._in_bytes += message_size(message)

    def notify_readers(self) -> None:
        """Wake threads waiting in :meth:`pop_in` (with :attr:`lock` held)."""
        owed = self._bell_readers - self._bell.qsize()
        for _ in range(owed):
            self._bell.put(None)
        if self._lock_readers:
            self._in_ready.notify_all()

    def wake_readers(self) -> None:
        """Wake threads waiting in :meth:`pop_in`."""
        with self.lock:
            self.notify_readers()

    def pop_in(self, timeout: float | None) -> Any:
        """The oldest incoming message, or None after ``timeout`` seconds or a stop.

        Args:
            timeout: 0 returns at once; None waits until a message comes or a stop.
        """
        if timeout != 0 and _held_here(self.lock):
            return self._pop_in_holding_lock(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self.lock:
                if self._in:
                    message, drained = self._take_in()
                    break
                wait = None if deadline is None else deadline - time.monotonic()
                if timeout == 0 or self._stopped.is_set() or (wait is not None and wait <= 0):
                    return None
                self._bell_readers += 1
            try:
                self._bell.get(timeout=wait)
            except queue.Empty:
                pass
            finally:
                with self.lock:
                    self._bell_readers -= 1
        if drained is not None:
            drained()
        return message

    def _pop_in_holding_lock(self, timeout: float | None) -> Any:
        """:meth:`pop_in` for a thread that holds :attr:`lock` already: it waits on the
        ``Condition``, which releases the lock meanwhile."""
        with self.lock:
            self._lock_readers += 1
            try:
                self._in_ready.wait_for(self._has_message_or_stop, timeout)
            finally:
                self._lock_readers -= 1
            if not self._in:
                return None
            message, drained = self._take_in()
        if drained is not None:
            drained()
        return message

    def _take_in(self) -> tuple[Any, Hook | None]:
        """Pop the oldest incoming message (with :attr:`lock` held; one must be there), and
        the hook to call once the lock is released when that brings a paused queue down."""
        message = self._in.popleft()
        self._in_bytes -= message_size(message)
        drained = None
        if self._reading_paused and self.in_low():
            self._reading_paused = False
            drained = self._on_drained
        return message, drained

    def _has_message_or_stop(self) -> bool:
        return bool(self._in) or self._stopped.is_set()

    def queued_in(self) -> int:
        """How many incoming messages wait (without the lock: a snapshot)."""
        return len(self._in)

    def in_full(self) -> bool:
        """Whether the incoming queue reached a pause mark (exact with :attr:`lock` held)."""
        return len(self._in) >= IN_QUEUE_PAUSE_AT or self._in_bytes >= IN_QUEUE_PAUSE_BYTES

    def in_low(self) -> bool:
        """Whether it is down to both resume marks (exact with :attr:`lock` held)."""
        return len(self._in) <= IN_QUEUE_RESUME_AT and self._in_bytes <= IN_QUEUE_RESUME_BYTES

    def throttle(self, thread_pops: bool) -> Throttle:
        """Decide about reading once a message was queued.

        Args:
            thread_pops: a controller thread is running and will pop the queue.
        """
        with self.lock:
            if not self.in_full():
                return Throttle.ROOM  # popped down meanwhile
            if thread_pops:
                # Set under the lock the pops take, so none can slip between the pause and
                # the pop that ends it.
                self._reading_paused = True
                return Throttle.PAUSE
            message = self._in.pop()
            self._in_bytes -= message_size(message)
            return Throttle.DROPPED

    def forget_pause(self) -> None:
        """The server reads again whatever the queue holds (its thread returned)."""
        with self.lock:
            self._reading_paused = False

    # Outgoing messages.

    def push_out(self, message: Any) -> bool:
        """Queue an outgoing message and tell the server.

        Returns:
            True when a server is attached and the queue is over its high mark: the pusher
            should :meth:`wait_for_room` (unless it is the reactor thread).
        """
        with self.lock:
            self._out.append(message)
            self._out_bytes += message_size(message)
            full = self._out_bytes > OUT_QUEUE_HIGH_BYTES
        on_out = self._on_out
        if on_out is None:
            return False
        on_out()
        return full

    def wait_for_room(self) -> None:
        """Wait until the queue is down to its low mark, the server detached, or a stop."""
        with self.lock:
            self._out_waiting += 1
            try:
                while (
                    self._out_bytes > OUT_QUEUE_LOW_BYTES
                    and self._on_out is not None
                    and not self._stopped.is_set()
                ):
                    self._out_room.wait(1.0)
            finally:
                self._out_waiting -= 1

    def pop_out(self) -> Any:
        """The oldest outgoing message, or None; wakes waiting pushers at the low mark."""
        with self.lock:
            if not self._out:
                return None
            message = self._out.popleft()
            self._out_bytes -= message_size(message)
            if self._out_waiting and self._out_bytes <= OUT_QUEUE_LOW_BYTES:
                self._out_room.notify_all()
            return message

    def queued_out_bytes(self) -> int:
        """About the memory the outgoing queue holds (without the lock: a snapshot)."""
        return self._out_bytes

    def has_out(self) -> bool:
        """Whether outgoing messages wait (read without the lock: a hint)."""
        return bool(self._out)

    # The controller's life.

    def stop(self) -> None:
        """The connection is closing: set the stop flag and wake every waiting thread."""
        self._stopped.set()
        self.wake_all()

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopped.is_set()

    def wake_all(self) -> None:
        """Wake threads waiting in :meth:`pop_in` or :meth:`wait_for_room`."""
        with self.lock:
            self.notify_readers()
            self._out_room.notify_all()

    def request_thread(self) -> bool:
        """Have the attached server start the controller thread.

        Returns:
            False when no server is attached (the caller runs the thread itself).
        """
        start = self._start_thread
        if start is None:
            return False
        start()
        return True

    def thread_started(self) -> None:
        """A controller thread begins."""
        self._thread_idle.clear()

    def thread_returned(self) -> None:
        """The controller thread returned."""
        self._thread_idle.set()

    def wait_thread_returned(self, timeout: float | None) -> bool:
        """Wait until no controller thread runs; True when none does."""
        return self._thread_idle.wait(timeout)
