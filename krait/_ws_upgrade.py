"""Moving a connection from twisted.web to a WebSocket protocol, or refusing to.

The route target ran in a worker thread while twisted.web held the connection. To accept, the
transport is detached from the HTTP channel, attached to the Autobahn protocol, and the
request head is replayed into it, so Autobahn performs the handshake (101,
``Sec-WebSocket-Accept``, the subprotocol) as if it had read the request itself. To refuse,
an ordinary HTTP error is written and the connection closed.
"""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper

from krait._answers import write_error
from krait._http import close_after
from krait._static import request_headers
from krait._ws_handshake import HandshakeRefusal, WebsocketsSettings, handshake_refusal

log = Logger(namespace="krait.websockets")

_REPLACED_HEADERS = (b"upgrade", b"connection")


def upgrade_refusal(request: Any, settings: WebsocketsSettings) -> HandshakeRefusal | None:
    """Why the upgrade cannot go ahead, or None when it can."""
    if getattr(request.channel, "transport", None) is None:
        # HTTP/2 streams have no transport of their own to take over.
        return HandshakeRefusal(
            426,
            "Upgrade Required",
            "WebSocket upgrades need an HTTP/1.1 connection",
            (("Upgrade", "websocket"),),
        )
    return handshake_refusal(
        request.method.decode("ascii", "replace"),
        request.clientproto.decode("ascii", "replace"),
        request_headers(request),
        settings.allowed_origins,
    )


def refuse(request: Any, refusal: HandshakeRefusal) -> None:
    """Answer the upgrade request with ``refusal`` and close the connection."""
    log.info(
        "refused the WebSocket upgrade of {uri!r} with {status}: {reason}",
        uri=request.uri,
        status=refusal.status,
        reason=refusal.reason,
    )
    body = write_error(request, refusal.status, refusal.phrase, "")
    for name, value in refusal.headers:
        request.setHeader(name.encode("latin-1"), value.encode("latin-1"))
    close_after(request)
    request.write(body)
    request.finish()


def take_over(request: Any, protocol: Any) -> None:
    """Hand the request's connection to ``protocol`` and replay the request head into it."""
    channel = request.channel
    transport = channel.transport
    # Data the client sent after the head waits in the channel (a conforming client sends
    # none before the 101, but nothing may be lost).
    early_data = b"".join(getattr(channel, "_dataBuffer", []))
    _log_access(request)
    channel.transport = None
    transport.unregisterProducer()
    if isinstance(transport, ProtocolWrapper):
        transport.wrappedProtocol = protocol
    elif isinstance(getattr(transport, "protocol", None), ProtocolWrapper):
        transport.protocol.wrappedProtocol = protocol
    else:
        transport.protocol = protocol
    protocol.makeConnection(transport)
    # The channel stopped reading while the target ran; nothing else will restart it.
    resume = getattr(transport, "resumeProducing", None)
    if resume is not None:
        resume()
    protocol.dataReceived(request_head(request) + early_data)


def request_head(request: Any) -> bytes:
    """The upgrade request's head in origin form, with canonical Upgrade and Connection."""
    target = request.path + (b"?" + request.uri.split(b"?", 1)[1] if b"?" in request.uri else b"")
    lines = [b"GET " + target + b" HTTP/1.1"]
    for name, values in request.requestHeaders.getAllRawHeaders():
        if name.lower() not in _REPLACED_HEADERS:
            lines.extend(name + b": " + value for value in values)
    lines += [b"Upgrade: websocket", b"Connection: Upgrade", b"", b""]
    return b"\r\n".join(lines)


def _log_access(request: Any) -> None:
    """Write the access-log line of the upgrade, which twisted.web will never finish."""
    request.setResponseCode(101)
    factory = getattr(request.channel, "factory", None)
    if factory is not None:
        factory.log(request)
