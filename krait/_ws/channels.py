"""Channels: which connections of a site subscribed to which names, decided from plain values.

A channel is a name; a connection subscribes to any number of them, and a message published
to a channel goes to every connection subscribed to it. :class:`ChannelRegistry` holds the
subscriptions of one site (the hub owns it, on the reactor thread) and says when a channel
gains its first or loses its last subscriber here, which is when a shared backend such as
Redis must start or stop listening for it. :class:`Subscriptions` is the controller's side:
the names it asked for, from any thread, kept until the server links it to its connection;
:class:`ChannelMember` gives both kinds of controller their ``subscribe`` and
``unsubscribe``.

Nothing here knows Twisted; delivering a message is the subscriber's business
(:class:`Subscriber`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Protocol

MAX_CHANNEL_NAME = 256
"""The longest channel name, in characters."""

Message = str | bytes


class Subscriber(Protocol):
    """A connection that takes channel messages (krait's WebSocket protocols)."""

    @property
    def closed(self) -> bool:
        """True once the connection ended: it takes no more subscriptions."""
        ...

    def deliver(self, message: Message) -> None:
        """Send a channel message to the client (on the reactor; never raises)."""
        ...


class Link(Protocol):
    """Where a controller's :class:`Subscriptions` take effect (its connection)."""

    def join(self, channel: str) -> None: ...

    def leave(self, channel: str) -> None: ...


def checked_channel(channel: object) -> str:
    """``channel`` if it is a valid channel name.

    Raises:
        TypeError: it is not a ``str``.
        ValueError: it is empty or longer than :data:`MAX_CHANNEL_NAME` characters.
    """
    if not isinstance(channel, str):
        raise TypeError(f"a channel name is a str, such as 'room:42', not {type(channel).__name__}")
    if not channel or len(channel) > MAX_CHANNEL_NAME:
        raise ValueError(
            f"a channel name has 1 to {MAX_CHANNEL_NAME} characters, not {len(channel)}: "
            "name rooms and topics like 'chat:lobby'"
        )
    return channel


def checked_message(message: object) -> Message:
    """``message`` as it is sent: ``str`` as text, bytes-like as ``bytes`` (binary).

    Raises:
        TypeError: it is neither text nor bytes.
    """
    kind = type(message)
    if kind is str or kind is bytes:
        return message  # type: ignore[return-value]
    if isinstance(message, bytearray | memoryview):
        return bytes(message)
    if isinstance(message, str):
        return str(message)
    raise TypeError(
        "a channel message is a str (sent as a text frame) or bytes (a binary frame), not "
        f"{kind.__name__}: serialise it first, e.g. json.dumps(...)"
    )


class ChannelRegistry:
    """The subscriptions of one site, on one thread (the reactor's)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, dict[Subscriber, None]] = {}
        self._channels_of: dict[Subscriber, set[str]] = {}

    def subscribe(self, channel: str, subscriber: Subscriber) -> bool:
        """Add ``subscriber`` to ``channel`` (again is a no-op).

        Returns:
            True when the channel had no subscriber here before.
        """
        members = self._subscribers.get(channel)
        first = members is None
        if members is None:
            members = self._subscribers[channel] = {}
        members[subscriber] = None
        self._channels_of.setdefault(subscriber, set()).add(channel)
        return first

    def unsubscribe(self, channel: str, subscriber: Subscriber) -> bool:
        """Take ``subscriber`` off ``channel`` (when it is not on it: a no-op).

        Returns:
            True when that left the channel with no subscriber here.
        """
        members = self._subscribers.get(channel)
        if members is None or subscriber not in members:
            return False
        del members[subscriber]
        channels = self._channels_of.get(subscriber)
        if channels is not None:
            channels.discard(channel)
            if not channels:
                del self._channels_of[subscriber]
        if members:
            return False
        del self._subscribers[channel]
        return True

    def drop(self, subscriber: Subscriber) -> list[str]:
        """Take ``subscriber`` off every channel (its connection closed).

        Returns:
            The channels that were left with no subscriber here, sorted.
        """
        emptied = [
            channel
            for channel in sorted(self._channels_of.get(subscriber, ()))
            if self.unsubscribe(channel, subscriber)
        ]
        self._channels_of.pop(subscriber, None)
        return emptied

    def subscribers(self, channel: str) -> list[Subscriber]:
        """The subscribers of ``channel``, in the order they subscribed."""
        return list(self._subscribers.get(channel, ()))

    def channels_of(self, subscriber: Subscriber) -> frozenset[str]:
        """The channels ``subscriber`` is on."""
        return frozenset(self._channels_of.get(subscriber, ()))

    @property
    def channels(self) -> list[str]:
        """The channels with at least one subscriber here, sorted."""
        return sorted(self._subscribers)

    def fan_out(self, channel: str, message: Message) -> int:
        """Hand ``message`` to every subscriber of ``channel``.

        Returns:
            How many subscribers it was handed to.
        """
        members = self._subscribers.get(channel)
        if not members:
            return 0
        # A subscriber that closes while it takes the message leaves the dict: copy first.
        receivers = list(members)
        for subscriber in receivers:
            subscriber.deliver(message)
        return len(receivers)


class Subscriptions:
    """The channels one controller asked for, from any thread, and the link that serves them.

    Names asked for before the connection opened (in ``__init__``, or in the route target)
    are kept and joined when the server links the connection; after it closed, nothing is
    joined any more.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: set[str] = set()
        self._link: Link | None = None
        self._ended = False

    def add(self, channel: str) -> None:
        """Ask for ``channel``; joined at once when linked."""
        with self._lock:
            if channel in self._names:
                return
            self._names.add(channel)
            link = self._link
        if link is not None:
            link.join(channel)

    def remove(self, channel: str) -> None:
        """Give ``channel`` up; left at once when linked."""
        with self._lock:
            if channel not in self._names:
                return
            self._names.discard(channel)
            link = self._link
        if link is not None:
            link.leave(channel)

    @property
    def names(self) -> frozenset[str]:
        """The channels asked for and not given up."""
        with self._lock:
            return frozenset(self._names)

    def link(self, link: Link) -> Iterable[str]:
        """The connection opened: from now on ``link`` serves the names.

        Returns:
            The names asked for so far, for the caller to join (none after :meth:`end`).
        """
        with self._lock:
            if self._ended:
                return ()
            self._link = link
            return sorted(self._names)

    def end(self) -> None:
        """The connection closed: no name is joined or left any more."""
        with self._lock:
            self._ended = True
            self._link = None


def subscriptions_of(ctrl: object) -> Subscriptions:
    """The channels ``ctrl`` asked for (for krait's server side only)."""
    # In the instance's dict, not set by __init__: controllers written for the original
    # Krait need not call the base __init__. setdefault is atomic: two threads asking first
    # get the same object.
    found: Subscriptions = vars(ctrl).setdefault("_subscriptions", Subscriptions())
    return found


class ChannelMember:
    """Subscribing a controller's connection to channels: the methods both kinds of
    :mod:`krait.websockets` controllers share."""

    def subscribe(self, channel: str) -> None:
        """Receive every message published to ``channel`` until the connection closes.

        The messages are sent to the client as they are, as if the controller had sent
        them; subscribing again is a no-op. It may be called from any thread, and also
        before the connection opens (in ``__init__`` or the route target): the
        subscription then starts when it opens.

        Args:
            channel: the channel's name, 1 to 256 characters, e.g. ``"chat:lobby"``.
        """
        subscriptions_of(self).add(checked_channel(channel))

    def unsubscribe(self, channel: str) -> None:
        """Stop receiving the messages of ``channel`` (a no-op when not subscribed).

        Args:
            channel: the channel's name.
        """
        subscriptions_of(self).remove(checked_channel(channel))

    @property
    def subscriptions(self) -> frozenset[str]:
        """The channels the controller is subscribed to (or will be, once it opens)."""
        return subscriptions_of(self).names
