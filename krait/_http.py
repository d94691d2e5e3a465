"""The twisted.web Site and Request krait serves with: body limits, connection limit, access log.

Routing lives in ``_dispatch`` and page writing in ``_page_writer``; this module only deals
with what happens at the connection level, before a resource is involved (oversized bodies,
a bad Host, connections over ``--max-connections``, refused in plain text by ``_answers``)
and after (logging). The HTTP/1.1 channel, which reads and times request heads, is
``_channel``'s.
"""

from __future__ import annotations

import io
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from typing import IO, Any, cast

from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web import http, server
from twisted.web.resource import Resource

from krait._access_log import AccessRecord, combined_line, record_lines
from krait._channel import KraitChannel
from krait._connection_refusal import ConnectionRefusal
from krait._deadlines import ClientLimits
from krait._drain import Drainer
from krait._forwarded import TrustedProxies
from krait._h2 import ProtocolSwitch
from krait._krait_request import DEFAULT_MAX_BODY_SIZE, KraitRequest
from krait._log_writer import LogWriter
from krait._metrics_tally import RequestTally
from krait._open_files import ConnectionSlots, default_max_connections, open_file_limit
from krait._raw_requests import request_origin
from krait._twisted_compat import header_table, log_date_time

log = Logger(namespace="krait")


def _channel_protocol(factory: KraitSite) -> Any:
    """The site's protocol: krait's HTTP/1.1 channel, switching to HTTP/2 when negotiated; or
    a 503 when the site has ``--max-connections`` open."""
    slot = factory.connection_slots.take()
    if slot is None:
        return ConnectionRefusal(factory.connection_slots, factory.reactor)
    protocol = ProtocolSwitch(KraitChannel(factory.client_limits, factory.reactor, slot))
    drainer = getattr(factory, "drainer", None)
    if drainer is not None:
        drainer.connection_made(protocol)
    return protocol


class KraitSite(server.Site):
    """A Site with krait's request class, body limit and a buffered access log.

    Args:
        resource: the root resource.
        access_log: where the access log goes: ``"-"`` for stdout, a path, a file object
            (kept open), or None for no access log.
        access_format: what formats a line (``combined_line`` or ``json_access_line``).
        max_body_size: the largest request body accepted, in bytes.
        reactor: the reactor (for the log's flush timer).
        drainer: tracks requests and connections for a graceful shutdown, if any.
        http2: offer HTTP/2 by ALPN on TLS ports (``--no-http2`` turns it off).
        client_limits: how slowly clients may send requests, how long idle ones stay.
        max_connections: the most connections open at once; more get 503. Default: what
            fits in the open-file limit (:func:`krait._open_files.default_max_connections`).
        trusted_proxies: the peers whose ``Forwarded``/``X-Forwarded-*`` headers name the
            client (``--trusted-proxies``); none by default.
    """

    requestFactory = KraitRequest
    protocol = _channel_protocol

    def getContentFile(self, length: int | None) -> IO[bytes]:
        """Where a request body goes: memory up to 100 kB, a temporary file past that or
        when the size is unknown (twisted.web's own rule). twisted.web asks the site first
        and, without this method, gets its AttributeError raised and caught per request."""
        if length is not None and length < 100_000:
            return io.BytesIO()
        return tempfile.TemporaryFile()

    metrics: RequestTally | None = None  # counts answered requests: --metrics-listen
    noisy = False  # "Starting factory <KraitSite object at 0x...>" tells a reader nothing

    def __init__(
        self,
        resource: Resource,
        access_log: str | IO[str] | None = "-",
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        reactor: Any = None,
        drainer: Drainer | None = None,
        http2: bool = True,
        client_limits: ClientLimits | None = None,
        max_connections: int | None = None,
        access_format: Callable[..., str] = combined_line,
        trusted_proxies: TrustedProxies | None = None,
    ) -> None:
        # twisted.web would parse every form body into request.args, loading a whole multipart
        # upload into memory and answering a malformed one with a bare 400; krait parses forms
        # itself, on demand and streaming (krait._forms), and answers 400 with the reason.
        cast(Any, super()).__init__(resource, reactor=reactor, parsePOSTFormSubmission=False)
        self.max_body_size = max_body_size
        self.trusted_proxies = trusted_proxies or TrustedProxies()
        self.drainer = drainer
        self.http2 = http2
        self.client_limits = client_limits or ClientLimits()
        # twisted.web's idle timeout: between requests, and any silence within one.
        self.timeOut = self.client_limits.keepalive_timeout or None
        if max_connections is None:
            max_connections = default_max_connections(open_file_limit())
        self.connection_slots = ConnectionSlots(max_connections)
        self._access_log_target = access_log
        self._access_format = access_format
        self._log_file: IO[str] | None = None
        self._log_writer: LogWriter | None = None
        self._owns_log_file = False
        self._pending: list[AccessRecord] = []
        self._flusher: LoopingCall | None = None

    def acceptableProtocols(self) -> list[bytes]:
        # Twisted offers these by ALPN besides the TLS options' own list.
        return [b"h2", b"http/1.1"] if self.http2 else [b"http/1.1"]

    def startFactory(self) -> None:
        super().startFactory()
        if self._access_log_target is None or self._log_file is not None:
            return
        if not isinstance(self._access_log_target, str):
            self._log_file = self._access_log_target
        elif self._access_log_target == "-":
            self._log_file = sys.stdout
        else:
            self._log_file = open(self._access_log_target, "a", encoding="utf-8")  # noqa: SIM115
            self._owns_log_file = True
        self._log_writer = LogWriter(
            self._log_file,
            name="krait-access-log",
            formatter=partial(record_lines, line=self._access_format),
        )
        self._flusher = LoopingCall(self.flush_access_log)
        self._flusher.clock = self.reactor
        self._flusher.start(1.0, now=False)

    def stopFactory(self) -> None:
        drainer = self.drainer
        if drainer is not None and drainer.draining and not drainer.drained:
            # The ports closed, but requests in flight still get answered and logged.
            drainer.when_drained().addCallback(lambda _: self.stopFactory())
            return
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        self.flush_access_log()
        if self._log_writer is not None and not self._log_writer.close():
            log.warn("the access log did not take its last lines within 2 s; they are lost")
        if self._owns_log_file and self._log_file is not None:
            self._log_file.close()
        self._log_file = self._log_writer = None
        super().stopFactory()

    def log(self, request: http.Request) -> None:
        if self.metrics is not None:
            self.metrics.finished(request)
        if self._log_file is None:
            return
        # References only: the writer thread formats the line (_access_log.record_lines).
        # The table itself, by canonical name: getRawHeaders would encode and case the name.
        headers = header_table(request.requestHeaders)
        referrer = headers.get(b"Referer")
        agent = headers.get(b"User-Agent")
        self._pending.append(
            (
                _client_host(request),
                log_date_time(self) or "-",
                request.method,
                request.uri,
                request.clientproto,
                request.code,
                request.sentLength,
                referrer[-1] if referrer else None,
                agent[-1] if agent else None,
            )
        )
        if len(self._pending) >= 256:
            self.flush_access_log()

    def flush_access_log(self) -> None:
        """Hand the buffered access-log lines to the writer thread (never blocks)."""
        writer = self._log_writer
        if writer is None:
            self._pending.clear()
            return
        if self._pending:
            writer.write_records(self._pending)
            self._pending = []
        dropped = writer.take_dropped()
        if dropped:
            log.warn(
                "the access log is not being read fast enough: {count} line(s) dropped",
                count=dropped,
            )


def _client_host(request: http.Request) -> str:
    """The client's address for the access log: behind trusted proxies, the real client."""
    return request_origin(request).address
