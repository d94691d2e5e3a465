"""Site configuration: routes, cache lists, TLS, sessions, CORS, error pages, channels' Redis.

Change these from ``.py/init.py`` only: krait reads them once, after ``init.py`` ran, into a
frozen configuration; later changes are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from krait import _route_origins

__all__ = [
    "ConfigError",
    "Cors",
    "Route",
    "cache_long_term",
    "cache_max_age_default",
    "cache_max_age_long_term",
    "cache_no_store",
    "cache_private",
    "cache_public",
    "cors",
    "error_pages",
    "pubsub_url",
    "routes",
    "secret_key",
    "session_cookie",
    "session_max_age",
    "session_store",
    "ssl_certificate_path",
    "ssl_key_passphrase",
    "ssl_private_key_path",
]


class ConfigError(Exception):
    """A route or setting in ``krait.config`` is not valid.

    Args:
        message: what is wrong.
        hint: how to fix it, shown on the start-up error's ``fix:`` line; may be empty.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class Route:
    """A route that incoming requests can take.

    Args:
        verb: the routing verb, one of :attr:`route_verbs`; ``"GET"`` when None.
        url: the exact (decoded, case-sensitive) path to match, or None to skip.
        regex: a regular expression that must fully match the path, or None to skip.
        target: the file to serve, relative to the site root; None serves the URL itself.
        ctrl_class: an MVC controller class (or any callable returning a controller).

    Raises:
        ConfigError: the verb is unknown, or ``target`` and ``ctrl_class`` are both set, or
            ``ctrl_class`` is used with ``WEBSOCKET``.
    """

    route_verbs = [
        "GET",
        "POST",
        "PUT",
        "DELETE",
        "PATCH",
        "CONNECT",
        "OPTIONS",
        "TRACE",
        "ANY",
        "WEBSOCKET",
    ]

    def __init__(
        self,
        verb: str | None = None,
        url: str | None = None,
        regex: str | None = None,
        target: str | None = None,
        ctrl_class: Callable[[], Any] | None = None,
    ) -> None:
        if verb is None:
            verb = "GET"
        if verb not in self.route_verbs:
            raise ConfigError(
                f"Route verb {verb!r} is not one of {', '.join(self.route_verbs)} "
                "(see krait.config.Route.route_verbs)"
            )
        if target is not None and ctrl_class is not None:
            raise ConfigError(
                "A Route takes either target= or ctrl_class=, not both: the controller's view "
                "already decides what is rendered"
            )
        if ctrl_class is not None and verb == "WEBSOCKET":
            raise ConfigError(
                "ctrl_class= cannot serve a WEBSOCKET route: route the upgrade to a .py target "
                "that sets krait.websockets.response"
            )
        self.verb = verb
        self.url = url
        self.regex = regex
        self.target = target
        self.ctrl_class = ctrl_class
        _route_origins.record_caller(self)

    def __repr__(self) -> str:
        parts = [repr(self.verb)]
        for name in ("url", "regex", "target", "ctrl_class"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return f"Route({', '.join(parts)})"


class Cors:
    """Cross-origin resource sharing (CORS): which other origins' pages may call the site.

    A krait addition, following the Fetch standard. krait answers the browsers' preflight
    ``OPTIONS`` requests from these settings without running any page, and adds the
    ``Access-Control-*`` headers to every answer to an allowed origin.

    Args:
        allow_origins: the origins (``scheme://host[:port]``) whose pages may read answers;
            a host may start with ``*.`` for its subdomains (``https://*.example.com``) and a
            port may be ``*`` (``http://localhost:*``); ``"*"`` alone allows every origin.
        allow_methods: the methods a preflight allows; None allows those the site's routes
            accept for the path.
        allow_headers: the request headers a preflight allows; ``"*"`` allows whichever the
            browser asks for.
        expose_headers: response headers pages may read beyond the safelisted ones.
        allow_credentials: let pages send cookies and read the answers (never with ``"*"``
            or ``"null"``).
        max_age: seconds a browser may keep a preflight's answer; None sends no max-age.
        paths: regular expressions, one of which must match all of the decoded path for
            these settings to apply; None applies them to every path.

    Raises:
        ConfigError: a value is of the wrong type, an origin is not one, or credentials are
            allowed to every origin.
    """

    def __init__(
        self,
        allow_origins: str | Sequence[str],
        *,
        allow_methods: Sequence[str] | None = None,
        allow_headers: str | Sequence[str] = (),
        expose_headers: str | Sequence[str] = (),
        allow_credentials: bool = False,
        max_age: int | None = None,
        paths: Sequence[str] | None = None,
    ) -> None:
        self.allow_origins = _origins(allow_origins)
        if not self.allow_origins:
            raise ConfigError(
                "Cors() needs allow_origins: the origins whose pages may call the site",
                hint="write e.g. Cors(['https://app.example.com']), or Cors('*') for every origin",
            )
        self.allow_methods = None if allow_methods is None else _methods(allow_methods)
        self.allow_headers = _header_names("allow_headers", allow_headers)
        self.expose_headers = _header_names("expose_headers", expose_headers)
        if not isinstance(allow_credentials, bool):
            raise ConfigError(
                f"Cors(allow_credentials=) takes True or False, not {allow_credentials!r}",
                hint="write allow_credentials=True to let pages send cookies",
            )
        self.allow_credentials = allow_credentials
        if max_age is not None and (
            not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0
        ):
            raise ConfigError(
                f"Cors(max_age=) takes a whole number of seconds or None, not {max_age!r}",
                hint="write e.g. max_age=600 (browsers keep a preflight's answer that long)",
            )
        self.max_age = max_age
        self.paths = None if paths is None else _paths(paths)
        if allow_credentials and "null" in self.allow_origins:
            raise ConfigError(
                "Cors(allow_credentials=True) cannot go with 'null' in allow_origins: any "
                "site can make a page whose origin is null (a sandboxed frame), so it would "
                "read answers made with your users' cookies",
                hint="drop 'null', or allow_credentials",
            )
        if allow_credentials:
            for name in ("allow_origins", "expose_headers"):
                if getattr(self, name) == ("*",):
                    listed = "origins" if name == "allow_origins" else "headers"
                    raise ConfigError(
                        f"Cors(allow_credentials=True) cannot go with {name}='*': browsers "
                        "refuse '*' on credentialed requests, and letting every origin read "
                        "answers made with your users' cookies would hand their data to any site",
                        hint=f"list the {listed} instead of '*'",
                    )

    def __repr__(self) -> str:
        return f"Cors({list(self.allow_origins)!r}, paths={self.paths!r})"


_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#@\s]+")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _strings(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ConfigError(
        f"Cors({name}=) takes a list of strings, not {value!r}",
        hint=f"write e.g. {name}=['...', '...']",
    )


_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _without_default_port(origin: str) -> str:
    """``origin`` as browsers send it: without its scheme's default port."""
    port = _DEFAULT_PORTS.get(origin.partition("://")[0])
    return origin.removesuffix(port) if port else origin


def _origins(value: object) -> tuple[str, ...]:
    origins = tuple(
        _without_default_port(origin.lower()) for origin in _strings("allow_origins", value)
    )
    if "*" in origins:
        if len(origins) > 1:
            raise ConfigError(
                f"Cors(allow_origins={list(origins)!r}) mixes '*' with origins",
                hint="give '*' alone to allow every origin, or list only the origins to allow",
            )
        return origins
    for origin in origins:
        if origin != "null" and not _ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"Cors(allow_origins=) holds {origin!r}, which is not an origin",
                hint="write scheme://host[:port] without a path or a trailing slash, e.g. "
                "'https://app.example.com'",
            )
        if not _wildcard_in_place(origin):
            raise ConfigError(
                f"Cors(allow_origins=) holds {origin!r}: '*' stands for the leading labels of "
                "a host or for a whole port, nowhere else (a '*' elsewhere would let in hosts "
                "such as https://evilexample.com)",
                hint="write e.g. 'https://*.example.com' (its subdomains) or "
                "'http://localhost:*' (any port), or list the origins",
            )
    return origins


def _wildcard_in_place(origin: str) -> bool:
    """Whether a ``*`` in ``origin`` is its host's first label(s) or its whole port."""
    rest = origin.partition("://")[2]
    host, port = rest, ""
    colon = rest.rfind(":")
    if colon > rest.rfind("]"):  # an IPv6 host is bracketed: its colons are no port
        host, port = rest[:colon], rest[colon + 1 :]
    host_ok = "*" not in host or (host.startswith("*.") and "*" not in host[1:] and host != "*.")
    return host_ok and ("*" not in port or port == "*")


def _methods(value: object) -> tuple[str, ...]:
    methods = _strings("allow_methods", value)
    for method in methods:
        if not _TOKEN.fullmatch(method) or method == "*":
            raise ConfigError(
                f"Cors(allow_methods=) holds {method!r}, which is not a method",
                hint="list methods such as ['GET', 'POST', 'PATCH'], or leave allow_methods "
                "None for the methods of the routes",
            )
    return tuple(method.upper() for method in methods)


def _header_names(name: str, value: object) -> tuple[str, ...]:
    names = _strings(name, value)
    for header in names:
        if not _TOKEN.fullmatch(header) or (header == "*" and len(names) > 1):
            raise ConfigError(
                f"Cors({name}=) holds {header!r}, which is not a header name",
                hint="list names such as ['Content-Type', 'X-Token'], or give '*' alone",
            )
    return names


def _paths(value: object) -> tuple[str, ...]:
    paths = _strings("paths", value)
    for path in paths:
        try:
            re.compile(path)
        except re.error as error:
            raise ConfigError(
                f"Cors(paths=) holds {path!r}, which does not compile: {error}",
                hint=r"each is a regex that must match all of the decoded path, e.g. r'/api/.*'",
            ) from None
    return paths


routes: list[Route] | None = []
"""The routes, tried in order; an empty list means ``[Route()]``."""

cache_no_store: list[str] = []
"""Regexes of filenames that clients must not cache."""
cache_private: list[str] = []
"""Regexes of filenames that only private (browser) caches may keep."""
cache_public: list[str] = []
"""Regexes of filenames that any cache may keep."""
cache_long_term: list[str] = []
"""Regexes of filenames that may be kept for ``cache_max_age_long_term`` seconds."""
cache_max_age_default: int = 300
"""Max-age in seconds for cacheable resources."""
cache_max_age_long_term: int = 864000
"""Max-age in seconds for long-term cacheable resources."""

cors: Cors | list[Cors] | None = None
"""Cross-origin settings (a krait addition): a :class:`Cors`, a list of them (the first
whose ``paths`` match a request's path applies), or None for none."""
error_pages: dict[int, str] = {}
"""The site's own pages for 404 and 500 (paths relative to the site root), e.g.
``{404: ".view/errors/404.html", 500: ".view/errors/500.html"}``; krait's built-in pages
otherwise."""
pubsub_url: str | None = None
"""Where WebSocket channels meet: ``redis://host:port/db`` to publish and subscribe through
Redis, so that every worker and machine sharing it reaches every subscriber; None (the
default) keeps channels within the process. ``--pubsub-url`` on the command line wins."""

ssl_certificate_path: str | None = None
"""The PEM certificate (chain) served on HTTPS ports."""
ssl_private_key_path: str | None = None
"""The PEM private key of the certificate."""
ssl_key_passphrase: str | None = None
"""The private key's passphrase, or None when the key is not encrypted."""

secret_key: str | bytes | list[str | bytes] | None = None
"""The secret that signs session cookies (see :doc:`/sessions`); keep it out of the site.

A list replaces a secret without logging everyone out: the first signs, all verify."""
session_store: str | None = None
"""None keeps sessions in signed cookies; ``"redis://host:port/db"`` keeps them in Redis."""
session_max_age: int = 14 * 24 * 3600
"""Seconds a session lives after it was last saved (two weeks)."""
session_cookie: str = "krait_session"
"""The name of the session cookie."""
