"""How slowly a client may send a request: a deadline for its head, a minimum rate for its body.

A slowloris client holds a connection by sending its request a byte at a time. twisted.web's
only guard is an idle timeout that starts again with every byte, so a header byte every 10 s
kept a connection open for minutes, and a thousand such connections used up the process's
open files. krait gives every request head a total deadline (nginx's
``client_header_timeout``, the ``header=`` of Apache's mod_reqtimeout) and every request body
an initial time plus a minimum rate (mod_reqtimeout's ``body=20,MinRate=500``): a body's
deadline starts at ``body_timeout`` seconds, and every ``body_min_rate`` bytes received push it
one second further. A client on a slow but working link keeps up; a trickle does not.

Pure: plain numbers in, a :class:`Verdict` out. The HTTP channel owns the timers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_BODY_MIN_RATE",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_KEEPALIVE_TIMEOUT",
    "ClientLimits",
    "Verdict",
    "body_verdict",
    "head_verdict",
]

DEFAULT_HEADER_TIMEOUT = 20.0
"""Seconds a request head may take (mod_reqtimeout's 20; nginx allows 60)."""

DEFAULT_BODY_TIMEOUT = 20.0
"""Seconds a request body gets before its rate counts (mod_reqtimeout's ``body=20``)."""

DEFAULT_BODY_MIN_RATE = 500
"""Bytes per second a request body must keep up after that (mod_reqtimeout's ``MinRate=500``)."""

DEFAULT_KEEPALIVE_TIMEOUT = 60.0
"""Seconds an idle connection stays open (twisted.web's default; nginx keeps 75)."""


@dataclass(frozen=True)
class ClientLimits:
    """How slowly a client may send its requests; a limit of 0 is no limit.

    Attributes:
        header_timeout: seconds from the first byte of a request head to its end. A
            connection's first request counts from the moment the connection was accepted,
            so that one that sends nothing at all is closed as well.
        body_timeout: seconds a request body gets, before its rate starts to count.
        body_min_rate: bytes per second; every ``body_min_rate`` bytes of body received add
            one second to the body's deadline. 0 turns the body limit off.
        keepalive_timeout: seconds a connection may stay silent: between two requests (then
            it is closed without an answer), and within one.
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    body_min_rate: int = DEFAULT_BODY_MIN_RATE
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT

    @property
    def times_heads(self) -> bool:
        """Whether request heads have a deadline."""
        return self.header_timeout > 0

    @property
    def times_bodies(self) -> bool:
        """Whether request bodies have a minimum rate."""
        return self.body_min_rate > 0


@dataclass(frozen=True)
class Verdict:
    """Whether a request is too slow, and if not, when to ask again.

    Attributes:
        too_slow: the client broke the limit; the request gets 408 and the connection closes.
        check_again_in: seconds from now until the verdict could change (0 when too slow).
        reason: what the client did, naming the limit, for the 408 and the log.
    """

    too_slow: bool
    check_again_in: float = 0.0
    reason: str = ""


def head_verdict(elapsed: float, limits: ClientLimits) -> Verdict:
    """Judge a request head still incomplete ``elapsed`` seconds after it started."""
    left = limits.header_timeout - elapsed
    if left > 0:
        return Verdict(too_slow=False, check_again_in=left)
    return Verdict(
        too_slow=True,
        reason=f"the request head took over {_seconds(limits.header_timeout)} "
        "(see --header-timeout)",
    )


def body_verdict(elapsed: float, received: int, limits: ClientLimits) -> Verdict:
    """Judge a request body of which ``received`` bytes arrived in ``elapsed`` seconds.

    Its deadline is ``body_timeout + received / body_min_rate`` seconds after it started.
    """
    allowed = limits.body_timeout + received / limits.body_min_rate
    left = allowed - elapsed
    if left > 0:
        return Verdict(too_slow=False, check_again_in=left)
    return Verdict(
        too_slow=True,
        reason=f"the request body arrived slower than {limits.body_min_rate} bytes/s "
        f"({received} bytes in {_seconds(elapsed)}; see --body-min-rate, --body-timeout)",
    )


def _seconds(value: float) -> str:
    return f"{value:g} s" if value == int(value) else f"{value:.1f} s"
