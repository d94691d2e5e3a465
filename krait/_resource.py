"""The resource tree generated from the routes, and the one place errors become statuses.

The root resource decodes the path, matches it against the compiled routes and hands the
request to that route's leaf resource. A route resource resolves its target and serves it as
a static file, or runs the script, template or controller in the worker pool and writes what
it produced.
"""

from __future__ import annotations

import html
from typing import Any, cast

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

import krait
from krait._bridge import WorkerPool
from krait._caching import cache_policy
from krait._errors import (
    BadRequestPath,
    MethodNotAllowed,
    NoRouteMatched,
    TargetNotFound,
    UpgradeRequired,
)
from krait._mime import content_type_for
from krait._pages import PageJob, PageRenderer, PageResult, default_content_type
from krait._routing import CompiledRoute, is_websocket_upgrade, match_route
from krait._site import SiteConfig
from krait._static import finish_without_body, request_headers, serve_file
from krait._targets import TargetKind, cache_key, decode_path, resolve_target
from krait._tracebacks import user_traceback

log = Logger(namespace="krait")


def error_page(code: int, phrase: str, detail: str = "") -> bytes:
    """A small HTML error page."""
    extra = f"<pre>{html.escape(detail)}</pre>" if detail else ""
    return (
        f"<html><head><title>{code} {phrase}</title></head>"
        f"<body><h1>{code} {phrase}</h1>{extra}</body></html>"
    ).encode()


def write_error(request: Any, code: int, phrase: str, detail: str = "") -> bytes:
    """Set up ``request`` for an error answer and return the body."""
    body = error_page(code, phrase, detail)
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"content-length", b"%d" % len(body))
    request.setHeader(b"cache-control", b"no-store")
    return body


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
        ws_pool: WorkerPool | None = None,
    ) -> None:
        cast(Any, super()).__init__()
        self.site = site
        self.renderer = PageRenderer(site.root)
        self.ws_pool = ws_pool
        self.routes = [RouteResource(route, self, pool, debug) for route in site.routes]

    def render(self, request: Any) -> bytes | int:
        try:
            path = decode_path(request.path)
        except BadRequestPath as error:
            log.info("400 for {uri!r}: {reason}", uri=request.uri, reason=error)
            return write_error(request, 400, "Bad Request")
        headers = request_headers(request)
        method = request.method.decode("ascii", "replace")
        upgrade = is_websocket_upgrade(headers)
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
        return self.routes[route.index].serve(request, path, headers, upgrade)


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

    def serve(
        self, request: Any, path: str, headers: dict[str, str], upgrade: bool = False
    ) -> bytes | int:
        """Answer the request for the decoded ``path``."""
        site = self.root.site
        if self.route.ctrl_class is not None:
            job = PageJob(kind="ctrl", base_filename=path, ctrl_class=self.route.ctrl_class)
            return self._run_page(request, path, headers, job, cache_key(path))
        target = self.route.target if self.route.target is not None else path
        try:
            resolved = resolve_target(site.real_root, target)
        except TargetNotFound as error:
            log.debug("404 for {path!r}: {reason}", path=path, reason=error)
            return write_error(request, 404, "Not Found")
        key = cache_key(target)
        if upgrade:
            job = PageJob(kind="script", path=resolved.path, base_filename=resolved.path)
            return self._run_page(request, path, headers, job, key, upgrade=True)
        if resolved.kind is TargetKind.SCRIPT:
            job = PageJob(kind="script", path=resolved.path, base_filename=resolved.path)
            return self._run_page(request, path, headers, job, key)
        if resolved.kind is TargetKind.TEMPLATE:
            try:
                template = self.root.renderer.template(resolved.path)
            except Exception:
                return self._fail(request, Failure())
            if template.is_dynamic:
                job = PageJob(kind="template", path=resolved.path, base_filename=resolved.path)
                return self._run_page(request, path, headers, job, key)
        return self._serve_static(request, resolved.path, headers, key)

    def _serve_static(
        self, request: Any, file_path: str, headers: dict[str, str], key: str
    ) -> bytes | int:
        method = request.method
        if method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD, OPTIONS")
            if method == b"OPTIONS":
                request.setResponseCode(204)
                return finish_without_body(request)
            return write_error(request, 405, "Method Not Allowed")
        policy = cache_policy(key, False, self.root.site.cache_rules)
        return serve_file(request, file_path, content_type_for(file_path), policy, headers)

    def _run_page(
        self,
        request: Any,
        path: str,
        headers: dict[str, str],
        job: PageJob,
        key: str,
        upgrade: bool = False,
    ) -> int:
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
        policy = cache_policy(key, True, self.root.site.cache_rules)
        deferred = self.pool.run(self.root.renderer.run, job, krait_request, upgrade)
        if upgrade:
            deferred.addCallback(self._finish_upgrade, request, job, policy.header)
        else:
            deferred.addCallback(self._write_page, request, job, policy.header)
        deferred.addErrback(self._write_failure, request)
        return NOT_DONE_YET

    def _write_page(
        self, result: PageResult, request: Any, job: PageJob, cache_control: str
    ) -> None:
        if request.finished or request._disconnected:
            return
        request.setResponseCode(result.status)
        has_type = False
        for name, value in result.headers:
            lower = name.lower()
            if lower == "cache-control":
                continue
            if lower == "content-type":
                has_type = True
            request.responseHeaders.addRawHeader(name, value)
        if not has_type:
            ctype = default_content_type(job.base_filename, result.state)
            request.setHeader(b"content-type", ctype)
        request.setHeader(b"cache-control", cache_control)
        if isinstance(result.body, bytes):
            request.setHeader(b"content-length", b"%d" % len(result.body))
            if result.body:
                request.write(result.body)
            request.finish()
            return
        stream_body(request, result, self.pool)

    def _finish_upgrade(
        self, result: PageResult, request: Any, job: PageJob, cache_control: str
    ) -> None:
        """Accept the upgrade the target asked for, or send its refusal and close."""
        if request.finished or request._disconnected:
            return
        ws_response = result.state.ws_response
        if 200 <= result.status < 300 and ws_response is not None:
            from krait._ws_bridge import accept_upgrade

            accept_upgrade(request, ws_response, self.root.ws_pool, result.state)
            return
        request.setHeader(b"connection", b"close")
        request.channel.persistent = False  # the header alone does not make twisted close
        if not 200 <= result.status < 300:
            self._write_page(result, request, job, cache_control)
            return
        request.write(write_error(request, 400, "Bad Request", ""))
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


def stream_body(request: Any, result: PageResult, pool: WorkerPool) -> None:
    """Stream an iterable body chunk by chunk, pulling each chunk in the worker pool."""
    from krait._streaming import IteratorProducer

    IteratorProducer(request, result, pool).start()
