"""Sends a whole HTTP/1.x answer, head and bytes body, in one transport write.

twisted.web's ``Request.write`` builds the head on the first write: it asks the header table
for Content-Type and Content-Length through the ``Headers`` API (a name encoding per
lookup), decides on chunking, adds ``Last-Modified``, ``ETag`` and ``Set-Cookie`` from the
request's attributes, then the channel writes the head and the body in two transport calls.
For the common answer of a page (HTTP/1.x, a complete body, no producer, nothing of the
above) all those decisions are known in advance: :func:`send_whole` joins the status line,
the table as it stands and the body into one ``bytes`` and writes it once. The bytes are
those twisted.web would send (``tests/test_whole_response.py`` compares the two), and the
request is ended as twisted.web's ``finish`` ends it (``finish_written``: access
log, ``notifyFinish``, keep-alive or close, the next pipelined request). Anything else,
HTTP/2 streams among it, is left to twisted.web: the caller writes as usual when
:func:`send_whole` returns False.

Where the bytes go: a page's answer comes back from the pool in a batch with others, and goes
straight to the socket (``write_now``), not to the reactor's next turn: no ``epoll_ctl`` to
register the socket for writing and another to unregister it, no write event to dispatch
(about 5 µs of the reactor's time per request). A static file's answer is made while the
reactor reads the request; sent at once, each one woke the client on its own, and the kernel's
wake-ups cost what the reactor saved, so it goes through the transport's buffer
(``at_once=False``) and leaves with the other answers of that turn.
"""

from __future__ import annotations

from typing import Any

from twisted.web.http import NO_BODY_CODES, HTTPChannel
from twisted.web.server import Request

from krait._krait_request import KraitRequest
from krait._twisted_compat import clean_up_finished, header_table, write_now, writes_plainly

__all__ = ["finish_written", "head_parts", "send_whole", "status_line"]

JOIN_LIMIT = 64 * 1024
"""Bodies up to this size are joined to the head: one write; a larger one is written after
it, as twisted.web writes it, not copied once more (a TLS transport would join a sequence)."""

_status_lines: dict[tuple[bytes, int, bytes], bytes] = {}


def status_line(version: bytes, code: int, reason: bytes) -> bytes:
    """The status line twisted.web writes, CRLF included (the few in use are remembered)."""
    key = (version, code, reason)
    line = _status_lines.get(key)
    if line is None:
        line = b"%s %d %s\r\n" % key
        if len(_status_lines) < 256:
            _status_lines[key] = line
    return line


def head_parts(line: bytes, table: dict[bytes, list[bytes]]) -> list[bytes]:
    """The head as twisted.web's ``HTTPChannel.writeHeaders`` lays it out, ready to join:
    the status line, each value of each header in the table's order, the blank line."""
    parts = [line]
    for name, values in table.items():
        for value in values:
            parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return parts


def send_whole(request: Request, body: bytes, at_once: bool = True) -> bool:
    """Send ``request``'s head (its code and header table) and ``body``, and finish it.

    With ``at_once`` the bytes go to the socket now when it can take them (``write_now``);
    otherwise they wait in the transport's buffer for the reactor's next turn.

    Returns False, having sent nothing, when the answer needs twisted.web's own write: a
    request other than a ``KraitRequest``, a channel other than HTTP/1.x, a write already
    begun, a producer, a content encoder, a disconnected client, cookies, ``lastModified``
    or ``etag`` set on the request, a missing Content-Type twisted.web would supply, or no
    Content-Length where it would chunk.
    KraitRequest's ``head_hook`` runs first, as before any first write.
    """
    req: Any = request
    channel = req.channel
    if (
        not isinstance(request, KraitRequest)
        or not isinstance(channel, HTTPChannel)
        or req.startedWriting
        or req.producer is not None
        or req.cookies
        or req.lastModified is not None
        or req.etag is not None
        or not writes_plainly(request)
    ):
        return False
    hook = request.head_hook
    if hook is not None:
        request.head_hook = None
        hook(request)
    table = header_table(req.responseHeaders)
    code: int = req.code
    sends_body = code not in NO_BODY_CODES
    if sends_body and (
        b"Content-Length" not in table
        or (b"Content-Type" not in table and req.defaultContentType is not None)
    ):
        return False  # twisted.web would chunk, or add its default Content-Type
    parts = head_parts(status_line(req.clientproto, code, req.code_message), table)
    req.startedWriting = 1
    transport: Any = channel.transport
    write = write_now if at_once else _write_later
    if sends_body and body and req.method != b"HEAD":
        req.sentLength += len(body)
        if len(body) > JOIN_LIMIT:
            write(transport, b"".join(parts))
            transport.write(body)
        else:
            parts.append(body)
            write(transport, b"".join(parts))
    else:
        write(transport, b"".join(parts))
    finish_written(request)
    return True


def finish_written(request: KraitRequest) -> None:
    """Finish a request whose whole answer the transport already has.

    What twisted.web's ``finish`` (and ``KraitRequest.finish``) do when nothing is left to
    write, no chunked body to end and no encoder to flush: log the request (access log,
    metrics), mark it finished, clean it up (the channel's ``requestDone``: keep-alive or
    close, the next pipelined request; ``notifyFinish``), then tell the drainer.
    """
    req: Any = request
    factory = getattr(req.channel, "factory", None)
    if factory is not None:
        factory.log(request)
    req.finished = 1
    if not req.queued:
        clean_up_finished(request)
    request.report_end()


def _write_later(transport: Any, data: bytes) -> None:
    transport.write(data)
