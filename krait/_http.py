"""The twisted.web Site and Request krait serves with: body limits and the access log.

Routing and rendering live in ``_resource``; this module only deals with what happens at the
connection level, before a resource is involved (oversized bodies) and after (logging).
"""

from __future__ import annotations

import sys
from typing import IO, Any, cast

from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web import server
from twisted.web.resource import Resource

from krait._access_log import combined_line

log = Logger(namespace="krait")

DEFAULT_MAX_BODY_SIZE = 100 * 1024 * 1024
"""Request bodies larger than this get 413 unless ``--max-body-size`` says otherwise."""


class KraitRequest(server.Request):
    """A request that refuses bodies over the site's limit as soon as it knows their size."""

    _too_large = False
    _received = 0
    channel: Any

    def gotLength(self, length: int | None) -> None:
        limit = self.channel.site.max_body_size if self.channel.site else DEFAULT_MAX_BODY_SIZE
        if length is not None and length > limit:
            self._refuse_body(length, limit)
            return
        cast(Any, super()).gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._too_large:
            return
        self._received += len(data)
        limit = self.channel.site.max_body_size
        if self._received > limit:
            self._refuse_body(self._received, limit)
            return
        cast(Any, super()).handleContentChunk(data)

    def _refuse_body(self, size: int, limit: int) -> None:
        """Answer 413 at once, without reading the rest of the body, and close."""
        self._too_large = True
        self.content = None
        log.info(
            "refused a request body of {size} bytes (limit {limit}, see --max-body-size)",
            size=size,
            limit=limit,
        )
        body = b"413 Content Too Large: the request body is over %d bytes\n" % limit
        head = (
            b"HTTP/1.1 413 Content Too Large\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        )
        transport: Any = self.channel.transport
        transport.write(head + body)
        transport.loseConnection()

    def process(self) -> None:
        if self._too_large:
            return
        cast(Any, super()).process()

    def setHeader(self, name: bytes | str, value: bytes | str) -> None:
        # twisted.web announces its version in a Server header; the original Krait sent none,
        # and a version banner only helps attackers.
        if name in (b"Server", "Server"):
            return
        cast(Any, super()).setHeader(name, value)


class KraitSite(server.Site):
    """A Site with krait's request class, body limit and a buffered access log.

    Args:
        resource: the root resource.
        access_log: where the combined-format access log goes: ``"-"`` for stdout, a path,
            or None for no access log.
        max_body_size: the largest request body accepted, in bytes.
        reactor: the reactor (for the log's flush timer).
    """

    requestFactory = KraitRequest

    def __init__(
        self,
        resource: Resource,
        access_log: str | None = "-",
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        reactor: Any = None,
    ) -> None:
        cast(Any, super()).__init__(resource, reactor=reactor)
        self.max_body_size = max_body_size
        self._access_log_target = access_log
        self._log_file: IO[str] | None = None
        self._owns_log_file = False
        self._pending: list[str] = []
        self._flusher: LoopingCall | None = None

    def startFactory(self) -> None:
        super().startFactory()
        if self._access_log_target is None or self._log_file is not None:
            return
        if self._access_log_target == "-":
            self._log_file = sys.stdout
        else:
            self._log_file = open(self._access_log_target, "a", encoding="utf-8")  # noqa: SIM115
            self._owns_log_file = True
        self._flusher = LoopingCall(self.flush_access_log)
        self._flusher.clock = self.reactor
        self._flusher.start(1.0, now=False)

    def stopFactory(self) -> None:
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        self.flush_access_log()
        if self._owns_log_file and self._log_file is not None:
            self._log_file.close()
        self._log_file = None
        super().stopFactory()

    def log(self, request: Any) -> None:
        if self._log_file is None:
            return
        address = request.getClientAddress()
        line = combined_line(
            getattr(address, "host", None) or "-",
            self._logDateTime or "-",
            (request.method, request.uri, request.clientproto),
            request.code,
            request.sentLength,
            request.getHeader(b"referer"),
            request.getHeader(b"user-agent"),
        )
        self._pending.append(line + "\n")
        if len(self._pending) >= 256:
            self.flush_access_log()

    def flush_access_log(self) -> None:
        """Write the buffered access-log lines out."""
        if self._pending and self._log_file is not None:
            self._log_file.write("".join(self._pending))
            self._log_file.flush()
        self._pending.clear()
