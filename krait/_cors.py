"""Cross-origin resource sharing: which headers a request's answer gets, from plain values.

The Fetch standard (§3.2, "CORS protocol") has the browser ask before a cross-origin request
that a form could not have sent: a *preflight*, ``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``. The server names what it allows in ``Access-Control-*``
headers, and the browser, not the server, then lets the page's request go or blocks it. The
actual answer must say again which origin may read it.

So nothing here refuses a request: an origin that is not allowed just gets no
``Access-Control-Allow-Origin``, and its browser keeps the answer from the page. When the
answer names the origin (anything but ``*``), it also says ``Vary: Origin``, for every origin
and for requests without one, so that no cache hands one origin's answer to another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from krait._errors import SiteConfigError
from krait.config import Cors

__all__ = [
    "CorsPolicy",
    "compile_cors",
    "is_preflight",
    "policy_for",
    "preflight_headers",
    "response_headers",
]

HeaderList = list[tuple[str, str]]

_LABELS = r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*"
"""What a leading ``*.`` of an allowed origin's host matches (before its ``.``): host labels."""


@dataclass(frozen=True)
class CorsPolicy:
    """One :class:`krait.config.Cors`, ready for matching.

    Attributes:
        origins: the exact allowed origins, lower-cased.
        patterns: the allowed origins with ``*`` wildcards, compiled.
        any_origin: every origin is allowed (``Access-Control-Allow-Origin: *``).
        methods: the methods preflights allow; None for the routes' methods.
        headers: the request headers preflights allow, lower-cased.
        echo_headers: preflights allow whichever headers the browser asks for (``"*"``).
        expose: the ``Access-Control-Expose-Headers`` value, or ``""``.
        credentials: answers say ``Access-Control-Allow-Credentials: true``.
        max_age: the preflight's ``Access-Control-Max-Age``, or None.
        paths: the path patterns these settings apply to; None for every path.
    """

    origins: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    any_origin: bool
    methods: tuple[str, ...] | None
    headers: tuple[str, ...]
    echo_headers: bool
    expose: str
    credentials: bool
    max_age: int | None
    paths: tuple[re.Pattern[str], ...] | None

    @property
    def varies(self) -> bool:
        """Whether answers depend on the request's ``Origin`` (they name it)."""
        return not self.any_origin

    def allows(self, origin: str) -> bool:
        """Tell whether a page from ``origin`` may read the answers."""
        if self.any_origin:
            return True
        value = origin.lower()
        return value in self.origins or any(p.fullmatch(value) for p in self.patterns)

    def applies_to(self, path: str) -> bool:
        """Tell whether these settings cover a decoded request path."""
        return self.paths is None or any(p.fullmatch(path) for p in self.paths)


def compile_cors(value: object) -> tuple[CorsPolicy, ...]:
    """Compile ``krait.config.cors``.

    Args:
        value: a :class:`krait.config.Cors`, a list of them, or None.

    Returns:
        The policies in order; empty for None.

    Raises:
        SiteConfigError: ``value`` is of another type.
    """
    if value is None:
        return ()
    if isinstance(value, Cors):
        return (_compile(value),)
    if isinstance(value, list | tuple) and all(isinstance(item, Cors) for item in value):
        return tuple(_compile(item) for item in value)
    raise SiteConfigError(
        f"krait.config.cors must be a krait.config.Cors, a list of them or None, not {value!r}",
        hint="write e.g. krait.config.cors = krait.config.Cors(['https://app.example.com'], "
        "paths=[r'/api/.*']) in .py/init.py",
    )


def _compile(settings: Cors) -> CorsPolicy:
    origins = settings.allow_origins
    wild = [origin for origin in origins if "*" in origin and origin != "*"]
    return CorsPolicy(
        origins=frozenset(origin for origin in origins if "*" not in origin),
        patterns=tuple(_wildcard_pattern(origin) for origin in wild),
        any_origin=origins == ("*",),
        methods=settings.allow_methods,
        headers=() if settings.allow_headers == ("*",) else settings.allow_headers,
        echo_headers=settings.allow_headers == ("*",),
        expose=", ".join(settings.expose_headers),
        credentials=settings.allow_credentials,
        max_age=settings.max_age,
        paths=None if settings.paths is None else tuple(re.compile(p) for p in settings.paths),
    )


def _wildcard_pattern(origin: str) -> re.Pattern[str]:
    """The regex of an origin whose host starts with ``*.`` or whose port is ``*`` (the only
    places ``krait.config.Cors`` lets a ``*`` stand)."""
    pattern = re.escape(origin).replace(r"://\*\.", rf"://{_LABELS}\.", 1)
    if pattern.endswith(r":\*"):
        pattern = pattern[:-3] + ":[0-9]+"
    return re.compile(pattern)


def policy_for(policies: Sequence[CorsPolicy], path: str) -> CorsPolicy | None:
    """The first policy that covers ``path``, or None."""
    for policy in policies:
        if policy.applies_to(path):
            return policy
    return None


def is_preflight(method: str, origin: str | None, request_method: str | None) -> bool:
    """Tell whether a request is a CORS preflight (Fetch §3.2.2).

    Args:
        method: the request method.
        origin: the ``Origin`` header, or None.
        request_method: the ``Access-Control-Request-Method`` header, or None.

    Returns:
        True for ``OPTIONS`` with both headers; any other ``OPTIONS`` is an ordinary one.
    """
    return method == "OPTIONS" and origin is not None and request_method is not None


def response_headers(policy: CorsPolicy, origin: str | None) -> HeaderList:
    """The CORS headers of an actual answer (a page, a file, an error, a redirect).

    Args:
        policy: the policy covering the request's path.
        origin: the request's ``Origin``, or None.

    Returns:
        ``Access-Control-Allow-Origin`` and the others for an allowed origin (``*`` goes to
        every request), and ``Vary: Origin`` whenever the answer names the origin.
    """
    headers: HeaderList = []
    if policy.any_origin:
        headers.append(("Access-Control-Allow-Origin", "*"))
    elif origin is not None and policy.allows(origin):
        headers.append(("Access-Control-Allow-Origin", origin))
        if policy.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
    if policy.expose and headers:
        headers.append(("Access-Control-Expose-Headers", policy.expose))
    if policy.varies:
        headers.append(("Vary", "Origin"))
    return headers


def preflight_headers(
    policy: CorsPolicy, origin: str, requested_headers: str | None, route_methods: Sequence[str]
) -> HeaderList | None:
    """The headers of the answer to a preflight from an allowed origin.

    Args:
        policy: the policy covering the request's path.
        origin: the request's ``Origin``.
        requested_headers: the ``Access-Control-Request-Headers`` value, or None.
        route_methods: the methods the site's routes accept for the path (used when the
            policy names none).

    Returns:
        The headers of a ``204``; None when the origin is not allowed (the preflight is then
        an ordinary ``OPTIONS`` request, and the browser blocks the call).
    """
    if not policy.allows(origin):
        return None
    headers = [("Access-Control-Allow-Origin", "*" if policy.any_origin else origin)]
    if policy.credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    methods = policy.methods if policy.methods is not None else route_methods
    if methods:
        headers.append(("Access-Control-Allow-Methods", ", ".join(methods)))
    if policy.echo_headers:
        names = [name.strip() for name in (requested_headers or "").split(",") if name.strip()]
        allowed = ", ".join(names)
    else:
        allowed = ", ".join(policy.headers)
    if allowed:
        headers.append(("Access-Control-Allow-Headers", allowed))
    if policy.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(policy.max_age)))
    vary = ["Origin"] if policy.varies else []
    if policy.echo_headers:
        vary.append("Access-Control-Request-Headers")
    if vary:
        headers.append(("Vary", ", ".join(vary)))
    return headers
