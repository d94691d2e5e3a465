"""Threaded WebSocket controllers: every hand-off between their threads and the reactor.

A :class:`krait.websockets.WebsocketsCtrlBase` keeps the Krait model: ``on_start`` on the
reactor, then ``on_thread_start`` in a thread of the WebSocket pool, talking to the connection
through the controller's locked queues. This module wakes the reactor the moment a thread
pushes a message (no polling), hands incoming messages to event-model controllers in the pool,
calls ``on_stop`` exactly once however the connection ends, and learns that a thread returned
from the pool's Deferred, so nothing ever joins a thread on the reactor.

:func:`accept_upgrade` is the entry point: it takes an upgrade the route target accepted and
hands the connection to the protocol that matches the controller.
"""

from __future__ import annotations

import collections
import threading
import weakref
from collections.abc import Callable
from typing import Any

from twisted.logger import Logger
from twisted.python import threadable
from twisted.python.failure import Failure

from krait import _context
from krait._bridge import WorkerPool, call_in_reactor
from krait._ws_async import PAUSE_READING_AT, AsyncCtrlProtocol
from krait._ws_handshake import HandshakeRefusal, WebsocketsSettings
from krait._ws_hub import WebsocketsHub
from krait._ws_protocol import INTERNAL_ERROR, KraitWebSocketProtocol
from krait._ws_upgrade import refuse, take_over, upgrade_refusal
from krait.websockets import (
    IN_QUEUE_PAUSE_BYTES,
    WebsocketsAsyncCtrlBase,
    WebsocketsCtrlBase,
    message_size,
)

log = Logger(namespace="krait.websockets")

DRAIN_BATCH = 64
"""Outgoing messages a connection sends per reactor pass before others get their turn."""


class ReactorWaker:
    """Runs, on the reactor, the drains that controller threads ask for.

    Waking the reactor costs a system call and a loop iteration. While one batch of drains
    runs, threads that ask again only join the next batch, which runs straight after.

    Args:
        reactor: the reactor to wake.
    """

    BATCHES_PER_WAKE_UP = 8

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._lock = threading.Lock()
        self._pending: list[Callable[[], None]] = []
        self._scheduled = False

    def request(self, drain: Callable[[], None]) -> None:
        """Have ``drain`` called on the reactor soon (from any thread)."""
        with self._lock:
            self._pending.append(drain)
            if self._scheduled:
                return
            self._scheduled = True
        call_in_reactor(self._reactor, self._run)

    def _run(self) -> None:
        for _ in range(self.BATCHES_PER_WAKE_UP):
            with self._lock:
                pending, self._pending = self._pending, []
                if not pending:
                    self._scheduled = False
                    return
            for drain in pending:
                drain()
        # Still busy: let the reactor serve the network before the next batches.
        call_in_reactor(self._reactor, self._run)


class InboxNotifier:
    """Wakes the controller threads that got messages during one reactor pass, after it.

    Waking a thread while the reactor still holds the GIL makes it block again at once; waking
    it when the reactor is about to wait for the network lets it run straight away.

    Args:
        reactor: the reactor whose passes are batched.
    """

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._pending: dict[int, WebsocketsCtrlBase] = {}
        self._scheduled = False

    def deliver(self, ctrl: WebsocketsCtrlBase, message: Any) -> None:
        """Queue ``message`` for ``ctrl`` now and wake its thread after this pass (reactor)."""
        with ctrl._lock:
            ctrl.on_in_message(message)
        self._pending[id(ctrl)] = ctrl
        if not self._scheduled:
            self._scheduled = True
            self._reactor.callLater(0, self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        pending = list(self._pending.values())
        self._pending.clear()
        for ctrl in pending:
            ctrl._wake_readers()


_notifiers: weakref.WeakKeyDictionary[Any, InboxNotifier] = weakref.WeakKeyDictionary()

_hubs: weakref.WeakKeyDictionary[WorkerPool, WebsocketsHub] = weakref.WeakKeyDictionary()
_wakers: weakref.WeakKeyDictionary[WebsocketsHub, ReactorWaker] = weakref.WeakKeyDictionary()


def hub_for(pool: WorkerPool, reactor: Any, settings: WebsocketsSettings) -> WebsocketsHub:
    """The hub of ``pool``, made on first use with ``settings``."""
    hub = _hubs.get(pool)
    if hub is None:
        hub = _hubs[pool] = WebsocketsHub(reactor, pool.size, settings)
        _wakers[hub] = ReactorWaker(reactor)
    return hub


def accept_upgrade(
    request: Any,
    ws_response: Any,
    ws_pool: WorkerPool | None,
    state: _context.RequestState,
    settings: WebsocketsSettings | None = None,
    message_pool: WorkerPool | None = None,
) -> None:
    """Complete an upgrade the route target accepted, or refuse it with an HTTP error.

    Args:
        request: the twisted.web request still holding the connection.
        ws_response: the target's :class:`krait.websockets.WebsocketsResponse`.
        ws_pool: the WebSocket thread pool: one thread per controller thread.
        state: the upgrade request's krait state, active again in the controller's code.
        settings: limits and timeouts; the first upgrade of a pool fixes them.
        message_pool: the pool that runs ``on_in_message`` overrides, a short job per batch
            of messages (no thread is held per connection); ``ws_pool`` when None.
    """
    settings = settings or WebsocketsSettings()
    refusal = upgrade_refusal(request, settings)
    if refusal is None and ws_pool is None:
        refusal = HandshakeRefusal(503, "Service Unavailable", "no WebSocket thread pool")
    if refusal is not None:
        refuse(request, refusal)
        return
    assert ws_pool is not None
    hub = hub_for(ws_pool, request.channel.site.reactor, settings)
    protocol = _protocol_for(request, ws_response, ws_pool, message_pool or ws_pool, state, hub)
    if protocol is not None:
        take_over(request, protocol)


def _protocol_for(
    request: Any,
    ws_response: Any,
    ws_pool: WorkerPool,
    message_pool: WorkerPool,
    state: _context.RequestState,
    hub: WebsocketsHub,
) -> KraitWebSocketProtocol | None:
    """The protocol for the response's controller, or None after refusing the upgrade."""
    ctrl = ws_response.controller
    chosen = ws_response.protocol
    if hub.stopping:
        refuse(request, HandshakeRefusal(503, "Service Unavailable", "the server is stopping"))
        return None
    if isinstance(ctrl, WebsocketsAsyncCtrlBase):
        return AsyncCtrlProtocol(hub, chosen, ctrl, state)
    if not isinstance(ctrl, WebsocketsCtrlBase):
        refuse(
            request,
            HandshakeRefusal(
                500,
                "Internal Server Error",
                "krait.websockets.response.controller must be a WebsocketsCtrlBase or "
                f"WebsocketsAsyncCtrlBase instance, not {type(ctrl).__name__}",
            ),
        )
        return None
    protocol = ThreadedCtrlProtocol(hub, chosen, ctrl, state, ws_pool, message_pool)
    if not hub.slots.reserve(threads_needed(ctrl)):
        refuse(
            request,
            HandshakeRefusal(
                503,
                "Service Unavailable",
                f"all {hub.slots.size} WebSocket threads are busy (see --ws-threads)",
                (("Retry-After", "1"),),
            ),
        )
        return None
    return protocol


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


def _run_controller_thread(ctrl: WebsocketsCtrlBase, state: _context.RequestState) -> None:
    """The body of a controller thread (runs in the pool)."""
    try:
        with _context.activate(state):
            ctrl.on_thread_start()
    finally:
        ctrl._thread_done.set()


def _deliver_messages(
    ctrl: WebsocketsCtrlBase, state: _context.RequestState, messages: list[Any]
) -> None:
    """Hand messages to an event-model controller, in order (runs in the pool)."""
    with _context.activate(state):
        for message in messages:
            ctrl.on_in_message_internal(message)


class ThreadedCtrlProtocol(KraitWebSocketProtocol):
    """A connection served by a threaded controller.

    Args:
        hub: the hub tracking the connection; its thread slots are already reserved.
        subprotocol: the chosen subprotocol, or None.
        ctrl: the controller.
        state: the upgrade request's state, active in the controller's threads.
        pool: the WebSocket thread pool, for the controller's thread.
        message_pool: the pool that hands messages to ``on_in_message`` overrides.
    """

    def __init__(
        self,
        hub: WebsocketsHub,
        subprotocol: str | None,
        ctrl: WebsocketsCtrlBase,
        state: _context.RequestState,
        pool: WorkerPool,
        message_pool: WorkerPool,
    ) -> None:
        super().__init__(hub, subprotocol)
        self.ctrl = ctrl
        self.request_state = state
        self.pool = pool
        self.message_pool = message_pool
        self._event_model = uses_event_model(ctrl)
        self._runs_thread = runs_thread(ctrl)
        # The pool thread reserved in accept_upgrade, given back once not needed.
        self._thread_slot = self._runs_thread
        self._thread_requested = False
        self._waker = _wakers[hub]
        self._notifier = _notifiers.setdefault(hub, InboxNotifier(hub.reactor))
        self._plain_internal = (
            type(ctrl).on_in_message_internal is WebsocketsCtrlBase.on_in_message_internal
            and ctrl._in_listener is None
        )
        self._plain_pop = type(ctrl).pop_out_message is WebsocketsCtrlBase.pop_out_message
        self._wake_lock = threading.Lock()
        self._drain_scheduled = False
        self._inbox: collections.deque[Any] = collections.deque()
        self._inbox_bytes = 0
        self._dropping_logged = False
        self._dispatching = False
        self._thread_running = False
        self._started = False
        self._stopped = False
        self._closed = False

    def describe(self) -> str:
        return f"{type(self.ctrl).__name__} serving {self.peer}"

    def shutdown_hint(self) -> str:
        if not self._thread_running:
            return ""
        return (
            " (its on_thread_start never checked should_stop(); a thread that does not return"
            " keeps the process alive)"
        )

    def connection_opened(self) -> None:
        self._started = True
        self.ctrl._thread_starter = self._thread_start_requested
        self.ctrl._out_listener = self._wake
        self.ctrl._in_drained_listener = self._queue_drained
        try:
            with _context.activate(self.request_state):
                self.ctrl.on_start()
        except Exception:
            log.failure("on_start of {ctrl} raised", ctrl=type(self.ctrl).__name__)
            self.close(INTERNAL_ERROR, "internal server error")
        if not self._thread_requested:
            # An on_start override that did not call the base: no on_thread_start, as in
            # the original (the override may run a thread of its own).
            self._release_thread_slot()
        self._drain()
        if self.hub.stopping:
            self.shut_down()

    def message_received(self, message: str | bytes) -> None:
        if not self._event_model:
            if self._plain_internal:
                self._notifier.deliver(self.ctrl, message)
            else:
                self.ctrl.on_in_message_internal(message)
            if self.ctrl._in_queue_full():
                self._queue_full()
            return
        self._inbox.append(message)
        self._inbox_bytes += message_size(message)
        if len(self._inbox) >= PAUSE_READING_AT or self._inbox_bytes >= IN_QUEUE_PAUSE_BYTES:
            self.set_reading(False)
        self._dispatch()

    def _queue_full(self) -> None:
        """The controller's incoming queue is over its marks (on the reactor)."""
        ctrl = self.ctrl
        with ctrl._lock:
            if not ctrl._in_queue_full():
                return  # popped down meanwhile
            if self._thread_running:
                # Its thread pops too slowly: let TCP hold the rest instead of our memory.
                # The pop that brings the queue down again resumes reading (the flag is set
                # under the lock the pops take, so none can slip between).
                ctrl._reading_paused = True
            else:
                # No thread will ever pop (it returned): keep reading, so that the client's
                # pings and close still arrive, and drop what does not fit.
                message = ctrl._in_queue.pop()
                ctrl._in_bytes -= message_size(message)
                if not self._dropping_logged:
                    self._dropping_logged = True
                    log.warn(
                        "{ctrl}'s thread has returned and its message queue is full: "
                        "dropping what {peer} sends",
                        ctrl=type(ctrl).__name__,
                        peer=self.peer,
                    )
                return
        self.set_reading(False)

    def connection_closed(self, code: int | None, reason: str | None) -> None:
        self._closed = True
        self.ctrl._out_listener = None
        self.ctrl._in_drained_listener = None
        if self._started:
            self._stop_controller()
        self._maybe_finished()

    def shut_down(self) -> None:
        if self._started:
            self._stop_controller()
        super().shut_down()

    def _thread_start_requested(self) -> None:
        """The base ``on_start`` asks for ``on_thread_start`` (any thread, once counts)."""
        if not threadable.isInIOThread():
            call_in_reactor(self.hub.reactor, self._thread_start_requested)
            return
        if self._thread_requested or self._closed:
            return
        self._thread_requested = True
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
        self._thread_running = True
        self.ctrl._thread_done.clear()
        running = self.pool.run(_run_controller_thread, self.ctrl, self.request_state)
        running.addCallbacks(self._thread_returned, self._thread_failed)

    def _thread_returned(self, _: object) -> None:
        # As in the original, the connection stays open until the client closes it: other
        # threads may still push messages to this controller (a broadcast, say).
        self._thread_running = False
        self._release_thread_slot()
        if not self._event_model:
            with self.ctrl._lock:
                self.ctrl._reading_paused = False
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
        if self._stopped:
            return
        self._stopped = True
        try:
            with _context.activate(self.request_state):
                self.ctrl.on_stop()
        except Exception:
            log.failure("on_stop of {ctrl} raised", ctrl=type(self.ctrl).__name__)
        self.ctrl._wake_waiters()

    def _queue_drained(self) -> None:
        """The controller popped its queue down to the resume marks: read again (any thread)."""
        call_in_reactor(self.hub.reactor, self.set_reading, True)

    def _wake(self) -> None:
        """The controller's out listener: schedule one drain, from any thread."""
        with self._wake_lock:
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        self._waker.request(self._drain)

    def output_ready(self) -> None:
        self._wake()

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
        queue = self.ctrl._out_queue if self._plain_pop else True
        for _ in range(DRAIN_BATCH):
            if not queue:
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
        delivering = self.message_pool.run(_deliver_messages, self.ctrl, self.request_state, batch)
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
        if not self._closed or self._thread_running or self._dispatching:
            return
        self._release_thread_slot()
        self.mark_finished()
