"""The site's channels in process: a StringTransport per connection and a fake reactor.

Each test drives one branch of :mod:`krait._ws.pubsub` and of the protocols' ``deliver``:
subscriptions made before and after the connection opens, what closing undoes, publishes
from other threads waiting for the reactor, and a subscriber that does not read.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import pytest
from test_ws_shell import HANDSHAKE, Idle, Pool, Reactor, io_thread  # noqa: F401
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from krait import _context
from krait._ws.async_ctrl import AsyncCtrlProtocol
from krait._ws.channels import Message
from krait._ws.handshake import WebsocketsSettings
from krait._ws.hub import WebsocketsHub
from krait._ws.protocol import KraitWebSocketProtocol
from krait._ws.pubsub import Channels
from krait._ws.threaded import ThreadedCtrlProtocol
from krait.websockets import WebsocketsAsyncCtrlBase, WebsocketsCtrlBase

BACKLOG = 4096


class Listener:
    """A backend that records what the registry asks of it and delivers at once."""

    def __init__(self, fan_out: Any) -> None:
        self.fan_out = fan_out
        self.calls: list[tuple[str, str]] = []

    def publish(self, channel: str, message: Message) -> None:
        self.fan_out(channel, message)

    def listen(self, channel: str) -> None:
        self.calls.append(("listen", channel))

    def unlisten(self, channel: str) -> None:
        self.calls.append(("unlisten", channel))

    def start(self) -> None:
        pass

    def stop(self) -> Any:
        return None


@pytest.fixture
def reactor() -> Reactor:
    running = Reactor()
    running.running = True
    return running


@pytest.fixture
def hub(reactor: Reactor) -> WebsocketsHub:
    settings = WebsocketsSettings(ping_interval=0, channel_backlog=BACKLOG)
    return WebsocketsHub(reactor, settings, Pool(4), Pool(4))  # type: ignore[arg-type]


def open_connection(
    hub: WebsocketsHub, ctrl: WebsocketsCtrlBase | WebsocketsAsyncCtrlBase
) -> tuple[KraitWebSocketProtocol, StringTransport]:
    state = _context.RequestState()
    protocol: KraitWebSocketProtocol
    if isinstance(ctrl, WebsocketsAsyncCtrlBase):
        protocol = AsyncCtrlProtocol(hub, None, ctrl, state)
    else:
        protocol = ThreadedCtrlProtocol(hub, None, ctrl, state)
        hub.slots.reserve(1)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(HANDSHAKE)
    transport.clear()
    return protocol, transport


def sent_texts(protocol: KraitWebSocketProtocol, transport: StringTransport) -> list[bytes]:
    """The payloads of the unmasked short server frames written so far (the threaded
    controller's queue drained first)."""
    if isinstance(protocol, ThreadedCtrlProtocol):
        protocol._drain()
    data, payloads = transport.value(), []
    while data:
        length = data[1] & 0x7F
        payloads.append(data[2 : 2 + length])
        data = data[2 + length :]
    return payloads


def close_code(transport: StringTransport) -> int | None:
    data = transport.value()
    at = data.find(b"\x88")
    if at < 0:
        return None
    return int(struct.unpack("!H", data[at + 2 : at + 4])[0])


class Quiet(WebsocketsAsyncCtrlBase):
    pass


KINDS = [Quiet, Idle]


@pytest.mark.parametrize("kind", KINDS)
def test_a_controller_subscribed_before_it_opened_gets_what_is_published(
    hub: WebsocketsHub, kind: type
) -> None:
    ctrl = kind()
    ctrl.subscribe("lobby")
    protocol, transport = open_connection(hub, ctrl)
    hub.channels.publish("lobby", "hello")
    hub.channels.publish("elsewhere", "not for us")
    assert sent_texts(protocol, transport) == [b"hello"]


@pytest.mark.parametrize("kind", KINDS)
def test_binary_messages_go_out_as_binary_frames(hub: WebsocketsHub, kind: type) -> None:
    ctrl = kind()
    protocol, transport = open_connection(hub, ctrl)
    ctrl.subscribe("bin")
    hub.channels.publish("bin", b"\x00\x01")
    sent_texts(protocol, transport)
    assert transport.value()[:1] == b"\x82"


def test_the_backend_listens_for_the_first_subscriber_and_stops_after_the_last_closes(
    hub: WebsocketsHub,
) -> None:
    hub.channels.use(Listener)
    backend: Any = hub.channels.backend
    first, second = Quiet(), Quiet()
    first.subscribe("room")
    second.subscribe("room")
    first_protocol, _ = open_connection(hub, first)
    second_protocol, _ = open_connection(hub, second)
    first_protocol.connectionLost(Failure(ConnectionDone()))
    assert backend.calls == [("listen", "room")]
    second_protocol.connectionLost(Failure(ConnectionDone()))
    assert backend.calls == [("listen", "room"), ("unlisten", "room")]
    assert hub.channels.registry.channels == []


@pytest.mark.parametrize("kind", KINDS)
def test_unsubscribing_stops_delivery_at_once(hub: WebsocketsHub, kind: type) -> None:
    ctrl = kind()
    protocol, transport = open_connection(hub, ctrl)
    ctrl.subscribe("room")
    hub.channels.publish("room", "one")
    ctrl.unsubscribe("room")
    hub.channels.publish("room", "two")
    assert sent_texts(protocol, transport) == [b"one"]


def test_a_subscription_asked_for_after_the_close_is_never_made(hub: WebsocketsHub) -> None:
    ctrl = Quiet()
    protocol, _ = open_connection(hub, ctrl)
    protocol.connectionLost(Failure(ConnectionDone()))
    ctrl.subscribe("late")
    hub.channels.subscribe("late", protocol)  # as a hop from a thread would land
    assert hub.channels.registry.channels == []


def test_publishes_and_subscriptions_from_a_thread_wait_for_the_reactor_in_order(
    hub: WebsocketsHub, reactor: Reactor
) -> None:
    ctrl = Quiet()
    protocol, transport = open_connection(hub, ctrl)

    def from_a_thread() -> None:
        ctrl.subscribe("room")
        hub.channels.publish("room", "first")
        hub.channels.publish("room", "second")

    thread = threading.Thread(target=from_a_thread)
    thread.start()
    thread.join()
    assert sent_texts(protocol, transport) == []
    assert len(reactor.from_threads) == 1  # one wake-up for the three
    reactor.one_pass()
    assert sent_texts(protocol, transport) == [b"first", b"second"]


def test_publishing_before_the_reactor_runs_waits_for_it(reactor: Reactor) -> None:
    reactor.running = False
    channels = Channels(
        reactor, WebsocketsHub(reactor, WebsocketsSettings(), Pool(1), Pool(1)).waker
    )  # type: ignore[arg-type]
    received: list[Message] = []
    channels.use(lambda fan_out: Listener(lambda channel, message: received.append(message)))
    channels.publish("room", "early")
    assert received == []
    reactor.one_pass()
    assert received == ["early"]


def frames_before_close(transport: StringTransport) -> int:
    data, count = transport.value(), 0
    while data and data[:1] != b"\x88":
        length = data[1] & 0x7F
        extra = 2 if length == 126 else 0
        length = struct.unpack("!H", data[2:4])[0] if extra else length
        data = data[2 + extra + length :]
        count += 1
    return count


def test_an_async_subscriber_that_does_not_read_is_closed_with_1008_past_the_backlog(
    hub: WebsocketsHub,
) -> None:
    ctrl = Quiet()
    ctrl.subscribe("feed")
    protocol, transport = open_connection(hub, ctrl)
    protocol.pauseProducing()  # the transport is full: the client stopped reading
    for _ in range(10):
        hub.channels.publish("feed", "x" * 1000)
    assert close_code(transport) == 1008
    # What was sent while it did not read stays within the backlog.
    assert frames_before_close(transport) * 1000 <= BACKLOG
    written = len(transport.value())
    hub.channels.publish("feed", "x" * 1000)
    assert len(transport.value()) == written  # nothing more once it is closing


def test_an_async_subscriber_that_catches_up_starts_a_fresh_backlog(hub: WebsocketsHub) -> None:
    ctrl = Quiet()
    ctrl.subscribe("feed")
    protocol, transport = open_connection(hub, ctrl)
    for _ in range(5):
        protocol.pauseProducing()
        for _ in range(3):
            hub.channels.publish("feed", "x" * 1000)
        protocol.resumeProducing()
    assert close_code(transport) is None
    assert frames_before_close(transport) == 15


def test_a_threaded_subscriber_whose_queue_passes_the_backlog_is_closed_with_1008(
    hub: WebsocketsHub,
) -> None:
    ctrl = Idle()
    protocol, transport = open_connection(hub, ctrl)
    ctrl.subscribe("feed")
    protocol.pauseProducing()  # the drain stops: messages stay in the controller's queue
    for _ in range(10):
        hub.channels.publish("feed", "x" * 1000)
    assert close_code(transport) == 1008
    assert protocol.unsent_bytes() <= BACKLOG
