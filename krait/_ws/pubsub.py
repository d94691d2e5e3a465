"""A site's channels on the reactor: subscriptions, publishing from any thread, the backend.

:class:`Channels` belongs to the site's :class:`krait._ws.hub.WebsocketsHub`. It keeps the
subscriptions in a :class:`krait._ws.channels.ChannelRegistry`, takes publishes and
subscription changes from any thread (a page thread, a controller thread, a thread started
by ``init.py``) and applies them on the reactor, in the order each thread made them, through
the hub's :class:`krait._ws.wakers.ReactorWaker`: many publishes from threads cost one
reactor wake-up, and a publisher never waits for the subscribers.

Where a published message goes is the backend's business (:class:`ChannelBackend`): the
default :class:`LocalBackend` hands it straight to this process's subscribers;
:class:`krait._ws.redis_backend.RedisBackend` sends it through Redis, which hands it back to
every process that listens to the channel, this one included.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.python import threadable

from krait._ws.channels import (
    ChannelRegistry,
    Message,
    Subscriber,
    checked_channel,
    checked_message,
)
from krait._ws.wakers import ReactorWaker

FanOut = Callable[[str, Message], int]


class ChannelBackend(Protocol):
    """Carries published messages to the subscribers of every process that shares it.

    Every method runs on the reactor thread.
    """

    def publish(self, channel: str, message: Message) -> None:
        """Send ``message`` to ``channel``; never waits."""
        ...

    def listen(self, channel: str) -> None:
        """This process got its first subscriber to ``channel``."""
        ...

    def unlisten(self, channel: str) -> None:
        """This process has no subscriber to ``channel`` any more."""
        ...

    def start(self) -> None:
        """The reactor runs: connect, if the backend has anything to connect to."""
        ...

    def stop(self) -> Deferred[None]:
        """The site stops: disconnect; fires once done."""
        ...


class LocalBackend:
    """Channels within this process: a published message goes straight to its subscribers.

    With ``--workers N`` each worker is a process of its own, so a message reaches only the
    connections of the worker it was published in.

    Args:
        fan_out: hands a message to this process's subscribers of a channel.
    """

    def __init__(self, fan_out: FanOut) -> None:
        self._fan_out = fan_out

    def publish(self, channel: str, message: Message) -> None:
        self._fan_out(channel, message)

    def listen(self, channel: str) -> None:
        """Nothing to do: the registry already knows."""

    def unlisten(self, channel: str) -> None:
        """Nothing to do: the registry already knows."""

    def start(self) -> None:
        """Nothing to connect to."""

    def stop(self) -> Deferred[None]:
        return succeed(None)


class Channels:
    """The channels of one site.

    Args:
        reactor: the reactor the subscriptions live on.
        waker: hands publishes and subscription changes from threads to the reactor.
    """

    def __init__(self, reactor: Any, waker: ReactorWaker) -> None:
        self._reactor = reactor
        self._waker = waker
        self.registry = ChannelRegistry()
        self.backend: ChannelBackend = LocalBackend(self.fan_out)
        self._started = False

    def use(self, make_backend: Callable[[FanOut], ChannelBackend]) -> None:
        """Carry messages with the backend ``make_backend(fan_out)`` (before :meth:`start`)."""
        self.backend = make_backend(self.fan_out)

    def start(self) -> None:
        """Start the backend once; it stops before the reactor shuts down."""
        if self._started:
            return
        self._started = True
        self.backend.start()
        self._reactor.addSystemEventTrigger("before", "shutdown", self.stop)

    def stop(self) -> Deferred[None]:
        """Stop the backend (a site stopped by :mod:`krait.testing`, or the reactor)."""
        if not self._started:
            return succeed(None)
        self._started = False
        return self.backend.stop()

    def publish(self, channel: str, message: Message) -> None:
        """Publish ``message`` to ``channel`` from any thread; never waits.

        Raises:
            TypeError, ValueError: the channel name or the message is not valid.
        """
        self._on_reactor(self._publish, checked_channel(channel), checked_message(message))

    def subscribe(self, channel: str, subscriber: Subscriber) -> None:
        """Add ``subscriber`` to ``channel``, from any thread (ignored once it closed)."""
        self._on_reactor(self._subscribe, channel, subscriber)

    def unsubscribe(self, channel: str, subscriber: Subscriber) -> None:
        """Take ``subscriber`` off ``channel``, from any thread."""
        self._on_reactor(self._unsubscribe, channel, subscriber)

    def drop(self, subscriber: Subscriber) -> None:
        """Take a closed connection off every channel (on the reactor)."""
        for channel in self.registry.drop(subscriber):
            self.backend.unlisten(channel)

    def fan_out(self, channel: str, message: Message) -> int:
        """Hand a message to this process's subscribers of ``channel`` (on the reactor)."""
        return self.registry.fan_out(channel, message)

    def _on_reactor(self, func: Callable[..., None], *args: Any) -> None:
        # Before the reactor runs (init.py's own code), the call waits for it like a
        # thread's: by then the backend is the one the site configured.
        if threadable.isInIOThread() and getattr(self._reactor, "running", True):
            func(*args)
        else:
            self._waker.request(partial(func, *args))

    def _publish(self, channel: str, message: Message) -> None:
        self.backend.publish(channel, message)

    def _subscribe(self, channel: str, subscriber: Subscriber) -> None:
        if subscriber.closed:
            return
        if self.registry.subscribe(channel, subscriber):
            self.backend.listen(channel)

    def _unsubscribe(self, channel: str, subscriber: Subscriber) -> None:
        if self.registry.unsubscribe(channel, subscriber):
            self.backend.unlisten(channel)
