"""Site configuration: routes, client-cache lists, TLS settings and the channels' Redis.

Change these from ``.py/init.py`` only: krait reads them once, after ``init.py`` ran, into a
frozen configuration; later changes are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from krait import _route_origins

__all__ = [
    "ConfigError",
    "Route",
    "cache_long_term",
    "cache_max_age_default",
    "cache_max_age_long_term",
    "cache_no_store",
    "cache_private",
    "cache_public",
    "pubsub_url",
    "routes",
    "ssl_certificate_path",
    "ssl_key_passphrase",
    "ssl_private_key_path",
]


class ConfigError(Exception):
    """A route or setting in ``krait.config`` is not valid."""


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
