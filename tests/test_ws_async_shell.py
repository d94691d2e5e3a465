"""The asynchronous adapter in process under a flood: a StringTransport and a clock.

One read carrying many frames meets the read budget (a bounded number of hooks per reactor
pass) and the backlog marks (a slow hook stops the parsing at the pause mark).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock, StringTransport

from krait import _context
from krait._workers import WorkerPool
from krait._ws.async_ctrl import PAUSE_READING_AT, AsyncCtrlProtocol
from krait._ws.handshake import WebsocketsSettings
from krait._ws.hub import WebsocketsHub
from krait._ws.protocol import READ_BUDGET_FRAMES
from krait.websockets import WebsocketsAsyncCtrlBase

HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def text_frames(count: int) -> bytes:
    """``count`` masked (with a zero key) text frames "0", "1", ...: one read's worth."""
    frames = []
    for number in range(count):
        payload = str(number).encode()
        frames.append(bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
    return b"".join(frames)


class Recorder(WebsocketsAsyncCtrlBase):
    """Records each message; with ``slow``, each hook waits for a Deferred the test fires."""

    def __init__(self, slow: bool = False) -> None:
        self.slow = slow
        self.messages: list[Any] = []
        self.waiting: list[Deferred[None]] = []

    def on_message(self, message: str | bytes) -> Deferred[None] | None:
        self.messages.append(message)
        if not self.slow:
            return None
        waiting: Deferred[None] = Deferred()
        self.waiting.append(waiting)
        return waiting


def open_connection(
    ctrl: Recorder,
) -> tuple[AsyncCtrlProtocol, StringTransport, MemoryReactorClock]:
    reactor = MemoryReactorClock()
    pool = WorkerPool(reactor, 1, "unused")
    hub = WebsocketsHub(reactor, WebsocketsSettings(ping_interval=0), pool, pool)
    protocol = AsyncCtrlProtocol(hub, None, ctrl, _context.RequestState())
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(HANDSHAKE)
    assert transport.value().startswith(b"HTTP/1.1 101 ")
    return protocol, transport, reactor


def run_due_calls(reactor: MemoryReactorClock) -> None:
    """One reactor pass: the calls due now, not the ones they add."""
    due = [call for call in reactor.getDelayedCalls() if call.getTime() <= reactor.seconds()]
    for call in due:
        if call.active():
            reactor.calls.remove(call)
            call.called = 1
            call.func(*call.args, **call.kw)


def test_a_flood_of_quick_hooks_runs_one_budget_of_them_per_reactor_pass() -> None:
    ctrl = Recorder()
    protocol, transport, reactor = open_connection(ctrl)
    protocol.dataReceived(text_frames(2 * READ_BUDGET_FRAMES + 1))
    assert len(ctrl.messages) == READ_BUDGET_FRAMES
    run_due_calls(reactor)
    assert len(ctrl.messages) == 2 * READ_BUDGET_FRAMES
    run_due_calls(reactor)
    assert ctrl.messages == [str(number) for number in range(2 * READ_BUDGET_FRAMES + 1)]
    assert transport.producerState == "producing"


def test_a_slow_hook_stops_the_parsing_at_the_pause_mark_until_it_catches_up() -> None:
    """The rest of the read waits in Autobahn's buffer, not in the backlog."""
    ctrl = Recorder(slow=True)
    protocol, transport, reactor = open_connection(ctrl)
    protocol.dataReceived(text_frames(PAUSE_READING_AT + 50))
    reactor.advance(0)  # every pass the read budget asks for
    assert protocol.reading_paused
    assert transport.producerState == "paused"
    assert len(ctrl.messages) == 1  # the hook still waiting; the others in the backlog
    settled = 0
    while protocol.reading_paused:
        ctrl.waiting.pop(0).callback(None)
        settled += 1
    # Reading resumes once the backlog is under half the mark: it held the mark exactly.
    assert PAUSE_READING_AT - settled == PAUSE_READING_AT // 2 - 1
    reactor.advance(0)  # the held frames are parsed
    while ctrl.waiting:
        ctrl.waiting.pop(0).callback(None)
    assert ctrl.messages == [str(number) for number in range(PAUSE_READING_AT + 50)]
