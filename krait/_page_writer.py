"""Writes what a page produced: status, headers, cache policy, body or stream, or the upgrade.

A script, template or controller ran in the worker pool and left a :class:`PageResult`. This
module turns it into the answer on the wire: the status line with its standard phrase, the
page's headers without the framing ones krait owns, Content-Type and Cache-Control, then a
bytes body, a streamed one, or the hand-off of the connection to a WebSocket protocol. What
user code raised is answered by ``_answers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.python.failure import Failure
from twisted.web.server import Request

from krait._answers import (
    is_client_error,
    log_site_error,
    reason_phrase,
    write_error,
    write_failure,
)
from krait._krait_request import close_after
from krait._pages import PageJob, PageResult, default_content_type
from krait._streaming import IteratorProducer
from krait._twisted_compat import (
    canonical_header_name,
    header_table,
    is_abandoned,
    is_disconnected,
)
from krait._whole_response import send_whole
from krait._workers import WorkerPool
from krait._ws.hub import WebsocketsHub
from krait._ws.upgrade import accept_upgrade

NO_BODY_STATUSES = frozenset({204, 304})
"""Statuses whose responses never carry a body."""

FRAMING_HEADERS = frozenset(
    {"cache-control", "content-length", "transfer-encoding", "connection", "keep-alive"}
)
"""Headers a page may not set: krait sets them (Cache-Control from the config lists)."""


_header_names: dict[str, bytes] = {}


def header_name(name: str) -> bytes:
    """``name`` as twisted.web's header table keys it (canonical case; a name that is no
    HTTP token raises ``InvalidHeaderName``, as ``addRawHeader`` does); remembered."""
    encoded = _header_names.get(name)
    if encoded is None:
        encoded = canonical_header_name(name.encode("iso-8859-1"))
        if len(_header_names) < 4096:
            _header_names[name] = encoded
    return encoded


_header_values: dict[str | bytes, bytes] = {}


def header_value(value: str | bytes) -> bytes:
    """``value`` as twisted.web's header table stores it: UTF-8, line breaks made spaces.

    The values most pages send (their Content-Type, the Cache-Control of their route) are
    few: the short ones are remembered, up to a bound."""
    encoded = _header_values.get(value)
    if encoded is not None:
        return encoded
    encoded = value.encode("utf-8") if isinstance(value, str) else value
    if b"\n" in encoded or b"\r" in encoded:
        encoded = b" ".join(encoded.splitlines())
    if len(value) <= 200 and len(_header_values) < 1024:
        _header_values[value] = encoded
    return encoded


def is_answered_or_gone(request: Request) -> bool:
    """Whether the request needs no answer any more: finished, or its client left."""
    return is_abandoned(request) or is_disconnected(request)


class PageWriter:
    """Writes page results to their requests.

    Args:
        pool: the worker pool (to close a generator body that will not be sent).
        debug: show tracebacks in error pages.
        ws_hub: the site's WebSocket hub, which upgrades are handed to.
    """

    def __init__(
        self,
        pool: WorkerPool,
        debug: bool = False,
        ws_hub: WebsocketsHub | None = None,
    ) -> None:
        self.pool = pool
        self.debug = debug
        self.ws_hub = ws_hub
        self._error_page: Callable[[Request, int], bool] | None = None

    def use_error_pages(self, answer: Callable[[Request, int], bool]) -> None:
        """Answer what user code raised with ``answer(request, 500)`` when it returns True
        (the site's own 500 page), except with ``--debug``."""
        self._error_page = answer

    def page_done(
        self,
        upgrade: bool,
        request: Request,
        job: PageJob,
        cache_control: bytes,
        succeeded: bool,
        value: Any,
    ) -> None:
        """Write what the page produced, or the error page for what it raised."""
        write = self.finish_upgrade if upgrade else self.write_page
        if succeeded:
            try:
                write(value, request, job, cache_control)
                return
            except Exception:
                value = Failure()
        self.write_failure(value, request)

    def write_page(
        self, result: PageResult, request: Request, job: PageJob, cache_control: bytes
    ) -> None:
        """Write a page's status, headers and body (bytes or streamed)."""
        if is_answered_or_gone(request):
            return
        request.setResponseCode(result.status, reason_phrase(result.status))
        # Straight into the header table, names encoded once per site: setRawHeaders and
        # addRawHeader cost a name encoding and a value check per call, and on a small page
        # that shows. The table ends up as those calls would leave it.
        table = header_table(request.responseHeaders)
        has_type = False
        for name, value in result.headers:
            lower = name.lower()
            if lower in FRAMING_HEADERS:
                # krait frames the body itself: a script's Content-Length on a streamed body
                # would let the rest of it pass for the next response on the connection.
                if lower == "connection" and "close" in value.lower():
                    close_after(request)
                continue
            if lower == "content-type":
                has_type = True
            table.setdefault(header_name(name), []).append(header_value(value))
        if not has_type:
            table[b"Content-Type"] = [
                header_value(default_content_type(job.base_filename, result.state))
            ]
        table[b"Cache-Control"] = [header_value(result.cache_control(cache_control))]
        body = result.body
        if isinstance(body, bytes):
            if result.status not in NO_BODY_STATUSES:
                table[b"Content-Length"] = [b"%d" % len(body)]
            if not send_whole(request, body):
                if body:
                    request.write(body)
                request.finish()
            return
        if result.status in NO_BODY_STATUSES or request.method == b"HEAD":
            # RFC 9110 §6.4.1: no body, and no Content-Length for a 204 (nor a made-up one for
            # a 304); twisted.web drops whatever is written. A HEAD need not run a generator.
            close = getattr(body, "close", None)
            if close is not None:
                self.pool.run(close)
            request.finish()
            return
        IteratorProducer(request, result, self.pool, self.fail).start()

    def finish_upgrade(
        self, result: PageResult, request: Request, job: PageJob, cache_control: bytes
    ) -> None:
        """Accept the upgrade the target asked for, or send its refusal and close."""
        if is_answered_or_gone(request):
            return
        ws_response = result.state.ws_response
        if 200 <= result.status < 300 and ws_response is not None:
            self._accept_upgrade(request, result, ws_response)
            return
        close_after(request)
        if not 200 <= result.status < 300:
            self.write_page(result, request, job, cache_control)
            return
        # The original answered 400 with an empty body when the target accepted nothing.
        request.setResponseCode(400, b"Bad Request")
        request.setHeader(b"content-length", b"0")
        request.finish()

    def _accept_upgrade(self, request: Request, result: PageResult, ws_response: Any) -> None:
        """Hand the connection to the WebSocket protocol (the one call into ``_ws``)."""
        accept_upgrade(request, ws_response, result.state, self.ws_hub)
        # No HTTP answer will end this request now: a graceful shutdown must not wait for it
        # (the hub closes the WebSocket with 1001 instead).
        drainer = getattr(getattr(request.channel, "site", None), "drainer", None)
        if drainer is not None:
            drainer.forget(request)

    def write_failure(self, failure: Failure, request: Request) -> None:
        """Answer with the error page for what user code raised."""
        if is_answered_or_gone(request):
            return
        if self._error_page is None or self.debug or is_client_error(failure):
            body = self.fail(request, failure)
        else:
            assert failure.value is not None
            log_site_error(request, failure.value)
            if self._error_page(request, 500):
                return
            body = write_error(request, 500)
        request.write(body)
        request.finish()

    def fail(self, request: Request, failure: Failure) -> bytes:
        """Log a failure and set ``request`` up for its error answer; returns the body."""
        return write_failure(request, failure, self.debug)


def finish_rendered(request: Request, body: bytes | int) -> None:
    """Write what a render step returned, as ``twisted.web``'s ``Request.render`` would."""
    if not isinstance(body, bytes):  # NOT_DONE_YET: the step finishes the request itself
        return
    if request.method != b"HEAD" or body:
        request.setHeader(b"content-length", b"%d" % len(body))
    if request.method != b"HEAD":
        request.write(body)
    request.finish()
