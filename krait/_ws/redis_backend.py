"""Channels through Redis pub/sub: a message published in any worker reaches every one.

:class:`RedisBackend` keeps two connections to Redis on the reactor (txredisapi, each a
:class:`krait._ws.redis_link.RedisLink`): one publishes, the other is subscribed to the
Redis channels of the krait channels that have subscribers in this process, and no others.
A message published here goes to Redis only; Redis sends it back to every subscribed
process, this one included, which hands it to its connections. Payloads carry the message
type (:mod:`krait._ws.redis_wire`), so text stays text and binary stays binary.

While Redis is unreachable, up to :data:`PUBLISH_BACKLOG` published messages wait and go out
in order once it is back (and this process's subscriptions are confirmed again, so that its
own subscribers get them too); more are dropped, and the log says how many. Subscriptions are
made again on every new connection. Messages published elsewhere during the outage are not
seen here: Redis pub/sub keeps nothing for a subscriber that is away.
"""

from __future__ import annotations

import collections
from typing import Any

import txredisapi
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from krait._ws.channels import Message
from krait._ws.redis_link import RedisLink
from krait._ws.redis_wire import (
    ForeignPayloadError,
    RedisAddress,
    decode_payload,
    encode_payload,
    krait_channel,
    redis_channel,
)

log = Logger(namespace="krait.websockets")

PUBLISH_BACKLOG = 1000
"""Messages published while Redis is unreachable that wait for it; more are dropped."""


class _Subscriber(txredisapi.SubscriberProtocol):  # type: ignore[misc]
    """The subscribed connection: every message goes to the backend, on the reactor."""

    def __init__(self, backend: RedisBackend) -> None:
        super().__init__(charset=None)
        self.backend = backend

    def messageReceived(self, pattern: Any, channel: bytes, message: bytes) -> None:
        self.backend.received(channel, message)


class RedisBackend:
    """Carries channel messages through Redis.

    Args:
        reactor: the reactor the connections run on.
        address: the Redis server (``krait.config.pubsub_url`` or ``--pubsub-url``).
        fan_out: hands a message to this process's subscribers of a channel.
    """

    def __init__(self, reactor: Any, address: RedisAddress, fan_out: Any) -> None:
        self._address = address
        self._fan_out = fan_out
        self._listening: set[str] = set()
        self._waiting: collections.deque[tuple[bytes, bytes]] = collections.deque()
        self._dropped = 0
        self._failed_publishes = 0
        self._bad_payloads = 0
        # The subscribed connection whose subscriptions Redis confirmed, if it is still up.
        self._confirmed: Any = None
        self._subscriber = RedisLink(
            reactor, address, "channel subscriptions", self._new_subscriber, self._resubscribe
        )
        self._publisher = RedisLink(
            reactor, address, "channel publishing", self._new_publisher, self._publisher_up
        )

    def start(self) -> None:
        self._subscriber.start()
        self._publisher.start()

    def stop(self) -> Deferred[None]:
        stopping = [self._subscriber.stop(), self._publisher.stop()]
        return gatherResults(stopping, consumeErrors=True).addCallback(lambda _: None)

    def publish(self, channel: str, message: Message) -> None:
        name, payload = redis_channel(self._address, channel), encode_payload(message)
        protocol = self._publisher.protocol
        if protocol is None or self._waiting:
            self._hold(name, payload)  # behind what waits already: the order is kept
            return
        self._send(protocol, name, payload)

    def listen(self, channel: str) -> None:
        self._listening.add(channel)
        protocol = self._subscriber.protocol
        if protocol is not None:
            self._command(protocol.subscribe, redis_channel(self._address, channel))

    def unlisten(self, channel: str) -> None:
        self._listening.discard(channel)
        protocol = self._subscriber.protocol
        if protocol is not None:
            self._command(protocol.unsubscribe, redis_channel(self._address, channel))

    def received(self, redis_name: bytes, payload: bytes) -> None:
        """A message from Redis: to this process's subscribers (on the reactor)."""
        channel = krait_channel(self._address, redis_name)
        if channel is None:
            return
        try:
            message = decode_payload(payload)
        except ForeignPayloadError as error:
            self._bad_payloads += 1
            if self._bad_payloads == 1:
                log.warn(
                    "dropped a message on Redis channel {name!r} that krait did not publish "
                    "({error}); publish to krait channels with krait.websockets.publish",
                    name=redis_name,
                    error=str(error),
                )
            return
        self._fan_out(channel, message)

    def _new_subscriber(self) -> Any:
        return _Subscriber(self)

    def _new_publisher(self) -> Any:
        return txredisapi.RedisProtocol(charset=None)

    def _resubscribe(self, protocol: Any) -> None:
        confirmations = [
            self._command(protocol.subscribe, redis_channel(self._address, channel))
            for channel in sorted(self._listening)
        ]
        gathered = gatherResults(confirmations, consumeErrors=True)
        gathered.addBoth(self._resubscribed, protocol)

    def _resubscribed(self, _: object, protocol: Any) -> None:
        if protocol is self._subscriber.protocol:
            self._confirmed = protocol
            self._send_waiting()

    def _publisher_up(self, protocol: Any) -> None:
        self._send_waiting()

    def _send(self, protocol: Any, name: bytes, payload: bytes) -> None:
        try:
            sending = protocol.publish(name, payload)
        except txredisapi.ConnectionError:
            self._hold(name, payload)
            return
        sending.addErrback(self._publish_failed)

    def _hold(self, name: bytes, payload: bytes) -> None:
        """Redis is unreachable: keep the message for later, up to the backlog."""
        if len(self._waiting) < PUBLISH_BACKLOG:
            self._waiting.append((name, payload))
            return
        self._dropped += 1
        if self._dropped == 1:
            log.warn(
                "Redis at {address} is unreachable and {count} published messages wait for "
                "it: dropping what is published until it is back",
                address=str(self._address),
                count=PUBLISH_BACKLOG,
            )

    def _send_waiting(self) -> None:
        """Send what was published during an outage, once both connections are back: what
        this process's own subscribers would miss otherwise waits for their subscriptions."""
        protocol = self._publisher.protocol
        if protocol is None or self._confirmed is not self._subscriber.protocol:
            return
        waiting, self._waiting = self._waiting, collections.deque()
        for name, payload in waiting:
            self._send(protocol, name, payload)
        if waiting or self._dropped:
            log.info(
                "sent {sent} message(s) published while Redis was unreachable; "
                "{dropped} more were dropped",
                sent=len(waiting),
                dropped=self._dropped,
            )
        self._dropped = 0

    def _publish_failed(self, failure: Failure) -> None:
        # Written to a connection that broke before its reply came: the message may be lost.
        self._failed_publishes += 1
        if self._failed_publishes in (1, 10, 100) or self._failed_publishes % 1000 == 0:
            log.warn(
                "a publish to Redis failed ({error}); {count} so far",
                error=failure.getErrorMessage(),
                count=self._failed_publishes,
            )

    def _command(self, command: Any, name: bytes) -> Deferred[Any]:
        try:
            done: Deferred[Any] = command([name])  # a list: txredisapi iterates over the rest
        except txredisapi.ConnectionError:
            return succeed(None)  # going down: it subscribes again when it is back
        return done.addErrback(_command_failed, name)


def _command_failed(failure: Failure, name: bytes) -> None:
    # A connection that broke meanwhile subscribes anew once it is back: nothing to say.
    if not failure.check(txredisapi.ConnectionError):
        log.failure("Redis refused to (un)subscribe {name!r}", failure=failure, name=name)
