"""Threaded WebSocket controllers: every hand-off between their threads and the reactor.

A :class:`krait.websockets.WebsocketsCtrlBase` keeps the Krait model: ``on_start`` on the
reactor, then ``on_thread_start`` in a thread of the WebSocket pool, talking to the connection
through the controller's :class:`krait._ws.mailbox.Mailbox`. :class:`ThreadedCtrlProtocol`
wakes the reactor the moment a thread pushes a message (no polling), hands incoming messages
to event-model controllers in the message pool, calls ``on_stop`` exactly once however the
connection ends, and learns that a thread returned from the pool's Deferred, so nothing ever
joins a thread on the reactor.
"""

from __future__ import annotations

import collections
import enum
import threading
from typing import Any

from twisted.logger import Logger
from twisted.python import threadable
from twisted.python.failure import Failure

from krait import _context
from krait._workers import call_in_reactor
from krait._ws.channels import Message, subscriptions_of
from krait._ws.hub import WebsocketsHub
from krait._ws.mailbox import (
    IN_QUEUE_PAUSE_AT,
    IN_QUEUE_PAUSE_BYTES,
    Mailbox,
    Throttle,
    message_size,
)
from krait._ws.protocol import INTERNAL_ERROR, KraitWebSocketProtocol
from krait.websockets import WebsocketsCtrlBase, mailbox_of

log = Logger(namespace="krait.websockets")

DRAIN_BATCH = 64
"""Outgoing messages a connection sends per reactor pass before others get their turn."""


class ControllerPhase(enum.Enum):
    """Which of the controller's ``on_start`` and ``on_stop`` krait has called."""

    NEW = "new"
    STARTED = "started"
    """``on_start`` was called (``on_stop`` is owed)."""
    STOPPED = "stopped"
    """``on_stop`` was called: never again."""


class ThreadLife(enum.Enum):
    """The controller thread (``on_thread_start``) of one connection."""

    NOT_REQUESTED = "not requested"
    """``on_start`` has not asked for it (yet)."""
    RUNNING = "running"
    DONE = "done"
    """It returned, or will never run (not needed, or refused)."""


def uses_event_model(ctrl: WebsocketsCtrlBase) -> bool:
    """True when the controller handles messages in ``on_in_message`` instead of a queue."""
    overridden = type(ctrl).on_in_message is not WebsocketsCtrlBase.on_in_message
    return overridden or not ctrl.use_in_message_queue


def runs_thread(ctrl: WebsocketsCtrlBase) -> bool:
    """False for an event-model controller that left ``on_thread_start`` empty."""
    overridden = type(ctrl).on_thread_start is not WebsocketsCtrlBase.on_thread_start
    return overridden or not uses_event_model(ctrl)


def threads_needed(ctrl: WebsocketsCtrlBase) -> int:
    """WebSocket pool threads a connection may hold: one for the controller's thread.

    Messages for ``on_in_message`` overrides run as short jobs in another pool, so
    ``--ws-threads N`` admits N connections whatever their controllers override.
    """
    return int(runs_thread(ctrl))


def _run_controller_thread(
    ctrl: WebsocketsCtrlBase, mailbox: Mailbox, state: _context.RequestState
) -> None:
    """The body of a controller thread (runs in the pool)."""
    try:
        with _context.activate(state):
            ctrl.on_thread_start()
    finally:
        mailbox.thread_returned()


def _deliver_messages(
    ctrl: WebsocketsCtrlBase, state: _context.RequestState, messages: list[Any]
) -> None:
    """Hand messages to an event-model controller, in order (runs in the pool)."""
    with _context.activate(state):
        for message in messages:
            ctrl.on_in_message_internal(message)


def _always() -> bool:
    return True


class ThreadedCtrlProtocol(KraitWebSocketProtocol):
    """A connection served by a threaded controller.

    Args:
        hub: the hub tracking the connection; its thread slots are already reserved.
        subprotocol: the chosen subprotocol, or None.
        ctrl: the controller.
        state: the upgrade request's state, active in the controller's threads.
    """

    def __init__(
        self,
        hub: WebsocketsHub,
        subprotocol: str | None,
        ctrl: WebsocketsCtrlBase,
        state: _context.RequestState,
    ) -> None:
        super().__init__(hub, subprotocol)
        self.ctrl = ctrl
        self.request_state = state
        self.mailbox: Mailbox = mailbox_of(ctrl)
        self.subscriptions = subscriptions_of(ctrl)
        self.phase = ControllerPhase.NEW
        self.thread = ThreadLife.NOT_REQUESTED
        self._event_model = uses_event_model(ctrl)
        self._runs_thread = runs_thread(ctrl)
        # The flags below are not states of one thing: each tracks its own resource.
        # Whether we hold a thread slot: reserved in accept_upgrade, given back once not
        # needed (possibly before the thread is even requested).
        self._thread_slot = self._runs_thread
        self._plain_internal = (
            type(ctrl).on_in_message_internal is WebsocketsCtrlBase.on_in_message_internal
        )
        self._plain_pop = type(ctrl).pop_out_message is WebsocketsCtrlBase.pop_out_message
        # A drain is asked for and has not run yet (set from any thread, under the lock).
        self._wake_lock = threading.Lock()
        self._drain_scheduled = False
        # Event model: messages waiting for the message pool, and whether a batch is there.
        self._inbox: collections.deque[Any] = collections.deque()
        self._inbox_bytes = 0
        self._dispatching = False
        self._dropping_logged = False

    def describe(self) -> str:
        return f"{type(self.ctrl).__name__} serving {self.peer}"

    def shutdown_hint(self) -> str:
        if self.thread is not ThreadLife.RUNNING:
            return ""
        return (
            " (its on_thread_start never checked should_stop(); a thread that does not return"
            " keeps the process alive)"
        )

    def connection_opened(self) -> None:
        self.phase = ControllerPhase.STARTED
        self.mailbox.attach(
            start_thread=self._thread_start_requested,
            on_out=self._wake,
            on_drained=self._queue_drained,
        )
        try:
            with _context.activate(self.request_state):
                self.ctrl.on_start()
        except Exception:
            log.failure("on_start of {ctrl} raised", ctrl=type(self.ctrl).__name__)
            self.close(INTERNAL_ERROR, "internal server error")
        if self.thread is ThreadLife.NOT_REQUESTED:
            # An on_start override that did not call the base: no on_thread_start, as in
            # the original (the override may run a thread of its own).
            self._release_thread_slot()
        self._drain()
        if self.hub.stopping:
            self.shut_down()

    def message_received(self, message: str | bytes) -> None:
        if not self._event_model:
            if self._plain_internal:
                self.hub.notifier.deliver(self.mailbox, self.ctrl.on_in_message, message)
            else:
                self.ctrl.on_in_message_internal(message)
            if self.mailbox.in_full():
                self._queue_full()
            return
        self._inbox.append(message)
        self._inbox_bytes += message_size(message)
        if len(self._inbox) >= IN_QUEUE_PAUSE_AT or self._inbox_bytes >= IN_QUEUE_PAUSE_BYTES:
            self.set_reading(False)
        self._dispatch()

    def _queue_full(self) -> None:
        """The controller's incoming queue is over its marks (on the reactor)."""
        # A thread that pops too slowly: let TCP hold the rest instead of our memory. No
        # thread that will ever pop: drop what does not fit.
        outcome = self.mailbox.throttle(thread_pops=self.thread is ThreadLife.RUNNING)
        if outcome is Throttle.PAUSE:
            self.set_reading(False)
        elif outcome is Throttle.DROPPED and not self._dropping_logged:
            self._dropping_logged = True
            log.warn(
                "{ctrl}'s thread has returned and its message queue is full: "
                "dropping what {peer} sends",
                ctrl=type(self.ctrl).__name__,
                peer=self.peer,
            )

    def connection_closed(self, code: int | None, reason: str | None) -> None:
        self.mailbox.detach()
        if self.phase is ControllerPhase.STARTED:
            self._stop_controller()
        self._maybe_finished()

    def shut_down(self) -> None:
        if self.phase is ControllerPhase.STARTED:
            self._stop_controller()
        super().shut_down()

    def _thread_start_requested(self) -> None:
        """The base ``on_start`` asks for ``on_thread_start`` (any thread, once counts)."""
        if not threadable.isInIOThread():
            call_in_reactor(self.hub.reactor, self._thread_start_requested)
            return
        if self.thread is not ThreadLife.NOT_REQUESTED or self.closed:
            return
        self.thread = ThreadLife.DONE  # unless it starts below
        if self._runs_thread and not self._thread_slot:
            # Asked for after on_start returned (from a thread of the controller's own).
            if not self.hub.slots.reserve(1):
                log.warn(
                    "{ctrl} asked for its thread after on_start, but all {size} WebSocket "
                    "threads are busy (see --ws-threads)",
                    ctrl=type(self.ctrl).__name__,
                    size=self.hub.slots.size,
                )
                self.close(INTERNAL_ERROR, "server busy")
                return
            self._thread_slot = True
        self._start_thread()

    def _start_thread(self) -> None:
        if not self._runs_thread:
            return
        self.thread = ThreadLife.RUNNING
        self.mailbox.thread_started()
        running = self.hub.thread_pool.run(
            _run_controller_thread, self.ctrl, self.mailbox, self.request_state
        )
        running.addCallbacks(self._thread_returned, self._thread_failed)

    def _thread_returned(self, _: object) -> None:
        # As in the original, the connection stays open until the client closes it: other
        # threads may still push messages to this controller (a broadcast, say).
        self.thread = ThreadLife.DONE
        self._release_thread_slot()
        if not self._event_model:
            self.mailbox.forget_pause()
            self.set_reading(True)  # nobody pops any more: read on, to see pings and the close
        self._maybe_finished()

    def _thread_failed(self, failure: Failure) -> None:
        log.failure(
            "on_thread_start of {ctrl} raised", failure=failure, ctrl=type(self.ctrl).__name__
        )
        self.close(INTERNAL_ERROR, "internal server error")
        self._thread_returned(None)

    def _stop_controller(self) -> None:
        """Call ``on_stop`` (once) and wake a thread waiting for messages."""
        if self.phase is not ControllerPhase.STARTED:
            return
        self.phase = ControllerPhase.STOPPED
        try:
            with _context.activate(self.request_state):
                self.ctrl.on_stop()
        except Exception:
            log.failure("on_stop of {ctrl} raised", ctrl=type(self.ctrl).__name__)
        self.mailbox.wake_all()

    def _queue_drained(self) -> None:
        """The controller popped its queue down to the resume marks: read again (any thread)."""
        call_in_reactor(self.hub.reactor, self.set_reading, True)

    def _wake(self) -> None:
        """The controller's out listener: schedule one drain, from any thread."""
        with self._wake_lock:
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        self.hub.waker.request(self._drain)

    def output_ready(self) -> None:
        self._wake()

    def unsent_bytes(self) -> int:
        return self.mailbox.queued_out_bytes() + super().unsent_bytes()

    def queue_channel_message(self, message: Message) -> None:
        # Behind what the controller pushed, so its thread's messages and the channel's keep
        # their order; on the reactor a push never waits.
        self.mailbox.push_out(message)

    def _drain(self) -> None:
        """Send queued outgoing messages (on the reactor), a bounded batch per pass.

        A thread that pushes without pause must not keep the reactor from everything else,
        and a client that does not read must not make the server buffer without limit: the
        drain stops when the transport is full and goes on when it asks for more.
        """
        with self._wake_lock:
            self._drain_scheduled = False
        pop = self.ctrl.pop_out_message
        # Looked at without the lock, which only the pop needs (unless pop is overridden).
        has_out = self.mailbox.has_out if self._plain_pop else _always
        for _ in range(DRAIN_BATCH):
            if not has_out():
                return
            if not self.writable:
                return  # output_ready() comes back for the rest
            message = pop()
            if message is None:
                return
            self.send(message)
        self._wake()  # more may wait: after the network has had its turn

    def _dispatch(self) -> None:
        """Deliver the waiting messages in the pool, one batch per connection at a time."""
        if self._dispatching or not self._inbox:
            return
        batch = list(self._inbox)
        self._inbox.clear()
        self._inbox_bytes = 0
        self._dispatching = True
        delivering = self.hub.message_pool.run(
            _deliver_messages, self.ctrl, self.request_state, batch
        )
        delivering.addCallbacks(self._dispatched, self._dispatch_failed)

    def _dispatched(self, _: object) -> None:
        self._dispatching = False
        self.set_reading(True)
        self._dispatch()
        self._maybe_finished()

    def _dispatch_failed(self, failure: Failure) -> None:
        log.failure(
            "on_in_message of {ctrl} raised", failure=failure, ctrl=type(self.ctrl).__name__
        )
        self.close(INTERNAL_ERROR, "internal server error")
        self._inbox.clear()
        self._dispatched(None)

    def _release_thread_slot(self) -> None:
        if self._thread_slot:
            self._thread_slot = False
            self.hub.slots.release(1)

    def _maybe_finished(self) -> None:
        if not self.closed or self.thread is ThreadLife.RUNNING or self._dispatching:
            return
        self._release_thread_slot()
        self.mark_finished()
