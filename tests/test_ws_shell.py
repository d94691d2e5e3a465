"""The threaded adapter and the hub in process: a StringTransport, a fake pool, a clock.

No socket, no thread: the "pool" runs a job when the test says so, and the reactor is a
``MemoryReactorClock``, so each test drives one branch (pause, drop, drain batch, grace).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python import threadable
from twisted.python.failure import Failure

from krait import _context
from krait._ws.handshake import WebsocketsSettings
from krait._ws.hub import WebsocketsHub
from krait._ws.mailbox import IN_QUEUE_PAUSE_AT, IN_QUEUE_RESUME_AT
from krait._ws.protocol import ConnectionState
from krait._ws.threaded import DRAIN_BATCH, ControllerPhase, ThreadedCtrlProtocol, ThreadLife
from krait._ws.wakers import ReactorWaker
from krait.websockets import WebsocketsCtrlBase

HANDSHAKE = (
    b"GET /echo HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


class Reactor(MemoryReactorClock):
    """A MemoryReactorClock with callFromThread; :meth:`one_pass` runs one loop iteration."""

    def __init__(self) -> None:
        super().__init__()
        self.from_threads: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def callFromThread(self, f: Callable[..., Any], *args: Any) -> None:
        self.from_threads.append((f, args))

    def one_pass(self) -> None:
        """Run what threads asked for until now, then the timers that are due."""
        calls, self.from_threads = self.from_threads, []
        for func, args in calls:
            func(*args)
        self.advance(0)


class Pool:
    """Stands for a WorkerPool: jobs wait until the test runs them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.jobs: list[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]]] = []

    def run(self, func: Callable[..., Any], *args: Any) -> Deferred[Any]:
        deferred: Deferred[Any] = Deferred()
        self.jobs.append((func, args, deferred))
        return deferred

    def run_next(self) -> None:
        func, args, deferred = self.jobs.pop(0)
        try:
            result = func(*args)
        except Exception:
            deferred.errback(Failure())
        else:
            deferred.callback(result)


class Idle(WebsocketsCtrlBase):
    """A queue controller whose thread the test plays: it never pops by itself."""

    def on_thread_start(self) -> None:
        pass


@pytest.fixture(autouse=True)
def io_thread() -> Iterator[None]:
    """Make this thread the reactor thread, as it is under a running server."""
    saved = threadable.ioThread
    threadable.ioThread = threadable.getThreadID()
    yield
    threadable.ioThread = saved


@pytest.fixture
def reactor() -> Reactor:
    return Reactor()


@pytest.fixture
def hub(reactor: Reactor) -> WebsocketsHub:
    settings = WebsocketsSettings(ping_interval=0, shutdown_grace=5.0)
    return WebsocketsHub(reactor, settings, Pool(4), Pool(4))  # type: ignore[arg-type]


def client_frame(text: str, opcode: int = 0x1) -> bytes:
    """A masked client frame (payload under 126 bytes)."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + masked


def open_connection(
    hub: WebsocketsHub, ctrl: WebsocketsCtrlBase
) -> tuple[ThreadedCtrlProtocol, StringTransport]:
    protocol = ThreadedCtrlProtocol(hub, None, ctrl, _context.RequestState())
    hub.slots.reserve(1)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(HANDSHAKE)
    assert protocol.connection_state is ConnectionState.OPEN
    assert b"101" in transport.value().split(b"\r\n", 1)[0]
    transport.clear()
    return protocol, transport


def thread_pool(hub: WebsocketsHub) -> Pool:
    pool: Any = hub.thread_pool
    return pool


def test_on_start_asks_the_pool_for_the_controller_thread(hub: WebsocketsHub) -> None:
    protocol, _ = open_connection(hub, Idle())
    assert protocol.phase is ControllerPhase.STARTED
    assert protocol.thread is ThreadLife.RUNNING
    assert len(thread_pool(hub).jobs) == 1
    thread_pool(hub).run_next()
    assert protocol.thread is ThreadLife.DONE
    assert hub.slots.used == 0


def test_a_full_queue_pauses_reading_while_the_thread_runs(hub: WebsocketsHub) -> None:
    ctrl = Idle()
    protocol, transport = open_connection(hub, ctrl)
    for number in range(IN_QUEUE_PAUSE_AT):
        protocol.dataReceived(client_frame(str(number)))
    assert protocol.reading_paused
    assert transport.producerState == "paused"


def test_popping_down_to_the_resume_mark_reads_again(hub: WebsocketsHub, reactor: Reactor) -> None:
    ctrl = Idle()
    protocol, transport = open_connection(hub, ctrl)
    for number in range(IN_QUEUE_PAUSE_AT):
        protocol.dataReceived(client_frame(str(number)))
    for _ in range(IN_QUEUE_PAUSE_AT - IN_QUEUE_RESUME_AT):
        ctrl.pop_in_message()
    reactor.one_pass()  # the drained hook comes back through callFromThread
    assert not protocol.reading_paused
    assert transport.producerState == "producing"


def test_a_full_queue_stops_parsing_what_was_read_until_the_thread_catches_up(
    hub: WebsocketsHub, reactor: Reactor
) -> None:
    """So the pause mark is exact: the rest of a read waits in Autobahn's buffer."""
    ctrl = Idle()
    protocol, _ = open_connection(hub, ctrl)
    frames = b"".join(client_frame(str(number)) for number in range(IN_QUEUE_PAUSE_AT + 10))
    protocol.dataReceived(frames)
    reactor.advance(0)  # the passes the read budget spreads the parsing over
    assert protocol.reading_paused
    assert protocol.mailbox.queued_in() == IN_QUEUE_PAUSE_AT
    for _ in range(IN_QUEUE_PAUSE_AT - IN_QUEUE_RESUME_AT):
        ctrl.pop_in_message()
    reactor.one_pass()  # reading resumes, and the held frames are parsed
    assert protocol.mailbox.queued_in() == IN_QUEUE_RESUME_AT + 10
    assert ctrl.pop_in_message() == str(IN_QUEUE_PAUSE_AT - IN_QUEUE_RESUME_AT)


def test_after_the_thread_returned_a_full_queue_drops_and_reads_on(hub: WebsocketsHub) -> None:
    ctrl = Idle()
    protocol, transport = open_connection(hub, ctrl)
    thread_pool(hub).run_next()  # on_thread_start returns at once
    for number in range(IN_QUEUE_PAUSE_AT + 10):
        protocol.dataReceived(client_frame(str(number)))
    assert not protocol.reading_paused
    assert transport.producerState == "producing"
    assert [ctrl.pop_in_message() for _ in range(IN_QUEUE_PAUSE_AT - 1)][-1] == str(
        IN_QUEUE_PAUSE_AT - 2
    )
    assert ctrl.pop_in_message() is None


def test_drains_run_in_batches_then_let_the_network_have_its_turn(
    hub: WebsocketsHub, reactor: Reactor
) -> None:
    """A drain sends DRAIN_BATCH messages and asks again; a wake-up runs a bounded number
    of batches, then the reactor serves the network before the next ones."""
    ctrl = Idle()
    protocol, _ = open_connection(hub, ctrl)
    sent: list[Any] = []
    protocol.send = sent.append  # type: ignore[method-assign]
    per_wake_up = DRAIN_BATCH * ReactorWaker.BATCHES_PER_WAKE_UP
    for number in range(per_wake_up + 5):
        ctrl.push_out_message(number)
    assert sent == []  # pushes only wake the reactor
    reactor.one_pass()
    assert sent == list(range(per_wake_up))
    reactor.one_pass()
    assert sent == list(range(per_wake_up + 5))


def test_one_drain_sends_at_most_one_batch(hub: WebsocketsHub) -> None:
    ctrl = Idle()
    protocol, _ = open_connection(hub, ctrl)
    sent: list[Any] = []
    protocol.send = sent.append  # type: ignore[method-assign]
    for number in range(DRAIN_BATCH + 1):
        ctrl.push_out_message(number)
    protocol._drain()
    assert len(sent) == DRAIN_BATCH


def test_a_drain_stops_while_the_transport_is_full_and_goes_on_when_it_asks(
    hub: WebsocketsHub, reactor: Reactor
) -> None:
    ctrl = Idle()
    protocol, _ = open_connection(hub, ctrl)
    sent: list[Any] = []
    protocol.send = sent.append  # type: ignore[method-assign]
    protocol.pauseProducing()
    ctrl.push_out_message("waits")
    reactor.one_pass()
    assert sent == []
    protocol.resumeProducing()
    reactor.one_pass()
    assert sent == ["waits"]


def test_on_stop_runs_once_whether_shutdown_or_close_comes_first(hub: WebsocketsHub) -> None:
    stops: list[int] = []

    class Counting(Idle):
        def on_stop(self) -> None:
            stops.append(1)
            super().on_stop()

    protocol, _ = open_connection(hub, Counting())
    protocol.shut_down()
    assert protocol.connection_state is ConnectionState.CLOSING
    protocol.connectionLost(Failure(ConnectionError("gone")))
    assert protocol.connection_state is ConnectionState.CLOSED
    assert stops == [1]


def test_a_connection_is_released_once_closed_and_its_thread_returned(
    hub: WebsocketsHub,
) -> None:
    protocol, _ = open_connection(hub, Idle())
    finished = protocol.when_finished()
    protocol.connectionLost(Failure(ConnectionError("gone")))
    assert not finished.called  # the thread still runs
    thread_pool(hub).run_next()
    assert finished.called
    assert protocol.connection_state is ConnectionState.RELEASED
    assert protocol not in hub.connections


def test_shutdown_waits_for_the_controllers_then_lets_go(
    hub: WebsocketsHub, reactor: Reactor
) -> None:
    protocol, _ = open_connection(hub, Idle())
    done = hub.shut_down()
    assert hub.stopping and not done.called
    protocol.connectionLost(Failure(ConnectionError("closed")))
    thread_pool(hub).run_next()
    assert done.called
    assert not reactor.getDelayedCalls() or all(
        not call.active() for call in reactor.getDelayedCalls()
    )


def test_shutdown_drops_what_is_left_after_the_grace(hub: WebsocketsHub, reactor: Reactor) -> None:
    protocol, transport = open_connection(hub, Idle())
    done = hub.shut_down()
    reactor.advance(hub.settings.shutdown_grace - 0.1)
    assert not done.called
    reactor.advance(0.2)
    assert done.called
    assert transport.disconnecting or transport.disconnected  # aborted
    assert "never checked should_stop()" in protocol.shutdown_hint()


def test_shutdown_with_no_connection_is_done_at_once(hub: WebsocketsHub) -> None:
    assert hub.shut_down().called


def test_the_hub_arms_its_shutdown_trigger_with_the_first_connection(
    hub: WebsocketsHub, reactor: Reactor
) -> None:
    assert reactor.triggers == {}
    open_connection(hub, Idle())
    assert [trigger[0] for trigger in reactor.triggers["before"]["shutdown"]] == [hub.shut_down]
