"""The resource tree generated from the routes, and the one place errors become statuses.

The root resource decodes the path, matches it against the compiled routes and hands the
request to that route's leaf resource. A route resource resolves its target and serves it as
a static file, or runs the script, template or controller in the worker pool and writes what
it produced.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from typing import Any, cast

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

import krait
from krait._answers import write_error
from krait._bridge import WorkerPool
from krait._caching import CachePolicy, cache_policy
from krait._errors import (
    BadRequestPath,
    MethodNotAllowed,
    NoRouteMatched,
    TargetNotFound,
    UpgradeRequired,
)
from krait._http import close_after
from krait._mime import content_type_for
from krait._pages import PageJob, PageRenderer, PageResult, default_content_type
from krait._pyml import CompiledTemplate
from krait._routing import CompiledRoute, is_websocket_upgrade, match_route
from krait._site import SiteConfig
from krait._static import StaticFiles, finish_without_body, request_headers
from krait._targets import (
    ResolvedTarget,
    TargetKind,
    cache_key,
    decode_path,
    resolve_target,
)
from krait._tracebacks import user_traceback
from krait._ws.hub import WebsocketsHub
from krait._ws.upgrade import accept_upgrade

log = Logger(namespace="krait")

RESOLUTION_TTL = 1.0
"""Seconds a URL-to-file resolution is reused before the files are probed again."""


class KraitRoot(Resource):
    """The root of the tree: decodes the path and dispatches to the matching route.

    Args:
        site: the loaded site configuration.
        pool: the worker pool user code runs in.
        debug: show tracebacks in error pages.
    """

    isLeaf = True

    def __init__(
        self,
        site: SiteConfig,
        pool: WorkerPool,
        debug: bool = False,
        ws_hub: WebsocketsHub | None = None,
    ) -> None:
        cast(Any, super()).__init__()
        self.site = site
        self.pool = pool
        self.renderer = PageRenderer(site.root)
        self.ws_hub = ws_hub
        self.files = StaticFiles()
        self.routes = [RouteResource(route, self, pool, debug) for route in site.routes]
        self._decoded: dict[bytes, str] = {}

    def render(self, request: Any) -> bytes | int:
        raw_path = origin_path(request)
        if raw_path is None:
            if request.method == b"OPTIONS" and request.uri == b"*":
                request.setHeader(b"allow", b", ".join(ALL_METHODS))
                request.setResponseCode(204)
                return finish_without_body(request)
            log.info("400 for {uri!r}: not an origin-form target", uri=request.uri)
            return write_error(request, 400, "Bad Request")
        try:
            path = self._decode(raw_path)
        except BadRequestPath as error:
            log.info("400 for {uri!r}: {reason}", uri=request.uri, reason=error)
            return write_error(request, 400, "Bad Request")
        method = request.method.decode("ascii", "replace")
        upgrade = request.requestHeaders.hasHeader(b"upgrade") and is_websocket_upgrade(
            {"upgrade": ", ".join(request_header_values(request, b"upgrade"))}
        )
        try:
            route = match_route(self.site.routes, method, path, upgrade)
        except UpgradeRequired as error:
            request.setHeader(b"allow", error.allow_header)
            request.setHeader(b"upgrade", b"websocket")
            request.setHeader(b"connection", b"Upgrade")
            return write_error(request, 426, "Upgrade Required")
        except MethodNotAllowed as error:
            request.setHeader(b"allow", error.allow_header)
            if method == "OPTIONS":
                request.setResponseCode(204)
                return finish_without_body(request)
            return write_error(request, 405, "Method Not Allowed")
        except NoRouteMatched:
            return write_error(request, 404, "Not Found")
        return self.routes[route.index].serve(request, path, upgrade)

    def _decode(self, raw_path: bytes) -> str:
        """Decode a path, remembering recent answers (most requests repeat a few paths)."""
        path = self._decoded.get(raw_path)
        if path is None:
            path = decode_path(raw_path)
            if len(self._decoded) >= 4096:
                self._decoded.clear()
            self._decoded[raw_path] = path
        return path


NO_BODY_STATUSES = frozenset({204, 304})
"""Statuses whose responses never carry a body."""


def reason_phrase(status: int) -> bytes:
    """The standard reason phrase of a status (``b"Too Many Requests"`` for 429).

    twisted.web knows only the statuses of RFC 2616 and sends ``Unknown Status`` for the rest;
    a status without a registered phrase gets none (RFC 9112 allows an empty reason).
    """
    return _REASON_PHRASES.get(status, b"")


_REASON_PHRASES = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}


ALL_METHODS = (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"CONNECT")


def origin_path(request: Any) -> bytes | None:
    """The path of the request target, or None when the target is not origin- or absolute-form.

    An absolute-form target (``GET http://host/path``, RFC 9112 §3.2.2) is reduced to its
    path; anything not starting with ``/`` is refused.
    """
    path: bytes = request.path
    if path.startswith(b"/"):
        return path
    if path[:8].lower().startswith((b"http://", b"https://")):  # schemes ignore case
        rest = path.split(b"://", 1)[1]
        slash = rest.find(b"/")
        return rest[slash:] if slash >= 0 else b"/"
    return None


def request_header_values(request: Any, name: bytes) -> list[str]:
    """The values of one request header, decoded as Latin-1."""
    return [value.decode("latin-1") for value in request.requestHeaders.getRawHeaders(name, [])]


class RouteResource(Resource):
    """The leaf serving one route's target.

    Args:
        route: the compiled route.
        root: the root resource (site, renderer).
        pool: the worker pool for user code.
        debug: show tracebacks in error pages.
    """

    isLeaf = True

    def __init__(
        self, route: CompiledRoute, root: KraitRoot, pool: WorkerPool, debug: bool
    ) -> None:
        cast(Any, super()).__init__()
        self.route = route
        self.root = root
        self.pool = pool
        self.debug = debug
        self._resolved: dict[str, tuple[float, ResolvedTarget]] = {}
        self._policies: dict[tuple[str, bool], CachePolicy] = {}

    def serve(self, request: Any, path: str, upgrade: bool = False) -> bytes | int:
        """Answer the request for the decoded ``path``."""
        if self.route.ctrl_class is not None:
            job = PageJob(kind="ctrl", base_filename=path, ctrl_class=self.route.ctrl_class)
            return self._run_page(request, path, job, cache_key(path))
        target = self.route.target if self.route.target is not None else path
        try:
            resolved = self._resolve(target)
        except TargetNotFound as error:
            log.debug("404 for {path!r}: {reason}", path=path, reason=error)
            return write_error(request, 404, "Not Found")
        key = cache_key(target)
        if upgrade or resolved.kind is TargetKind.SCRIPT:
            job = PageJob(kind="script", path=resolved.path, base_filename=resolved.relative)
            return self._run_page(request, path, job, key, upgrade=upgrade)
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
        request: Any,
        path: str,
        resolved: ResolvedTarget,
        key: str,
        template: CompiledTemplate,
    ) -> bytes | int:
        """Render a template with code in the pool; one without code is a static file."""
        if template.is_dynamic:
            job = PageJob(kind="template", path=resolved.path, base_filename=resolved.relative)
            return self._run_page(request, path, job, key)
        return self._serve_static(request, resolved, key)

    def _template_compiled(
        self,
        request: Any,
        path: str,
        resolved: ResolvedTarget,
        key: str,
        succeeded: bool,
        value: Any,
    ) -> None:
        """Go on with a request once its template was compiled in the pool."""
        if request.finished or request._disconnected:
            return
        try:
            body = (
                self._serve_template(request, path, resolved, key, value)
                if succeeded
                else self._fail(request, value)
            )
        except Exception:
            body = self._fail(request, Failure())
        finish_rendered(request, body)

    def _resolve(self, target: str) -> ResolvedTarget:
        """Resolve a target, reusing a resolution made less than a second ago.

        The reused path is the real path checked when it was resolved, and whoever opens the
        file stats it again, so an edited or deleted file is seen at once. Only a new file that
        would change the probing order (``about.html`` appearing beside ``about.htm``) may take
        up to a second to be noticed.
        """
        now = time.monotonic()
        cached = self._resolved.get(target)
        if cached is not None and cached[0] > now:
            return cached[1]
        resolved = resolve_target(self.root.site.real_root, target)
        if len(self._resolved) >= 4096:
            self._resolved.clear()
        self._resolved[target] = (now + RESOLUTION_TTL, resolved)
        return resolved

    def _serve_static(self, request: Any, resolved: ResolvedTarget, key: str) -> bytes | int:
        if request.method == b"OPTIONS":
            request.setHeader(b"allow", b"GET, HEAD, OPTIONS")
            request.setResponseCode(204)
            return finish_without_body(request)
        policy = self._policy(key, dynamic=False)
        # The type follows the name that was asked for, not a symlink's target.
        content_type = content_type_for(resolved.relative)
        return self.root.files.serve(request, resolved.path, content_type, policy)

    def _run_page(
        self, request: Any, path: str, job: PageJob, key: str, upgrade: bool = False
    ) -> int:
        headers = request_headers(request)
        query = request.uri.split(b"?", 1)[1].decode("latin-1") if b"?" in request.uri else ""
        content = request.content
        if content is not None:
            content.seek(0)
        krait_request = krait.Request.from_stream(
            request.method.decode("ascii", "replace"),
            path,
            query,
            request.clientproto.decode("ascii", "replace"),
            headers,
            content,
        )
        cache_control = self._policy(key, dynamic=True).header.encode("ascii")
        write = self._finish_upgrade if upgrade else self._write_page
        self.pool.call(
            self.root.renderer.run,
            (job, krait_request, upgrade),
            partial(self._page_done, write, request, job, cache_control),
        )
        return NOT_DONE_YET

    def _page_done(
        self,
        write: Callable[[PageResult, Any, PageJob, bytes], None],
        request: Any,
        job: PageJob,
        cache_control: bytes,
        succeeded: bool,
        value: Any,
    ) -> None:
        """Write what the page produced, or the error page for what it raised."""
        if succeeded:
            try:
                write(value, request, job, cache_control)
                return
            except Exception:
                value = Failure()
        self._write_failure(value, request)

    def _policy(self, key: str, dynamic: bool) -> CachePolicy:
        """The cache decision for a cache key (remembered: the regexes cost per request)."""
        policy = self._policies.get((key, dynamic))
        if policy is None:
            policy = cache_policy(key, dynamic, self.root.site.cache_rules)
            if len(self._policies) < 4096:
                self._policies[(key, dynamic)] = policy
        return policy

    def _write_page(
        self, result: PageResult, request: Any, job: PageJob, cache_control: bytes
    ) -> None:
        if request.finished or request._disconnected:
            return
        request.setResponseCode(result.status, reason_phrase(result.status))
        # Straight into the header table: request.setHeader costs a call per header, and on
        # a small page that shows.
        out = request.responseHeaders
        has_type = False
        for name, value in result.headers:
            lower = name.lower()
            if lower in _FRAMING_HEADERS:
                # krait frames the body itself: a script's Content-Length on a streamed body
                # would let the rest of it pass for the next response on the connection.
                if lower == "connection" and "close" in value.lower():
                    close_after(request)
                continue
            if lower == "content-type":
                has_type = True
            out.addRawHeader(name, value)
        if not has_type:
            out.setRawHeaders(
                b"content-type", [default_content_type(job.base_filename, result.state)]
            )
        out.setRawHeaders(b"cache-control", [cache_control])
        body = result.body
        streamed = not isinstance(body, bytes)
        if result.status in NO_BODY_STATUSES or (streamed and request.method == b"HEAD"):
            # RFC 9110 §6.4.1: no body, and no Content-Length for a 204 (nor a made-up one for
            # a 304); twisted.web drops whatever is written. A HEAD need not run a generator.
            close = getattr(body, "close", None)
            if close is not None:
                self.pool.run(close)
            request.finish()
            return
        if isinstance(body, bytes):
            out.setRawHeaders(b"content-length", [b"%d" % len(body)])
            if body:
                request.write(body)
            request.finish()
            return
        stream_body(request, result, self.pool, self._fail)

    def _finish_upgrade(
        self, result: PageResult, request: Any, job: PageJob, cache_control: bytes
    ) -> None:
        """Accept the upgrade the target asked for, or send its refusal and close."""
        if request.finished or request._disconnected:
            return
        ws_response = result.state.ws_response
        if 200 <= result.status < 300 and ws_response is not None:
            accept_upgrade(request, ws_response, result.state, self.root.ws_hub)
            return
        close_after(request)
        if not 200 <= result.status < 300:
            self._write_page(result, request, job, cache_control)
            return
        # The original answered 400 with an empty body when the target accepted nothing.
        request.setResponseCode(400, b"Bad Request")
        request.setHeader(b"content-length", b"0")
        request.finish()

    def _write_failure(self, failure: Failure, request: Any) -> None:
        if request.finished or request._disconnected:
            return
        body = self._fail(request, failure)
        request.write(body)
        request.finish()

    def _fail(self, request: Any, failure: Failure) -> bytes:
        from krait._forms import MultipartError

        if failure.check(MultipartError):
            reason = str(failure.value)
            log.info("400 for {uri!r}: {reason}", uri=request.uri, reason=reason)
            return write_error(request, 400, "Bad Request", reason)
        error = failure.value
        assert error is not None
        text = user_traceback(error)
        uri = request.uri.decode("latin-1")
        log.error("500 for {uri}: error in the site's code\n{traceback}", uri=uri, traceback=text)
        return write_error(request, 500, "Internal Server Error", text if self.debug else "")


_FRAMING_HEADERS = frozenset(
    {"cache-control", "content-length", "transfer-encoding", "connection", "keep-alive"}
)
"""Headers a page may not set: krait sets them (Cache-Control from the config lists)."""


def finish_rendered(request: Any, body: bytes | int) -> None:
    """Write what a render step returned, as ``twisted.web``'s ``Request.render`` would."""
    if not isinstance(body, bytes):  # NOT_DONE_YET: the step finishes the request itself
        return
    if request.method != b"HEAD" or body:
        request.setHeader(b"content-length", b"%d" % len(body))
    if request.method != b"HEAD":
        request.write(body)
    request.finish()


def stream_body(
    request: Any,
    result: PageResult,
    pool: WorkerPool,
    error_page: Callable[[Any, Failure], bytes],
) -> None:
    """Stream an iterable body chunk by chunk, pulling each chunk in the worker pool."""
    from krait._streaming import IteratorProducer

    IteratorProducer(request, result, pool, error_page).start()
