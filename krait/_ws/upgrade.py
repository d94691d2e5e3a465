"""Moving a connection from twisted.web to a WebSocket protocol, or refusing to.

:func:`accept_upgrade` is the entry point: it takes an upgrade the route target accepted,
checks it, and hands the connection to the protocol that matches the controller (threaded or
asynchronous), or answers with the HTTP error that says why not.

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
from twisted.web.server import Request

from krait import _context
from krait._answers import write_error
from krait._channel import KraitChannel
from krait._krait_request import close_after
from krait._static import request_headers
from krait._twisted_compat import unread_request_data
from krait._ws.async_ctrl import AsyncCtrlProtocol
from krait._ws.handshake import HandshakeRefusal, WebsocketsSettings, handshake_refusal
from krait._ws.hub import WebsocketsHub
from krait._ws.protocol import KraitWebSocketProtocol
from krait._ws.threaded import ThreadedCtrlProtocol, threads_needed
from krait.websockets import WebsocketsAsyncCtrlBase, WebsocketsCtrlBase, WebsocketsResponse

log = Logger(namespace="krait.websockets")

_REPLACED_HEADERS = (b"upgrade", b"connection")


def accept_upgrade(
    request: Request,
    ws_response: WebsocketsResponse,
    state: _context.RequestState,
    hub: WebsocketsHub | None,
) -> None:
    """Complete an upgrade the route target accepted, or refuse it with an HTTP error.

    Args:
        request: the twisted.web request still holding the connection.
        ws_response: the target's :class:`krait.websockets.WebsocketsResponse`.
        state: the upgrade request's krait state, active again in the controller's code.
        hub: the site's WebSocket hub, or None when the site serves no WebSockets.
    """
    settings = hub.settings if hub is not None else WebsocketsSettings()
    refusal = upgrade_refusal(request, settings)
    if refusal is None and hub is None:
        refusal = HandshakeRefusal(503, "Service Unavailable", "no WebSocket thread pool")
    if refusal is not None:
        refuse(request, refusal)
        return
    assert hub is not None
    protocol = _protocol_for(request, ws_response, state, hub)
    if protocol is not None:
        take_over(request, protocol)


def _protocol_for(
    request: Request,
    ws_response: WebsocketsResponse,
    state: _context.RequestState,
    hub: WebsocketsHub,
) -> KraitWebSocketProtocol | None:
    """The protocol for the response's controller, or None after refusing the upgrade."""
    ctrl = ws_response.controller
    chosen = ws_response.protocol
    if hub.stopping:
        refuse(request, HandshakeRefusal(503, "Service Unavailable", "the server is stopping"))
        return None
    if isinstance(ctrl, WebsocketsAsyncCtrlBase):
        return AsyncCtrlProtocol(hub, chosen, ctrl, state)
    if not isinstance(ctrl, WebsocketsCtrlBase):
        refuse(
            request,
            HandshakeRefusal(
                500,
                "Internal Server Error",
                "krait.websockets.response.controller must be a WebsocketsCtrlBase or "
                f"WebsocketsAsyncCtrlBase instance, not {type(ctrl).__name__}",
            ),
        )
        return None
    protocol = ThreadedCtrlProtocol(hub, chosen, ctrl, state)
    if not hub.slots.reserve(threads_needed(ctrl)):
        refuse(
            request,
            HandshakeRefusal(
                503,
                "Service Unavailable",
                f"all {hub.slots.size} WebSocket threads are busy (see --ws-threads)",
                (("Retry-After", "1"),),
            ),
        )
        return None
    return protocol


def upgrade_refusal(request: Request, settings: WebsocketsSettings) -> HandshakeRefusal | None:
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


def refuse(request: Request, refusal: HandshakeRefusal) -> None:
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


def take_over(request: Request, protocol: KraitWebSocketProtocol) -> None:
    """Hand the request's connection to ``protocol`` and replay the request head into it."""
    channel = request.channel
    # The channel's TCP or TLS transport; ITransport does not declare what is used below.
    transport: Any = channel.transport
    # Data the client sent after the head waits in the channel (a conforming client sends
    # none before the 101, but nothing may be lost).
    early_data = unread_request_data(channel)
    _log_access(request)
    # Autobahn's protocol carries no annotations (nor does it declare IProtocol).
    connection: Any = protocol
    # The connection stays counted against --max-connections until the WebSocket closes.
    if isinstance(channel, KraitChannel):
        protocol.connection_slot = channel.hand_over()
    channel.transport = None
    transport.unregisterProducer()
    if isinstance(transport, ProtocolWrapper):
        transport.wrappedProtocol = connection
    elif isinstance(getattr(transport, "protocol", None), ProtocolWrapper):
        transport.protocol.wrappedProtocol = connection
    else:
        transport.protocol = connection
    connection.makeConnection(transport)
    # The channel stopped reading while the target ran; nothing else will restart it.
    resume = getattr(transport, "resumeProducing", None)
    if resume is not None:
        resume()
    connection.dataReceived(request_head(request) + early_data)


def request_head(request: Request) -> bytes:
    """The upgrade request's head in origin form, with canonical Upgrade and Connection."""
    target = request.path + (b"?" + request.uri.split(b"?", 1)[1] if b"?" in request.uri else b"")
    lines = [b"GET " + target + b" HTTP/1.1"]
    for name, values in request.requestHeaders.getAllRawHeaders():
        if name.lower() not in _REPLACED_HEADERS:
            lines.extend(name + b": " + value for value in values)
    lines += [b"Upgrade: websocket", b"Connection: Upgrade", b"", b""]
    return b"\r\n".join(lines)


def _log_access(request: Request) -> None:
    """Write the access-log line of the upgrade, which twisted.web will never finish."""
    request.setResponseCode(101)
    factory = getattr(request.channel, "factory", None)
    if factory is not None:
        factory.log(request)
