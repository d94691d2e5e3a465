"""Serve a site inside the test process and talk to it: :func:`start_site`.

The site runs on the reactor that is already running (pytest-twisted's, or trial's), on a free
port of 127.0.0.1, exactly as ``twistd krait`` would serve it: same routing, same thread pool,
same error pages. Use it from pytest with pytest-twisted::

    @pytest_twisted.ensureDeferred
    async def test_home_page(tmp_path):
        async with await start_site("mysite") as site:
            response = await site.get("/")
            assert response.status == 200

or from a :class:`twisted.trial.unittest.TestCase` (return the Deferred, or write the test
method as ``async def``).

One site per process at a time: ``krait.config`` and ``krait.site_root`` are process-wide,
``<site>/.py`` is put on ``sys.path`` while the site runs, and the modules a site imports stay
in ``sys.modules`` afterwards (two sites with a ``.py/store.py`` each share the first one
imported).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from io import BytesIO
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlencode

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.protocol import Protocol
from twisted.protocols.policies import WrappingFactory
from twisted.python.failure import Failure
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool, ResponseDone
from twisted.web.http_headers import Headers

from krait._app import build_site
from krait._dispatch import KraitRoot
from krait._krait_request import DEFAULT_MAX_BODY_SIZE

__all__ = ["RunningSite", "SiteResponse", "start_site"]


@dataclass(frozen=True)
class SiteResponse:
    """A response as the test client received it.

    Attributes:
        status: the status code, e.g. 200.
        headers: the response headers by lower-cased name; repeated headers are joined with
            ``", "`` (use :meth:`header_values` for ``Set-Cookie``).
        body: the body bytes.
        raw_headers: every header as a ``(lower-cased name, value)`` pair, in order.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    raw_headers: tuple[tuple[str, str], ...] = field(repr=False, default=())

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")

    def header_values(self, name: str) -> list[str]:
        """Every value of one header, in order (e.g. all ``Set-Cookie`` values)."""
        wanted = name.lower()
        return [value for key, value in self.raw_headers if key == wanted]


class _BodyCollector(Protocol):
    """Collects a response body and fires ``done`` with it when the response ends."""

    def __init__(self, done: Deferred[bytes]) -> None:
        self._done = done
        self._chunks: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self._chunks.append(data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if reason is None or reason.check(ResponseDone):
            self._done.callback(b"".join(self._chunks))
        else:
            self._done.errback(reason)


class _TrackedConnections(WrappingFactory):
    """The site's factory, keeping the open connections so that stopping can close them."""

    def __init__(self, wrapped: Any) -> None:
        cast(Any, super()).__init__(wrapped)
        self._closed_waiters: list[Deferred[None]] = []

    def unregisterProtocol(self, protocol: Any) -> None:
        cast(Any, super()).unregisterProtocol(protocol)
        if not self.protocols:
            waiters, self._closed_waiters = self._closed_waiters, []
            for waiter in waiters:
                waiter.callback(None)

    def close_all(self) -> Deferred[None]:
        """Close every open connection; fires once all are closed."""
        if not self.protocols:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._closed_waiters.append(waiter)
        for protocol in list(self.protocols):
            protocol.transport.loseConnection()
        return waiter


class RunningSite:
    """A site served in-process, with a small HTTP client (see :func:`start_site`).

    Attributes:
        port: the TCP port on 127.0.0.1.
        url: ``http://127.0.0.1:<port>``.
        site_root: the site folder.
    """

    def __init__(
        self,
        site_root: str,
        port: Any,
        connections: _TrackedConnections,
        root: KraitRoot,
        reactor: Any,
    ) -> None:
        self.site_root = site_root
        self._listening = port
        self.port: int = port.getHost().port
        self.url = f"http://127.0.0.1:{self.port}"
        self._connections = connections
        self._root = root
        self._client_pool = HTTPConnectionPool(reactor, persistent=True)
        self._agent = Agent(reactor, pool=self._client_pool)
        self._stopped = False

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Deferred[SiteResponse]:
        """Send a request and read the whole response.

        Args:
            method: the HTTP method, e.g. ``"PUT"``.
            path: the path and query, e.g. ``"/search?q=krait"``.
            headers: request headers.
            body: the request body, if any.

        Returns:
            A Deferred firing with the response.
        """
        return ensureDeferred(self._request(method, path, headers, body))

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Deferred[SiteResponse]:
        """``GET path``; see :meth:`request`."""
        return self.request("GET", path, headers)

    def post(
        self,
        path: str,
        data: bytes | str | Mapping[str, str] = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Deferred[SiteResponse]:
        """``POST path``: a dict is sent as an ``application/x-www-form-urlencoded`` form.

        Args:
            path: the path and query.
            data: the body: bytes, text (sent as UTF-8) or form fields.
            headers: request headers.

        Returns:
            A Deferred firing with the response.
        """
        all_headers = dict(headers or {})
        if isinstance(data, Mapping):
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            body = urlencode(data).encode("ascii")
        else:
            body = data.encode("utf-8") if isinstance(data, str) else data
        return self.request("POST", path, all_headers, body)

    async def _request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
    ) -> SiteResponse:
        if not path.startswith("/"):
            raise ValueError(f"give a path starting with '/', not {path!r}")
        request_headers = Headers({name: [value] for name, value in (headers or {}).items()})
        producer: Any = None
        if body is not None:
            producer = FileBodyProducer(BytesIO(body))
        response = await self._agent.request(
            method.encode("ascii"), (self.url + path).encode("ascii"), request_headers, producer
        )
        collected: Deferred[bytes] = Deferred()
        receiving: Any = response
        receiving.deliverBody(_BodyCollector(collected))
        content = await collected
        pairs = tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, values in response.headers.getAllRawHeaders()
            for value in values
        )
        joined: dict[str, str] = {}
        for name, value in pairs:
            joined[name] = f"{joined[name]}, {value}" if name in joined else value
        return SiteResponse(int(response.code), joined, content, pairs)

    def stop(self) -> Deferred[None]:
        """Stop listening, close every connection and let the site's threads end.

        Returns:
            A Deferred firing once the port and all connections are closed.
        """
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        await self._listening.stopListening()
        await self._client_pool.closeCachedConnections()
        await self._connections.close_all()
        if self._root.ws_hub is not None:
            await self._root.ws_hub.channels.stop()  # its Redis connections, if any
        for pool in self._root.worker_pools():
            pool.stop(join=False)
        py_dir = os.path.join(self.site_root, ".py")
        if py_dir in sys.path:
            sys.path.remove(py_dir)

    async def __aenter__(self) -> RunningSite:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


def start_site(
    site_root: str | Any,
    *,
    threads: int = 16,
    ws_threads: int = 64,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    debug: bool = False,
    access_log: str | None = None,
    reactor: Any = None,
) -> Deferred[RunningSite]:
    """Serve a site on a free port of 127.0.0.1, on the running reactor.

    Args:
        site_root: the site folder (a ``str`` or ``pathlib.Path``).
        threads: as ``--threads``.
        ws_threads: as ``--ws-threads``.
        max_body_size: as ``--max-body-size``.
        debug: as ``--debug``: tracebacks in error pages.
        access_log: as ``--access-log``; None (the default) writes none.
        reactor: the reactor to serve on; the global one by default.

    Returns:
        A Deferred firing with the running site; stop it with :meth:`RunningSite.stop` (or
        use it as ``async with``).

    Raises:
        SiteConfigError: the site cannot start (raised at once, not through the Deferred).
    """
    from twisted.internet.endpoints import TCP4ServerEndpoint

    if reactor is None:
        from twisted.internet import reactor as global_reactor

        reactor = global_reactor
    root_path = str(site_root)
    _config, site = build_site(
        root_path,
        reactor=reactor,
        threads=threads,
        ws_threads=ws_threads,
        access_log=access_log,
        max_body_size=max_body_size,
        debug=debug,
    )
    connections = _TrackedConnections(site)
    endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
    listening = endpoint.listen(connections)
    root = cast(KraitRoot, site.resource)
    running: Deferred[RunningSite] = listening.addCallback(
        _running_site, root_path, connections, root, reactor
    )
    return running


def _running_site(
    port: Any, site_root: str, connections: _TrackedConnections, root: KraitRoot, reactor: Any
) -> RunningSite:
    return RunningSite(site_root, port, connections, root, reactor)
