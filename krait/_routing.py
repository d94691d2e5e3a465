"""Route matching: compile ``krait.config.routes`` once, then match (method, path) pairs.

Matching follows the original Krait (spec §5.1): routes are tried in list order and the first
match wins; ``url`` must equal the decoded path exactly, ``regex`` must match all of it; HEAD
is routed as GET and a WebSocket upgrade as ``WEBSOCKET``. Unlike the original, a miss is not a
500: a path that no route knows is :class:`NoRouteMatched` (404), and a path that routes know
only for other methods is :class:`MethodNotAllowed` (405 with ``Allow``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from krait._errors import MethodNotAllowed, NoRouteMatched, SiteConfigError, UpgradeRequired
from krait.config import Route

__all__ = [
    "CompiledRoute",
    "allowed_methods",
    "compile_routes",
    "is_websocket_upgrade",
    "match_route",
    "route_verb",
]

_ANY_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "CONNECT", "OPTIONS", "TRACE")
"""The HTTP methods an ``ANY`` route accepts."""

_ROUTE_HINT = "build routes with krait.config.Route(...)"


@dataclass(frozen=True)
class CompiledRoute:
    """One validated route with its regex compiled.

    Attributes:
        index: the position in ``krait.config.routes`` (0 for the default route).
        verb: the routing verb, one of ``Route.route_verbs``.
        url: the exact path to match, or None.
        regex: the compiled pattern that must fully match the path, or None.
        url_pattern: for a ``url`` with ``{name}`` parts (a krait addition), the pattern that
            must fully match the path instead of the url itself; None otherwise.
        target: the file to serve relative to the site root; None serves the path itself.
        ctrl_class: the MVC controller factory, or None.
    """

    index: int
    verb: str
    url: str | None
    regex: re.Pattern[str] | None
    target: str | None
    ctrl_class: Any
    url_pattern: re.Pattern[str] | None = None

    def matches_path(self, path: str) -> bool:
        """Tell whether this route's ``url``/``regex`` accept a decoded path.

        Args:
            path: the decoded request path, without the query.

        Returns:
            True when ``url`` equals the path or ``regex`` fully matches it (either suffices
            when both are set), or when neither is set.
        """
        if self.url is None and self.regex is None:
            return True
        if self.url_pattern is not None:
            if self.url_pattern.fullmatch(path) is not None:
                return True
        elif self.url is not None and self.url == path:
            return True
        return self.regex is not None and self.regex.fullmatch(path) is not None

    def params(self, path: str) -> dict[str, str]:
        """The route parameters of a path this route matched: the ``{name}`` parts of its
        ``url``, else the named groups of its ``regex`` that took part in the match.

        Args:
            path: the decoded request path.

        Returns:
            The parameters by name; empty when the route has none.
        """
        for pattern in (self.url_pattern, self.regex):
            if pattern is None or not pattern.groupindex:
                continue
            match = pattern.fullmatch(path)
            if match is not None:
                return {k: v for k, v in match.groupdict().items() if v is not None}
        return {}

    def accepts_verb(self, verb: str) -> bool:
        """Tell whether this route takes a request routed with ``verb`` (see :func:`route_verb`).

        Args:
            verb: the request's routing verb.

        Returns:
            True for an ``ANY`` route or an equal verb.
        """
        return self.verb in ("ANY", verb)


def compile_routes(routes: Sequence[object] | None) -> tuple[CompiledRoute, ...]:
    """Validate and compile the site's routes.

    Args:
        routes: ``krait.config.routes`` as ``init.py`` left it.

    Returns:
        The compiled routes in order; ``(Route(),)`` compiled when ``routes`` is None or empty.

    Raises:
        SiteConfigError: ``routes`` is not a list, an entry is not a ``Route``, or a route's
            verb, url, regex, target or controller is unusable (the message names the index).
    """
    if routes is None:
        return (_compile_route(0, Route()),)
    if isinstance(routes, str | bytes) or not isinstance(routes, Sequence):
        raise SiteConfigError(
            f"krait.config.routes must be a list of Route, not {type(routes).__name__}",
            hint=_ROUTE_HINT,
        )
    if not routes:
        return (_compile_route(0, Route()),)
    return tuple(_compile_route(index, route) for index, route in enumerate(routes))


def _compile_route(index: int, route: object) -> CompiledRoute:
    where = f"krait.config.routes[{index}]"
    if not isinstance(route, Route):
        raise SiteConfigError(
            f"{where} is a {type(route).__name__}, not a krait.config.Route: {route!r}",
            hint=_ROUTE_HINT,
        )
    _check_verb(where, route.verb)
    for name in ("url", "target"):
        value = getattr(route, name)
        if value is not None and not isinstance(value, str):
            raise SiteConfigError(
                f"{where}.{name} must be a str or None, not {type(value).__name__}: {value!r}",
                hint=_ROUTE_HINT,
            )
    if route.target is not None and route.ctrl_class is not None:
        raise SiteConfigError(
            f"{where} sets both target= and ctrl_class=",
            hint="keep one: the controller's view already decides what is rendered",
        )
    if route.ctrl_class is not None and not callable(route.ctrl_class):
        raise SiteConfigError(
            f"{where}.ctrl_class is not callable: {route.ctrl_class!r}",
            hint="pass the controller class itself, e.g. Route(url='/', ctrl_class=HomeCtrl)",
        )
    return CompiledRoute(
        index=index,
        verb=route.verb,
        url=route.url,
        regex=_compile_regex(where, route.regex),
        target=route.target,
        ctrl_class=route.ctrl_class,
        url_pattern=url_template_pattern(where, route.url),
    )


_TEMPLATE_PART = re.compile(r"\{([^{}]*)\}")


def url_template_pattern(where: str, url: str | None) -> re.Pattern[str] | None:
    """The pattern of a ``url`` with ``{name}`` parts, e.g. ``/users/{id}``; None for a plain
    url, which must equal the path exactly.

    Each ``{name}`` matches one path segment: one or more characters other than ``/``.

    Raises:
        SiteConfigError: a part is not a Python identifier, or a name is used twice.
    """
    if url is None or "{" not in url:
        return None
    pieces: list[str] = []
    seen: set[str] = set()
    position = 0
    for match in _TEMPLATE_PART.finditer(url):
        name = match.group(1)
        if not name.isidentifier() or name in seen:
            problem = "is used twice" if name in seen else "is not a name"
            raise SiteConfigError(
                f"{where} has url {url!r}, whose part {{{name}}} {problem}",
                hint="name each part once with letters, digits and _, e.g. url='/users/{id}'",
            )
        seen.add(name)
        pieces.append(re.escape(url[position : match.start()]))
        pieces.append(f"(?P<{name}>[^/]+)")
        position = match.end()
    rest = url[position:]
    leftover = _TEMPLATE_PART.sub("", url)
    if "{" in leftover or "}" in leftover:
        raise SiteConfigError(
            f"{where} has url {url!r} with an unmatched brace",
            hint="write url parameters as {name}, e.g. url='/users/{id}/posts/{post}'",
        )
    pieces.append(re.escape(rest))
    return re.compile("".join(pieces))


def _check_verb(where: str, verb: object) -> None:
    if isinstance(verb, str) and verb in Route.route_verbs:
        return
    raise SiteConfigError(
        f"{where} has verb {verb!r}, which is not one of {', '.join(Route.route_verbs)} "
        "(see krait.config.Route.route_verbs)",
        hint="use one of those verbs, e.g. Route('POST', url='/comment')",
    )


def _compile_regex(where: str, regex: object) -> re.Pattern[str] | None:
    if regex is None:
        return None
    if isinstance(regex, re.Pattern) and isinstance(regex.pattern, str):
        return regex
    if not isinstance(regex, str):
        raise SiteConfigError(
            f"{where}.regex must be a str or None, not {type(regex).__name__}: {regex!r}",
            hint="write the regex as a string, e.g. regex=r'/blog/.+'",
        )
    try:
        return re.compile(regex)
    except re.error as error:
        position = "" if error.pos is None else f" at position {error.pos}"
        raise SiteConfigError(
            f"{where} has regex {regex!r}, which does not compile: {error.msg}{position}",
            hint="fix the pattern; it must match the whole decoded path, e.g. regex=r'/blog/.+'",
        ) from error


def route_verb(method: str, is_upgrade: bool) -> str:
    """Map a request to the verb that routes are matched against.

    Args:
        method: the HTTP method, upper case.
        is_upgrade: whether the request asks for a WebSocket upgrade (the caller decides, e.g.
            with :func:`is_websocket_upgrade`).

    Returns:
        ``"WEBSOCKET"`` for an upgrade, ``"GET"`` for HEAD, otherwise ``method``.
    """
    if is_upgrade:
        return "WEBSOCKET"
    if method == "HEAD":
        return "GET"
    return method


def is_websocket_upgrade(headers: Mapping[str, str]) -> bool:
    """Tell whether the request's ``Upgrade`` header offers ``websocket``.

    Args:
        headers: the request headers with lower-case names.

    Returns:
        True when ``upgrade`` is a comma-separated list holding the token ``websocket`` in any
        case (the original compared case-sensitively; RFC 9110 §7.8 says tokens are not).
    """
    value = headers.get("upgrade")
    if not value:
        return False
    return any(token.strip().lower() == "websocket" for token in value.split(","))


def match_route(
    routes: Sequence[CompiledRoute], method: str, path: str, is_upgrade: bool
) -> CompiledRoute:
    """Find the route that serves a request.

    ``OPTIONS`` is matched like any method, so ``OPTIONS`` and ``ANY`` routes take it. When
    none does but other routes know the path, this raises :class:`MethodNotAllowed` like for
    any other method: the HTTP layer then answers the ``OPTIONS`` request itself with 204 and
    ``Allow`` instead of a 405.

    Args:
        routes: the compiled routes, in order.
        method: the HTTP method, upper case.
        path: the decoded request path, without the query.
        is_upgrade: whether the request asks for a WebSocket upgrade.

    Returns:
        The first route whose verb accepts the request and whose url/regex accept the path.

    Raises:
        UpgradeRequired: a plain GET or HEAD reached a path that a ``WEBSOCKET`` route knows
            (a :class:`MethodNotAllowed`, so it may also be answered as 405).
        MethodNotAllowed: routes know the path, but none with this method; ``allowed``
            lists the methods they accept.
        NoRouteMatched: no route knows the path.
    """
    verb = route_verb(method, is_upgrade)
    for route in routes:
        if route.accepts_verb(verb) and route.matches_path(path):
            return route
    allowed = allowed_methods(routes, path)
    if not allowed:
        raise NoRouteMatched(method, path)
    if verb == "GET" and any(r.verb == "WEBSOCKET" and r.matches_path(path) for r in routes):
        raise UpgradeRequired(allowed)
    raise MethodNotAllowed(allowed)


def allowed_methods(routes: Sequence[CompiledRoute], path: str) -> tuple[str, ...]:
    """List the HTTP methods that some route accepts for a path.

    A ``GET`` route allows GET and HEAD, an ``ANY`` route every method krait serves, and a
    ``WEBSOCKET`` route GET (an upgrade is a GET request). OPTIONS is always added when
    anything is allowed, since krait answers it for any known path.

    Args:
        routes: the compiled routes.
        path: the decoded request path, without the query.

    Returns:
        The methods, sorted; empty when no route knows the path.
    """
    methods: set[str] = set()
    for route in routes:
        if route.matches_path(path):
            methods.update(_methods_for_verb(route.verb))
    if methods:
        methods.add("OPTIONS")
    return tuple(sorted(methods))


def _methods_for_verb(verb: str) -> tuple[str, ...]:
    if verb == "ANY":
        return _ANY_METHODS
    if verb == "GET":
        return ("GET", "HEAD")
    if verb == "WEBSOCKET":
        return ("GET",)
    return (verb,)
