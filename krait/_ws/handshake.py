"""Pure WebSocket rules: the settings, and whether an upgrade request may be accepted.

Nothing here touches Twisted or Autobahn. :mod:`krait._ws.upgrade` asks
:func:`handshake_refusal` after the route target accepted an upgrade and answers with the
refusal it returns, so an invalid handshake gets a plain HTTP error from krait (with
``Connection: close``) before Autobahn is involved.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

WEBSOCKET_VERSION = "13"
"""The only protocol version krait speaks (RFC 6455)."""

DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
"""Messages (and frames) larger than this close the connection with 1009."""

DEFAULT_CHANNEL_BACKLOG = 2 * 1024 * 1024
"""Unsent bytes at which a channel message closes a connection with 1008 instead: twice the
mark at which a threaded controller's own pushes wait, so that those alone never reach it."""


@dataclass(frozen=True)
class WebsocketsSettings:
    """How krait runs WebSocket connections.

    Attributes:
        max_message_size: the largest message or frame accepted, in bytes; a larger one
            closes the connection with status 1009 (Message Too Big).
        ping_interval: seconds of silence after which the server pings the peer; 0 never
            pings.
        ping_timeout: seconds to wait for the pong before dropping the connection.
        allowed_origins: ``Origin`` values browsers may connect from (``*`` matches any
            run of characters, e.g. ``https://*.example.com``); None allows every origin.
            Requests without an ``Origin`` header (non-browser clients) are always allowed.
        shutdown_grace: seconds the server waits at shutdown for connections to close and
            controller threads to return.
        open_handshake_timeout: seconds Autobahn waits for a handshake to complete.
        close_handshake_timeout: seconds to wait for the peer's Close reply before dropping.
        deflate: accept permessage-deflate offers (RFC 7692; see ``krait._ws.deflate``).
        channel_backlog: bytes a connection may have waiting for its client when a channel
            message arrives; past it the connection closes with 1008 (a subscriber that
            does not read).
    """

    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    ping_interval: float = 30.0
    ping_timeout: float = 30.0
    allowed_origins: tuple[str, ...] | None = None
    shutdown_grace: float = 5.0
    open_handshake_timeout: float = 5.0
    close_handshake_timeout: float = 1.0
    deflate: bool = False
    channel_backlog: int = DEFAULT_CHANNEL_BACKLOG


@dataclass(frozen=True)
class HandshakeRefusal:
    """An HTTP answer that refuses an upgrade.

    Attributes:
        status: the HTTP status code.
        phrase: the reason phrase.
        reason: what was wrong, for the log.
        headers: extra response headers.
    """

    status: int
    phrase: str
    reason: str
    headers: tuple[tuple[str, str], ...] = field(default=())


def parse_allowed_origins(text: str | None) -> tuple[str, ...] | None:
    """Parse a ``--ws-allowed-origins`` value: comma-separated origins, ``*`` for all.

    Args:
        text: the option's value, or None when it was not given.

    Returns:
        The lower-cased origins, or None when every origin is allowed.
    """
    if text is None:
        return None
    origins = tuple(item.strip().lower().rstrip("/") for item in text.split(",") if item.strip())
    if not origins or "*" in origins:
        return None
    return origins


def origin_allowed(origin: str | None, allowed: Sequence[str] | None) -> bool:
    """Tell whether a browser at ``origin`` may open a connection.

    Args:
        origin: the request's ``Origin`` header, or None when it has none.
        allowed: lower-cased allowed origins (``*`` wildcards), or None for all.

    Returns:
        True when the origin is allowed, or there is no list, or no ``Origin`` header.
    """
    if allowed is None or origin is None:
        return True
    value = origin.strip().lower().rstrip("/")
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in allowed)


def _has_token(value: str | None, token: str) -> bool:
    if not value:
        return False
    return any(item.strip().lower() == token for item in value.split(","))


def _valid_key(value: str | None) -> bool:
    if value is None or len(value.strip()) != 24:
        return False
    try:
        return len(base64.b64decode(value.strip(), validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def _bad_request(reason: str, *headers: tuple[str, str]) -> HandshakeRefusal:
    return HandshakeRefusal(400, "Bad Request", reason, tuple(headers))


def handshake_refusal(
    method: str,
    http_version: str,
    headers: Mapping[str, str],
    allowed_origins: Sequence[str] | None = None,
) -> HandshakeRefusal | None:
    """Check an upgrade request against RFC 6455 §4.2.1 and the origin list.

    Args:
        method: the request method.
        http_version: the request's version, e.g. ``"HTTP/1.1"``.
        headers: the request headers with lower-case names.
        allowed_origins: see :attr:`WebsocketsSettings.allowed_origins`.

    Returns:
        None when the upgrade may go ahead, else the refusal to send.
    """
    if method != "GET":
        return _bad_request(f"a WebSocket upgrade must use GET, not {method}")
    if http_version != "HTTP/1.1":
        return _bad_request(f"a WebSocket upgrade needs HTTP/1.1, not {http_version}")
    if not headers.get("host"):
        return _bad_request("the upgrade request has no Host header")
    if not _has_token(headers.get("connection"), "upgrade"):
        return _bad_request("the Connection header does not contain 'upgrade'")
    if not _valid_key(headers.get("sec-websocket-key")):
        return _bad_request("Sec-WebSocket-Key is missing or not 16 base64-encoded bytes")
    if headers.get("sec-websocket-version", "").strip() != WEBSOCKET_VERSION:
        return _bad_request(
            "Sec-WebSocket-Version must be 13",
            ("Sec-WebSocket-Version", WEBSOCKET_VERSION),
        )
    origin = headers.get("origin")
    if not origin_allowed(origin, allowed_origins):
        return HandshakeRefusal(
            403, "Forbidden", f"origin {origin!r} is not in --ws-allowed-origins"
        )
    return None
