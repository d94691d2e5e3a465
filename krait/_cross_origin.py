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

from collections.abc import Sequence
from functools import partial

from twisted.web.server import Request

from krait._compression import add_vary
from krait._cors import (
    CorsPolicy,
    is_preflight,
    policy_for,
    preflight_headers,
    response_headers,
)
from krait._http import KraitRequest
from krait._routing import CompiledRoute, allowed_methods
from krait._static import finish_without_body

_Headers = list[tuple[str, str]]


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
        headers = response_headers(policy, origin)
        if headers:
            on_head(request, partial(_add_headers, headers))
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


def on_head(request: Request, hook: partial[None]) -> None:
    """Run ``hook(request)`` just before the head goes out (at once for a foreign request)."""
    if isinstance(request, KraitRequest):
        request.head_hook = hook
    else:
        hook(request)


def _add_headers(headers: _Headers, request: Request) -> None:
    """Add the CORS headers to an answer, unless the page set its own; extend ``Vary``."""
    out = request.responseHeaders
    own = out.hasHeader(b"access-control-allow-origin")
    for name, value in headers:
        if name == "Vary":
            current = b", ".join(out.getRawHeaders(b"vary") or []).decode("latin-1")
            out.setRawHeaders(b"vary", [add_vary(current or None, value).encode("latin-1")])
        elif not own:
            out.setRawHeaders(name.encode("ascii"), [value.encode("latin-1")])
