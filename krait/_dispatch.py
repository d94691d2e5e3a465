"""Dispatches a request: decodes its path, matches a route, and serves the route's target.

The root resource answers what routing decides alone (400 for an undecodable path, 404, 405
with Allow, 426 for a route that only upgrades, OPTIONS; CORS preflights through
``_cross_origin``), and hands the request to that
route's leaf. A leaf resolves its target and serves it as a static file, or runs the script,
template or controller in the worker pool and gives what it produced to ``_page_writer``.
The error answers themselves are written by ``_answers``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple, cast

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from krait._answers import write_error
from krait._caching import CachePolicy, cache_policy
from krait._cross_origin import CrossOrigin
from krait._error_page_writer import ErrorPageWriter
from krait._errors import (
    BadRequestPath,
    MethodNotAllowed,
    NoRouteMatched,
    TargetNotFound,
    UpgradeRequired,
)
from krait._metrics_tally import JOB_KINDS, KIND_STATIC, KIND_WEBSOCKET, mark_route_kind
from krait._mime import content_type_for
from krait._page_compression import render_compressed
from krait._page_guard import PageGuard, PageLimits
from krait._page_writer import PageWriter, finish_rendered, is_answered_or_gone
from krait._pages import PageJob, PageRenderer, PageResult
from krait._pyml import CompiledTemplate
from krait._raw_requests import raw_request
from krait._routing import CompiledRoute, is_websocket_upgrade, match_route
from krait._site import SiteConfig
from krait._static import StaticFiles, finish_without_body
from krait._targets import (
    ResolvedTarget,
    TargetKind,
    cache_key,
    decode_path,
    resolve_target,
    target_path,
)
from krait._twisted_compat import header_table  # canonical names: b"Upgrade", not b"upgrade"
from krait._workers import WorkerPool
from krait._ws.hub import WebsocketsHub

log = Logger(namespace="krait")

RESOLUTION_TTL = 1.0
"""Seconds a URL-to-file resolution is reused before the files are probed again."""


class KraitRoot(Resource):
    """The root of the tree: decodes the path and dispatches to the matching route.

    Args:
        site: the loaded site configuration.
        pool: the worker pool user code runs in.
        debug: show tracebacks in error pages.
        ws_hub: the WebSocket hub upgrades are handed to.
        page_limits: queue and time limits of pages (the defaults when None).
        compression: Brotli or gzip for files and pages, for clients that accept it
            (``--no-compression`` turns it off).
    """

    isLeaf = True
    renders_every_path = True
    """Rendered for every request, with no encoder: ``krait._request_process`` skips
    twisted.web's resource walk for it."""

    def __init__(
        self,
        site: SiteConfig,
        pool: WorkerPool,
        debug: bool = False,
        ws_hub: WebsocketsHub | None = None,
        page_limits: PageLimits | None = None,
        compression: bool = True,
    ) -> None:
        cast(Any, super()).__init__()
        self.site = site
        self.pool = pool
        self.renderer = PageRenderer(site.root, site.sessions)
        self.ws_hub = ws_hub
        self.compression = compression
        self.writer = PageWriter(pool, debug, ws_hub)
        self.guard = PageGuard(pool, pool.reactor, page_limits or PageLimits())
        self.files = StaticFiles(compression=compression)
        self.routes = [RouteHandler(route, self, pool) for route in site.routes]
        self.cross_origin = CrossOrigin(site.cors, site.routes) if site.cors else None
        self.error_pages = ErrorPageWriter(site.error_pages, self.guard, self.renderer, self.writer)
        if site.error_pages:
            self.writer.use_error_pages(self.error_pages.answer)
        self._decoded: dict[bytes, str] = {}
        self._matched: dict[tuple[bytes, str, bool], RouteHandler] = {}

    def render(self, request: Request) -> bytes | int:
        path = self._decoded.get(request.path)
        if path is None:
            raw_path = origin_path(request)
            if raw_path is None:
                if request.method == b"OPTIONS" and request.uri == b"*":
                    request.setHeader(b"allow", b", ".join(ALL_METHODS))
                    request.setResponseCode(204)
                    return finish_without_body(request)
                log.info("400 for {uri!r}: not an origin-form target", uri=request.uri)
                return write_error(request, 400)
            try:
                path = decode_path(raw_path)
            except BadRequestPath as error:
                log.info("400 for {uri!r}: {reason}", uri=request.uri, reason=error)
                return write_error(request, 400)
            self._remember_decoded(request.path, path)
        upgrade = b"Upgrade" in header_table(request.requestHeaders) and is_websocket_upgrade(
            {"upgrade": ", ".join(request_header_values(request, b"upgrade"))}
        )
        if self.cross_origin is not None and not upgrade:
            answered = self.cross_origin.handle(request, path)
            if answered is not None:
                return answered
        handler = self._matched.get((request.method, path, upgrade))
        if handler is None:
            try:
                handler = self._match(request.method, path, upgrade)
            except UpgradeRequired as error:
                request.setHeader(b"allow", error.allow_header)
                request.setHeader(b"upgrade", b"websocket")
                request.setHeader(b"connection", b"Upgrade")
                return write_error(request, 426)
            except MethodNotAllowed as error:
                request.setHeader(b"allow", error.allow_header)
                if request.method == b"OPTIONS":
                    request.setResponseCode(204)
                    return finish_without_body(request)
                return write_error(request, 405)
            except NoRouteMatched:
                return self.not_found(request)
        return handler.serve(request, path, upgrade)

    def not_found(self, request: Request) -> bytes | int:
        """Answer 404, with the site's own page if it has one."""
        if self.error_pages.answer(request, 404):
            return NOT_DONE_YET
        return write_error(request, 404)

    def _match(self, method: bytes, path: str, upgrade: bool) -> RouteHandler:
        """The handler of the route matching a request, remembered (routes never change once
        the site loaded)."""
        route = match_route(self.site.routes, method.decode("ascii", "replace"), path, upgrade)
        handler = self.routes[route.index]
        if len(self._matched) >= 4096:
            self._matched.clear()
        self._matched[(method, path, upgrade)] = handler
        return handler

    def worker_pools(self) -> list[WorkerPool]:
        """Every pool this tree runs user code in (to stop them with the site)."""
        hub_pools = self.ws_hub.pools if self.ws_hub is not None else ()
        return [self.pool, *hub_pools]

    def _remember_decoded(self, target: bytes, path: str) -> None:
        """Remember the decoded path of a request target's path (most requests repeat a few
        paths): the next request to it skips the target check and the decoding."""
        if len(self._decoded) >= 4096:
            self._decoded.clear()
        self._decoded[target] = path


ALL_METHODS = (
    b"GET",
    b"HEAD",
    b"POST",
    b"PUT",
    b"DELETE",
    b"PATCH",
    b"OPTIONS",
    b"TRACE",
    b"CONNECT",
)


def origin_path(request: Request) -> bytes | None:
    """The path of the request target, or None when the target is not origin- or absolute-form.

    An absolute-form target (``GET http://host/path``, RFC 9112 §3.2.2) is reduced to its
    path; anything not starting with ``/`` is refused.
    """
    return target_path(request.path)


def request_header_values(request: Request, name: bytes) -> list[str]:
    """The values of one request header, decoded as Latin-1."""
    return [value.decode("latin-1") for value in request.requestHeaders.getRawHeaders(name, [])]


class _Resolution(NamedTuple):
    """A target resolved to a file, reused until ``expires`` (``time.monotonic()``).

    The reused path is the real path checked when it was resolved, and whoever opens the file
    stats it again, so an edited or deleted file is seen at once. Only a new file that would
    change the probing order (``about.html`` appearing beside ``about.htm``) may take up to
    :data:`RESOLUTION_TTL` to be noticed.

    Attributes:
        expires: when to resolve the target again.
        target: the file and its kind.
        key: the target's cache key (for the site's cache rules).
        script: the job running it, when the file is a script.
    """

    expires: float
    target: ResolvedTarget
    key: str
    script: PageJob | None


class RouteHandler:
    """Serves one route's target (the root, the one twisted.web resource, dispatches here).

    Args:
        route: the compiled route.
        root: the root resource (site, renderer).
        pool: the worker pool for user code.
    """

    def __init__(self, route: CompiledRoute, root: KraitRoot, pool: WorkerPool) -> None:
        self.route = route
        self.root = root
        self.pool = pool
        self.writer = root.writer
        self._resolved: dict[str, _Resolution] = {}
        self._policies: dict[tuple[str, bool], CachePolicy] = {}
        self._cache_controls: dict[str, bytes] = {}
        self._jobs: dict[tuple[str, str, str], PageJob] = {}
        self._content_types: dict[str, str] = {}
        # Most routes have no parameters: no pattern to match again per request.
        self._has_params = any(
            pattern is not None and pattern.groupindex
            for pattern in (route.url_pattern, route.regex)
        )

    def serve(self, request: Request, path: str, upgrade: bool = False) -> bytes | int:
        """Answer the request for the decoded ``path``."""
        if self.route.ctrl_class is not None:
            job = PageJob(kind="ctrl", base_filename=path, ctrl_class=self.route.ctrl_class)
            return self._run_page(request, path, job, cache_key(path))
        target = self.route.target if self.route.target is not None else path
        resolution = self._resolved.get(target)
        if resolution is None or resolution.expires <= time.monotonic():
            try:
                resolution = self._resolve(target)
            except TargetNotFound as error:
                log.debug("404 for {path!r}: {reason}", path=path, reason=error)
                return self.root.not_found(request)
        resolved, key = resolution.target, resolution.key
        if resolution.script is not None:
            return self._run_page(request, path, resolution.script, key, upgrade)
        if upgrade:
            return self._run_page(request, path, self._job("file", resolved), key, upgrade)
        if resolved.kind is TargetKind.TEMPLATE:
            template = self.root.renderer.cached_template(resolved.path)
            if template is None:
                # Reading and compiling a template is no work for the reactor.
                self.pool.call(
                    self.root.renderer.template,
                    (resolved.path,),
                    partial(self._template_compiled, request, path, resolved, key),
                )
                return NOT_DONE_YET
            return self._serve_template(request, path, resolved, key, template)
        return self._serve_static(request, resolved, key)

    def _serve_template(
        self,
        request: Request,
        path: str,
        resolved: ResolvedTarget,
        key: str,
        template: CompiledTemplate,
    ) -> bytes | int:
        """Render a template with code in the pool; one without code is a static file."""
        if template.is_dynamic:
            return self._run_page(request, path, self._job("template", resolved), key)
        return self._serve_static(request, resolved, key)

    def _template_compiled(
        self,
        request: Request,
        path: str,
        resolved: ResolvedTarget,
        key: str,
        succeeded: bool,
        value: Any,
    ) -> None:
        """Go on with a request once its template was compiled in the pool."""
        if is_answered_or_gone(request):
            return
        if not succeeded:
            self.writer.write_failure(value, request)
            return
        try:
            body = self._serve_template(request, path, resolved, key, value)
        except Exception:
            self.writer.write_failure(Failure(), request)
            return
        finish_rendered(request, body)

    def _job(self, kind: str, resolved: ResolvedTarget) -> PageJob:
        """The job running a resolved file (the same object for each request to it)."""
        job = self._jobs.get((kind, resolved.path, resolved.relative))
        if job is None:
            job = PageJob(kind=kind, path=resolved.path, base_filename=resolved.relative)
            if len(self._jobs) >= 4096:
                self._jobs.clear()
            self._jobs[(kind, resolved.path, resolved.relative)] = job
        return job

    def _resolve(self, target: str) -> _Resolution:
        """Resolve a target, to be reused for a second (see :class:`_Resolution`)."""
        resolved = resolve_target(self.root.site.real_root, target)
        script = self._job("script", resolved) if resolved.kind is TargetKind.SCRIPT else None
        resolution = _Resolution(
            time.monotonic() + RESOLUTION_TTL, resolved, cache_key(target), script
        )
        if len(self._resolved) >= 4096:
            self._resolved.clear()
        self._resolved[target] = resolution
        return resolution

    def _serve_static(self, request: Request, resolved: ResolvedTarget, key: str) -> bytes | int:
        mark_route_kind(request, KIND_STATIC)
        if request.method == b"OPTIONS":
            request.setHeader(b"allow", b"GET, HEAD, OPTIONS")
            request.setResponseCode(204)
            return finish_without_body(request)
        policy = self._policy(key, dynamic=False)
        # The type follows the name that was asked for, not a symlink's target.
        content_type = self._content_types.get(resolved.relative)
        if content_type is None:
            content_type = content_type_for(resolved.relative)
            if len(self._content_types) < 4096:
                self._content_types[resolved.relative] = content_type
        return self.root.files.serve(request, resolved.path, content_type, policy)

    def _run_page(
        self, request: Request, path: str, job: PageJob, key: str, upgrade: bool = False
    ) -> int:
        mark_route_kind(request, KIND_WEBSOCKET if upgrade else JOB_KINDS[job.kind])
        cache_control = self._cache_controls.get(key)
        if cache_control is None:
            cache_control = self._policy(key, dynamic=True).header.encode("ascii")
            if len(self._cache_controls) < 4096:
                self._cache_controls[key] = cache_control
        root = self.root
        raw = raw_request(request, path, self.route.params(path) if self._has_params else {})
        render: Callable[..., PageResult] = root.renderer.run
        args: tuple[Any, ...]
        if root.compression and not upgrade:
            accepted = header_table(request.requestHeaders).get(b"Accept-Encoding")
            if accepted is None:
                accept_encoding = None
            elif len(accepted) == 1:
                accept_encoding = accepted[0].decode("latin-1")
            else:
                accept_encoding = b", ".join(accepted).decode("latin-1")
            # The renderer goes in the arguments: no partial to make per request.
            args = (render, accept_encoding, job, raw, False)
            render = render_compressed
        else:
            args = (job, raw, upgrade)
        root.guard.run(
            request,
            f"{path} ({job.path or job.base_filename})",
            render,
            args,
            partial(self.writer.page_done, upgrade, request, job, cache_control),
        )
        return NOT_DONE_YET

    def _policy(self, key: str, dynamic: bool) -> CachePolicy:
        """The cache decision for a cache key (remembered: the regexes cost per request)."""
        policy = self._policies.get((key, dynamic))
        if policy is None:
            policy = cache_policy(key, dynamic, self.root.site.cache_rules)
            if len(self._policies) < 4096:
                self._policies[(key, dynamic)] = policy
        return policy
