"""What a connection over ``--max-connections`` gets: ``503`` with ``Retry-After``, and a close.

The site accepts it (a connection left in the listening queue would hang, and one refused by
EMFILE refuses everyone after it) and answers at once, before reading anything. Closing a
socket that holds unread bytes (the client's request) makes the kernel answer with a reset,
which can reach the client before it read the 503; so the answer goes out with a FIN, the
request is read and dropped, and the connection is aborted :data:`REFUSAL_LINGER` seconds
later if the client has not closed it by then. Only so many refused connections linger at
once (:data:`krait._open_files.MAX_LINGERING_REFUSALS`); past them a refusal closes at once.

A TLS port closes a connection over the limit without an answer: an HTTP answer would cost a
TLS handshake, the very work a full server must not take on, and an HTTP/2 client would not
read an HTTP/1.1 one.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IReactorTime, ISSLTransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from krait._answers import refusal_bytes
from krait._open_files import ConnectionSlots

__all__ = ["REFUSAL_LINGER", "RETRY_AFTER", "ConnectionRefusal"]

log = Logger(namespace="krait")

RETRY_AFTER = b"1"
"""Seconds a refused client is asked to wait (as for a full page queue)."""

REFUSAL_LINGER = 1.0
"""Seconds a refused connection stays open for its client to read the 503."""


class ConnectionRefusal(Protocol):
    """Answers ``503`` to a connection the site has no room for, and closes it.

    Args:
        slots: the site's connection count (for the log, and to bound lingering refusals).
        clock: the reactor's clock, for the linger.
    """

    def __init__(self, slots: ConnectionSlots, clock: IReactorTime) -> None:
        self._slots = slots
        self._clock: Any = clock  # zope interfaces do not type their methods for mypy
        self._lingering = False
        self._abort_call: Any = None

    def connectionMade(self) -> None:
        if self._slots.refused_in_a_row == 1:
            log.warn(
                "{limit} connections are open (see --max-connections): new ones get 503 "
                "until one closes",
                limit=self._slots.limit,
            )
        transport: Any = self.transport
        if ISSLTransport.providedBy(transport):
            transport.abortConnection()
            return
        transport.write(
            refusal_bytes(
                503,
                f"the server has all the {self._slots.limit} connections it takes open",
                headers=((b"Retry-After", RETRY_AFTER),),
            )
        )
        if not self._slots.linger():
            transport.loseConnection()
            return
        self._lingering = True
        transport.loseWriteConnection()
        self._abort_call = self._clock.callLater(REFUSAL_LINGER, transport.abortConnection)

    def dataReceived(self, data: bytes) -> None:
        """Drop the request: it is answered already."""

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._abort_call is not None and self._abort_call.active():
            self._abort_call.cancel()
        self._abort_call = None
        if self._lingering:
            self._lingering = False
            self._slots.stop_lingering()
