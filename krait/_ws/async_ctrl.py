"""Connections served by a :class:`krait.websockets.WebsocketsAsyncCtrlBase`, on the reactor.

The controller's hooks run on the reactor thread, one at a time and in order: a hook that
returns a coroutine or a Deferred holds back the next one until it settles. While many
messages wait behind a slow hook, the connection stops reading from the network, so a fast
client cannot fill the server's memory.
"""

from __future__ import annotations

import collections
import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from krait import _context
from krait._ws.channels import subscriptions_of
from krait._ws.hub import WebsocketsHub
from krait._ws.protocol import GOING_AWAY, INTERNAL_ERROR, KraitWebSocketProtocol
from krait.websockets import WebsocketsAsyncCtrlBase, attach_connection

log = Logger(namespace="krait.websockets")

PAUSE_READING_AT = 256
"""Hook calls waiting behind a slow hook before the connection stops reading."""
PAUSE_READING_BYTES = 1024 * 1024
"""Message bytes waiting behind a slow hook before the connection stops reading."""

Hook = Callable[..., Any]


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class _Continuation:
    """An awaitable that carries on a coroutine which already ran up to its first await.

    Args:
        coroutine: the started coroutine.
        awaiting: what it yielded when it suspended (the Deferred it awaits).
    """

    def __init__(self, coroutine: Coroutine[Any, Any, Any], awaiting: Any) -> None:
        self.coroutine = coroutine
        self.awaiting = awaiting

    def __await__(self) -> Generator[Any, Any, Any]:
        awaiting = self.awaiting
        while True:
            try:
                result = yield awaiting
            except BaseException as error:  # thrown in by the driver: pass it on
                step = functools.partial(self.coroutine.throw, error)
            else:
                step = functools.partial(self.coroutine.send, result)
            try:
                awaiting = step()
            except StopIteration as stop:
                return stop.value


def _settle(outcome: Any) -> Deferred[Any] | None:
    """Turn what a hook returned into None or a Deferred (run in the hook's context)."""
    if outcome is None or isinstance(outcome, Deferred):
        return outcome
    if inspect.iscoroutine(outcome):
        # Most hooks finish without ever waiting: run the first step here, and pay for a
        # Deferred only when the coroutine really suspends. Started inside the hook's
        # context, it keeps the request state across its awaits.
        try:
            awaiting = outcome.send(None)
        except StopIteration:
            return None
        return ensureDeferred(_await(_Continuation(outcome, awaiting)))
    if inspect.isawaitable(outcome):
        return ensureDeferred(_await(outcome))
    return None


class AsyncCtrlProtocol(KraitWebSocketProtocol):
    """A connection whose controller runs on the reactor.

    Args:
        hub: the hub tracking the connection.
        subprotocol: the chosen subprotocol, or None.
        ctrl: the controller.
        state: the request state of the upgrade request, active while hooks run.
    """

    def __init__(
        self,
        hub: WebsocketsHub,
        subprotocol: str | None,
        ctrl: WebsocketsAsyncCtrlBase,
        state: _context.RequestState,
    ) -> None:
        super().__init__(hub, subprotocol)
        self.ctrl = ctrl
        self.request_state = state
        self.subscriptions = subscriptions_of(ctrl)
        # A context in which the request state is active, entered for each hook: far
        # cheaper than activating the state around every message.
        with _context.activate(state):
            self._hook_context = contextvars.copy_context()
        self._backlog: collections.deque[tuple[Hook, tuple[Any, ...], int]] = collections.deque()
        self._backlog_bytes = 0
        self._writable_waiters: list[Deferred[None]] = []
        self._busy = False
        self._running = False
        self._opened = False

    def connection_opened(self) -> None:
        self._opened = True
        attach_connection(self.ctrl, self)
        self._call(self.ctrl.on_open)
        if self.hub.stopping:
            self.close(GOING_AWAY, "server shutting down")

    def message_received(self, message: str | bytes) -> None:
        if self._busy or self._backlog or self._running:
            self._queue(self.ctrl.on_message, (message,), len(message))
            self._run_backlog()
        else:  # the common case, kept short: nothing waits, so no queueing
            self._running = True
            try:
                self._invoke(self.ctrl.on_message, (message,))
            finally:
                self._running = False
            if self._backlog:
                self._run_backlog()

    def connection_closed(self, code: int | None, reason: str | None) -> None:
        waiters, self._writable_waiters = self._writable_waiters, []
        for waiter in waiters:  # nothing more will be taken: let them go on
            waiter.callback(None)
        if not self._opened:
            self.mark_finished()
            return
        self._call(self.ctrl.on_close, code, reason)
        self._call(self.mark_finished)

    def describe(self) -> str:
        return f"{type(self.ctrl).__name__} serving {self.peer}"

    def _call(self, hook: Hook, *args: Any) -> None:
        """Run ``hook(*args)`` after the hooks before it have settled."""
        self._queue(hook, args, 0)
        self._run_backlog()

    def _queue(self, hook: Hook, args: tuple[Any, ...], size: int) -> None:
        self._backlog.append((hook, args, size))
        self._backlog_bytes += size
        self._update_reading()

    def _update_reading(self) -> None:
        """Read from the client only while the hooks keep up and the client reads our sends.

        Pausing when the client does not read what we send stops a controller that answers
        messages from filling the server's memory with answers nobody collects.
        """
        backlog, size = len(self._backlog), self._backlog_bytes
        if self.reading_paused:
            if (
                self.writable
                and backlog < PAUSE_READING_AT // 2
                and size < PAUSE_READING_BYTES // 2
            ):
                self.set_reading(True)
        elif not self.writable or backlog >= PAUSE_READING_AT or size >= PAUSE_READING_BYTES:
            self.set_reading(False)

    def pauseProducing(self) -> None:
        super().pauseProducing()
        self._update_reading()

    def output_ready(self) -> None:
        waiters, self._writable_waiters = self._writable_waiters, []
        for waiter in waiters:
            waiter.callback(None)
        self._update_reading()

    def when_writable(self) -> Deferred[None]:
        """A Deferred that fires once the client has taken what was sent (at once if so)."""
        if self.writable or not self.open_for_messages:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._writable_waiters.append(waiter)
        return waiter

    def _run_backlog(self) -> None:
        # A loop rather than recursion: a hook that settles at once must not grow the stack.
        if self._running:
            return
        self._running = True
        try:
            while self._backlog and not self._busy:
                hook, args, size = self._backlog.popleft()
                self._backlog_bytes -= size
                self._invoke(hook, args)
        finally:
            self._running = False
        if self.reading_paused:
            self._update_reading()

    def _invoke(self, hook: Hook, args: tuple[Any, ...]) -> None:
        run = self._hook_context.run
        try:
            outcome = run(hook, *args)
            if outcome is not None:  # plain hooks return None: nothing more to do
                outcome = run(_settle, outcome)
        except Exception:
            self._hook_failed(Failure(), hook)
            return
        if isinstance(outcome, Deferred):
            self._busy = True
            outcome.addCallbacks(self._hook_settled, self._hook_failed, errbackArgs=(hook,))

    def _hook_settled(self, _: object) -> None:
        self._busy = False
        self._run_backlog()

    def _hook_failed(self, failure: Failure, hook: Hook) -> None:
        log.failure(
            "{hook} of {ctrl} raised; closing the connection with 1011",
            failure=failure,
            hook=getattr(hook, "__name__", repr(hook)),
            ctrl=type(self.ctrl).__name__,
        )
        self.close(INTERNAL_ERROR, "internal server error")
        self._hook_settled(None)
