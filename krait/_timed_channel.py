"""An HTTP/1.x channel that holds its clients to a deadline for each request head and a minimum
rate for each request body, against slowloris.

twisted.web's ``HTTPChannel`` guards a connection with one idle timeout, which every byte
received starts again: a client sending a header byte every 10 s held its connection as long
as it liked. :class:`TimedChannel` follows each request through its :class:`Phase` and keeps
one timer for the phase that has a limit; when it fires, :mod:`krait._deadlines` decides
whether the client is too slow or when to ask again (so no timer is rescheduled per byte).
A request too slow is answered ``408 Request Timeout`` and its connection closed, then
aborted if the client does not let it close.

The idle timeout stays (``--keepalive-timeout``): it is what closes a keep-alive connection
between requests, where no head has begun. A connection's first request counts from the
moment the connection was accepted (its TLS handshake included), so a client that connects
and sends nothing is closed by the head deadline too, without an answer.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, cast

from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web import http

from krait._deadlines import ClientLimits, Verdict, body_verdict, head_verdict
from krait._twisted_compat import pause_idle_timeout

__all__ = ["CLOSE_GRACE", "BodyClock", "Phase", "TimedChannel"]

_HTTP_CHANNEL: Any = http.HTTPChannel
"""The base class, called by name in the per-request hooks: ``cast(Any, super())`` costs two
calls each time, and these run several times per request."""

CLOSE_GRACE = 2.0
"""Seconds a connection closed for slowness gets to take its 408 before it is aborted."""


class Phase(Enum):
    """Where a connection is in its current request, as far as timing goes."""

    WAITING = "waiting for a request's first byte"
    HEAD = "reading a request head"
    BODY = "reading a request body"
    HANDLING = "answering; the next request's bytes wait"
    ENDED = "closed, closing, or handed to another protocol"


class TimedChannel(http.HTTPChannel):
    """An ``HTTPChannel`` that times the head and body of each request.

    Args:
        limits: the deadlines; None times nothing (an untimed channel, for tests).
        clock: the reactor's clock for the timers; needed with ``limits``.
    """

    def __init__(
        self, limits: ClientLimits | None = None, clock: IReactorTime | None = None
    ) -> None:
        cast(Any, super()).__init__()
        self._limits = limits if clock is not None else None
        # zope interfaces do not type their methods for mypy.
        self._clock: Any = clock
        self._phase = Phase.WAITING
        self._timer: Any = None
        self._started = 0.0
        self._body: BodyClock | None = None
        self._answered = False

    @property
    def phase(self) -> Phase:
        """Where the connection is in its current request."""
        return self._phase

    def answer_too_slow(self, reason: str) -> None:
        """Answer ``408`` to a request sent too slowly, then :meth:`close_within_grace`.

        Subclasses write the answer.
        """
        raise NotImplementedError

    def stop_timing(self) -> None:
        """Time nothing more: the connection closed, or another protocol took it over."""
        self._phase = Phase.ENDED
        self._cancel()
        cast(Any, self).setTimeout(None)  # the idle timeout too (it may be paused, not off)

    def connectionMade(self) -> None:
        cast(Any, super()).connectionMade()
        limits = self._limits
        if limits is not None and limits.times_heads:
            self._start(limits.header_timeout, self._check_head)

    def dataReceived(self, data: bytes) -> None:
        if data and self._phase is Phase.WAITING:
            self._phase = Phase.HEAD
            limits = self._limits
            if limits is not None and limits.times_heads:
                if self._timer is None:
                    self._start(limits.header_timeout, self._check_head)
                elif self._answered:
                    # The timer of an earlier head still runs: it fires no later than this
                    # head's deadline and re-arms itself for the rest (no timer per request).
                    self._started = self._clock.seconds()
        self.read_requests(data)

    def read_requests(self, data: bytes) -> None:
        """Read ``data`` as HTTP/1.x requests (twisted.web's reader, a line at a time);
        subclasses may read some requests faster."""
        _HTTP_CHANNEL.dataReceived(self, data)

    def rawDataReceived(self, data: bytes) -> None:
        if self._phase is Phase.BODY and self._body is not None:
            self._body.add(len(data))
        cast(Any, super()).rawDataReceived(data)

    def allHeadersReceived(self) -> None:
        # The idle timeout waits while the request is answered, its timer kept, not cancelled
        # and made anew per request.
        pause_idle_timeout(self)
        _HTTP_CHANNEL.allHeadersReceived(self)
        if self._phase is not Phase.HEAD:
            return
        # The head timer stays: it finds no head to judge when it fires (see _check_head).
        self._stop_body()
        limits = self._limits
        if self.length != 0:  # a body follows (None: chunked)
            self._phase = Phase.BODY
            if limits is not None and limits.times_bodies:
                self._body = BodyClock(self._clock, limits, self.answer_too_slow)

    def allContentReceived(self) -> None:
        # Set before twisted.web hands the request on: it may be answered at once, and the
        # next request's bytes replayed, within this call.
        if self._phase is not Phase.ENDED:
            self._phase = Phase.HANDLING
        self._stop_body()
        _HTTP_CHANNEL.allContentReceived(self)

    def requestDone(self, request: http.Request) -> None:
        if self._phase is Phase.HANDLING:
            self._phase = Phase.WAITING
            self._answered = True
        _HTTP_CHANNEL.requestDone(self, request)

    def timeoutConnection(self) -> None:
        if self.timeOut is None:
            return  # the timer of a paused idle timeout: requestDone arms it again
        _HTTP_CHANNEL.timeoutConnection(self)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.stop_timing()
        cast(Any, super()).connectionLost(reason)

    def _start(self, delay: float, check: Callable[[], None]) -> None:
        assert self._clock is not None
        self._started = self._clock.seconds()
        self._timer = self._clock.callLater(delay, check)

    def _cancel(self) -> None:
        _cancel(self._timer)
        self._timer = None
        self._stop_body()

    def _stop_body(self) -> None:
        if self._body is not None:
            self._body.stop()
            self._body = None

    def close_within_grace(self) -> None:
        """Stop timing and close the connection; abort it if it is still open
        :data:`CLOSE_GRACE` seconds later (a client that does not let it close)."""
        self.stop_timing()  # the idle timeout too: this channel's own abort replaces it
        cast(Any, self).loseConnection()
        if self._clock is not None:
            self._timer = self._clock.callLater(CLOSE_GRACE, self._abort)

    def _check_head(self) -> None:
        self._timer = None
        if self._phase is Phase.WAITING and not self._answered:
            # A new connection that sent nothing: nobody waits for an answer.
            self.close_within_grace()
        elif self._phase is Phase.HEAD:
            self._judge(head_verdict(self._elapsed(), self._given_limits()), self._check_head)
        # Otherwise the head it was set for is in: the next head starts a timer of its own,
        # and a keep-alive connection between requests is the idle timeout's.

    def _judge(self, verdict: Verdict, check: Callable[[], None]) -> None:
        if verdict.too_slow:
            self.answer_too_slow(verdict.reason)
            return
        self._timer = self._clock.callLater(verdict.check_again_in, check)

    def _abort(self) -> None:
        self._timer = None
        transport: Any = self.transport
        if transport is not None:
            transport.abortConnection()

    def _elapsed(self) -> float:
        now: float = self._clock.seconds()
        return now - self._started

    def _given_limits(self) -> ClientLimits:
        assert self._limits is not None
        return self._limits


class BodyClock:
    """Times one request body against the minimum rate, from the moment it is made.

    Used by :class:`TimedChannel` for HTTP/1.x bodies and by ``KraitRequest`` for the body
    of each HTTP/2 stream.

    Args:
        clock: the reactor's clock.
        limits: the body timeout and minimum rate.
        too_slow: called once, with the reason, if the body falls behind.
    """

    def __init__(
        self, clock: IReactorTime, limits: ClientLimits, too_slow: Callable[[str], None]
    ) -> None:
        self._clock = cast(Any, clock)  # zope interfaces do not type their methods for mypy
        self._limits = limits
        self._too_slow = too_slow
        self._started: float = self._clock.seconds()
        self.received = 0
        """Bytes of body received so far."""
        self._timer: Any = self._clock.callLater(limits.body_timeout, self._check)

    def add(self, size: int) -> None:
        """Count ``size`` more bytes of body."""
        self.received += size

    def stop(self) -> None:
        """The body is in, or nobody waits for it any more."""
        _cancel(self._timer)
        self._timer = None

    def _check(self) -> None:
        now: float = self._clock.seconds()
        verdict = body_verdict(now - self._started, self.received, self._limits)
        if verdict.too_slow:
            self._timer = None
            self._too_slow(verdict.reason)
        else:
            self._timer = self._clock.callLater(verdict.check_again_in, self._check)


def _cancel(timer: Any) -> None:
    if timer is not None and timer.active():
        timer.cancel()
