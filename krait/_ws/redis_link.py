"""One connection to Redis that comes back by itself: connect, log in, and retry with back-off.

:class:`RedisLink` holds a txredisapi protocol on the reactor. While Redis is unreachable it
tries again after 0.5 s, 1 s, 2 s, ... up to 10 s between attempts
(:func:`krait._ws.redis_wire.reconnect_delay`), logs the outage once when it begins and once
when it ends, and hands every new connection to its owner, who subscribes again or sends what
waited. Nothing raises into the server: an outage is log lines, not a crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import txredisapi
from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.protocol import Factory
from twisted.internet.ssl import optionsForClientTLS
from twisted.logger import Logger
from twisted.python.failure import Failure

from krait._ws.redis_wire import RedisAddress, reconnect_delay

log = Logger(namespace="krait.websockets")

CONNECT_TIMEOUT = 5.0
"""Seconds one attempt to connect to Redis may take."""

Ready = Callable[[Any], None]


class _OneConnection(Factory):
    """Builds the one protocol of an attempt (``connectProtocol``'s, without its log line)."""

    noisy = False

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def buildProtocol(self, addr: Any) -> Any:
        return self._protocol


class RedisLink:
    """A reconnecting connection to Redis for one role (subscribing or publishing).

    Args:
        reactor: the reactor the connection runs on.
        address: where Redis is, and the credentials.
        role: what the connection is for, in log lines.
        make_protocol: builds a fresh txredisapi protocol for each attempt.
        ready: called with each connection once it is logged in.
    """

    def __init__(
        self,
        reactor: Any,
        address: RedisAddress,
        role: str,
        make_protocol: Callable[[], Any],
        ready: Ready,
    ) -> None:
        self._reactor = reactor
        self._address = address
        self._role = role
        self._make_protocol = make_protocol
        self._ready = ready
        self.protocol: Any = None
        """The connection while it is up and logged in, else None."""
        self._attempt = 0
        self._retry: Any = None
        self._stopping = False
        self._down_since: float | None = None

    def start(self) -> None:
        """Connect (and keep connecting until :meth:`stop`)."""
        self._stopping = False
        self._connect()

    def stop(self) -> Deferred[None]:
        """Stop retrying and close the connection; fires once it is closed."""
        self._stopping = True
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        protocol, self.protocol = self.protocol, None
        if protocol is None or protocol.transport is None:
            return succeed(None)
        closed: Deferred[None] = protocol.whenDisconnected().addCallback(lambda _: None)
        protocol.transport.loseConnection()
        return closed

    def _endpoint(self) -> Any:
        address = self._address
        endpoint: Any = HostnameEndpoint(
            self._reactor, address.host, address.port, timeout=CONNECT_TIMEOUT
        )
        if address.tls:
            return wrapClientTLS(optionsForClientTLS(address.host), endpoint)
        return endpoint

    def _connect(self) -> None:
        self._retry = None
        connecting = self._endpoint().connect(_OneConnection(self._make_protocol()))
        connecting.addCallback(self._log_in)
        connecting.addCallbacks(self._connected, self._failed)

    def _log_in(self, protocol: Any) -> Deferred[Any]:
        return ensureDeferred(self._logged_in(protocol))

    async def _logged_in(self, protocol: Any) -> Any:
        await protocol.whenConnected()
        password = self._address.password
        if password is not None:
            try:
                await protocol.auth(password, self._address.username)
            except txredisapi.ResponseError:
                protocol.transport.loseConnection()
                raise
        return protocol

    def _connected(self, protocol: Any) -> None:
        if self._stopping:
            protocol.transport.loseConnection()
            return
        if self._down_since is not None:
            log.info(
                "Redis at {address} is back after {seconds:.1f}s ({role})",
                address=str(self._address),
                seconds=time.monotonic() - self._down_since,
                role=self._role,
            )
        else:
            log.info(
                "connected to Redis at {address} ({role})",
                address=str(self._address),
                role=self._role,
            )
        self._attempt = 0
        self._down_since = None
        self.protocol = protocol
        protocol.whenDisconnected().addCallback(self._lost, protocol)
        self._ready(protocol)

    def _lost(self, _: object, protocol: Any) -> None:
        if protocol is not self.protocol:
            return  # closed by stop()
        self.protocol = None
        if self._stopping:
            return
        log.warn(
            "lost the connection to Redis at {address} ({role}); reconnecting",
            address=str(self._address),
            role=self._role,
        )
        self._down_since = time.monotonic()
        self._schedule()

    def _failed(self, failure: Failure) -> None:
        if self._stopping:
            return
        first = self._attempt == 0
        if self._down_since is None:
            self._down_since = time.monotonic()
        delay = self._schedule()
        # One warning per outage; the attempts after it go to the debug level.
        emit = log.warn if first else log.debug
        emit(
            "cannot reach Redis at {address} ({role}): {error}; trying again in {delay:.1f}s "
            "(then at most every {cap:.0f}s)",
            address=str(self._address),
            role=self._role,
            error=failure.getErrorMessage() or repr(failure.value),
            delay=delay,
            cap=reconnect_delay(100),
        )

    def _schedule(self) -> float:
        self._attempt += 1
        delay = reconnect_delay(self._attempt)
        self._retry = self._reactor.callLater(delay, self._connect)
        return delay
