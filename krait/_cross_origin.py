"""Applies ``krait.config.cors`` to requests: answers preflights, adds the answers' headers.

``KraitRoot.render`` calls :meth:`CrossOrigin.handle` once it has decoded the path, before
routing. A preflight from an allowed origin is answered here with ``204`` and the
``Access-Control-*`` headers, without running any page: the browser asks before the call,
and the site's code only sees the call itself. Any other request goes on to its route, and
the CORS headers are added just before its head is written (``KraitRequest.head_hook``), so
pages, files, ``304``s, redirects and error pages (404, 405, 500, 503) all carry them, and the
``Vary`` that static files and gzip set is extended, never replaced. What to send is decided
by ``_cors`` from plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial

from twisted.web.server import Request

from krait._compression import add_vary
from krait._cors import (
    CorsPolicy,
    is_preflight,
    policy_for,
    preflight_headers,
    response_headers,
)
from krait._krait_request import KraitRequest
from krait._routing import CompiledRoute, allowed_methods
from krait._static import finish_without_body
from krait._twisted_compat import prepared_headers, put_prepared_headers


@dataclass(frozen=True)
class Prepared:
    """The CORS headers of answers to one origin under one policy, encoded once.

    Attributes:
        access: the ``Access-Control-*`` headers, ready for ``put_prepared_headers``.
        varies: the answer's ``Vary`` must name ``Origin``.
    """

    access: tuple[tuple[bytes, bytes], ...]
    varies: bool


class CrossOrigin:
    """The CORS side of a site's answers.

    Args:
        policies: the compiled ``krait.config.cors``, in order (not empty).
        routes: the site's routes, whose methods a preflight allows by default.
    """

    def __init__(self, policies: Sequence[CorsPolicy], routes: Sequence[CompiledRoute]) -> None:
        self.policies = tuple(policies)
        self.routes = tuple(routes)
        self._by_path: dict[str, CorsPolicy | None] = {}
        self._prepared: dict[tuple[int, str | None], Prepared] = {}

    def handle(self, request: Request, path: str) -> int | None:
        """Answer a preflight, or arrange the CORS headers of the request's answer.

        Args:
            request: a request that is no WebSocket upgrade (CORS does not apply to those).
            path: its decoded path.

        Returns:
            ``NOT_DONE_YET`` when the preflight was answered; None when the request goes on
            to its route.
        """
        policy = self._policy(path)
        if policy is None:
            return None
        origin = _header(request, b"origin")
        if request.method == b"OPTIONS" and origin is not None:
            answered = self._preflight(request, path, policy, origin)
            if answered is not None:
                return answered
        prepared = self._prepare(policy, origin)
        if prepared.access or prepared.varies:
            on_head(request, partial(add_prepared, prepared))
        return None

    def _preflight(
        self, request: Request, path: str, policy: CorsPolicy, origin: str
    ) -> int | None:
        asked = _header(request, b"access-control-request-method")
        if not is_preflight("OPTIONS", origin, asked):
            return None
        headers = preflight_headers(
            policy,
            origin,
            _header(request, b"access-control-request-headers"),
            allowed_methods(self.routes, path),
        )
        if headers is None:
            return None
        for name, value in headers:
            request.setHeader(name, value)
        request.setResponseCode(204)
        return finish_without_body(request)

    def _prepare(self, policy: CorsPolicy, origin: str | None) -> Prepared:
        """The encoded headers for ``origin`` (remembered for up to 4096 origins)."""
        key = (id(policy), origin)
        prepared = self._prepared.get(key)
        if prepared is None:
            pairs = [
                (name.encode("ascii"), value.encode("latin-1"))
                for name, value in response_headers(policy, origin)
            ]
            prepared = Prepared(
                prepared_headers([pair for pair in pairs if pair[0] != b"Vary"]),
                (b"Vary", b"Origin") in pairs,
            )
            if len(self._prepared) >= 4096:
                self._prepared.clear()
            self._prepared[key] = prepared
        return prepared

    def _policy(self, path: str) -> CorsPolicy | None:
        """The policy covering ``path`` (remembered: the path regexes cost per request)."""
        try:
            return self._by_path[path]
        except KeyError:
            policy = policy_for(self.policies, path)
            if len(self._by_path) >= 4096:
                self._by_path.clear()
            self._by_path[path] = policy
            return policy


def _header(request: Request, name: bytes) -> str | None:
    values = request.requestHeaders.getRawHeaders(name)
    return b", ".join(values).decode("latin-1") if values else None


def on_head(request: Request, hook: Callable[[Request], None]) -> None:
    """Run ``hook(request)`` just before the head goes out (at once for a foreign request)."""
    if isinstance(request, KraitRequest):
        request.head_hook = hook
    else:
        hook(request)


def add_prepared(prepared: Prepared, request: Request) -> None:
    """Add the CORS headers to an answer, unless the page set its own; extend ``Vary``."""
    out = request.responseHeaders
    if prepared.access and not out.hasHeader(b"access-control-allow-origin"):
        put_prepared_headers(out, prepared.access)
    if prepared.varies:
        current = out.getRawHeaders(b"vary")
        joined = b"" if not current else current[0] if len(current) == 1 else b", ".join(current)
        put_prepared_headers(out, ((_VARY, with_origin(joined)),))


_VARY = prepared_headers([(b"Vary", b"Origin")])[0][0]
"""``Vary`` as the header table keys it."""


@lru_cache(maxsize=256)
def with_origin(vary: bytes) -> bytes:
    """A ``Vary`` value that names ``Origin`` too (answers repeat a few values: remembered)."""
    return add_vary(vary.decode("latin-1") or None, "Origin").encode("latin-1")
