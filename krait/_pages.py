"""Runs scripts, templates and controllers (in a worker thread) and assembles their answer.

Everything here runs off the reactor: :meth:`PageRenderer.run` is handed to the worker
pool by ``_dispatch``. It activates a fresh request state, runs the user code, and turns the
state it leaves behind (``krait.response``, ``krait.extra_headers``, the content type) into a
:class:`PageResult` of plain values.
"""

from __future__ import annotations

import builtins
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any

import krait
import krait.mvc
from krait import _context
from krait._caching import private_cache_control
from krait._errors import MissingSecretKeyError, TargetNotFound, ViewNotFound
from krait._mime import DEFAULT_TYPE, content_type_for
from krait._pyml import CompiledTemplate, compile_template, render
from krait._request import RawRequest
from krait._responses import JSON_CONTENT_TYPE, json_body
from krait._scripts import CTRL_GLOBAL, SCRIPT_FUNCTION_NAME, MtimeCache, compile_script
from krait._session_store import SessionSettings, open_store
from krait._targets import TargetKind, kind_for, resolve_view

JINJA_SUFFIXES = (".j2", ".jinja")

UPGRADE_SESSION = (
    "krait.session is read-only on a WebSocket: it is the session as it was at the upgrade, "
    "and a WebSocket has no response to carry a cookie; change it in an HTTP request (a "
    "page the client fetches or posts to) and open the WebSocket after"
)
STREAMED_SESSION = (
    "krait.session cannot change once the page returned: its cookie went out with the "
    "headers; change it before returning the generator that streams the body"
)


@dataclass(frozen=True)
class PageJob:
    """What to run for one request (shared by the requests to the same file).

    Attributes:
        kind: ``"script"``, ``"template"``, ``"ctrl"``, or ``"file"`` (a WebSocket route's
            target, rendered by its kind).
        path: the file to run (scripts and templates).
        base_filename: the route target or URL whose extension gives the Content-Type.
        ctrl_class: the controller class of an MVC route.
    """

    kind: str
    path: str = ""
    base_filename: str = ""
    ctrl_class: Any = None


@dataclass
class PageResult:
    """The answer user code produced, as plain values.

    Attributes:
        status: the HTTP status code.
        headers: response headers in order, duplicates allowed.
        body: the body bytes, or an iterator of chunks to stream.
        state: the request state the code left behind (for WebSocket upgrades).
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes | Iterator[bytes]
    state: _context.RequestState = field(repr=False)

    def cache_control(self, policy: bytes) -> bytes:
        """The Cache-Control to send: the site's ``policy``, made ``private`` when the answer
        is the visitor's alone: it used their session, or it sets a cookie."""
        if b"no-store" in policy:  # the default for pages: nothing to tighten
            return policy
        slot = self.state.session
        if (slot is None or not slot.used) and not any(
            name.lower() == "set-cookie" for name, _ in self.headers
        ):
            return policy
        return private_cache_control(policy.decode("latin-1")).encode("latin-1")


class _Hooks:
    """The RenderHooks that templates call back into for ``@import`` and ``@import-ctrl``."""

    def __init__(self, renderer: PageRenderer) -> None:
        self.krait: Any = krait
        self._renderer = renderer

    def current_ctrl(self) -> Any:
        return _context.current().curr_ctrl

    def include(self, path: Any) -> str:
        return self._renderer.render_file(self._renderer.find_view(path, "@import"))

    def include_ctrl(self, ctrl: Any) -> str:
        return self._renderer.render_ctrl(ctrl)


def _script_print(
    *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, **kwargs: Any
) -> None:
    """``print`` for scripts: the text goes to the server log, never into the page.

    ``print(..., file=f)`` still writes to ``f``.
    """
    if file is not None:
        builtins.print(*args, sep=sep, end=end, file=file, **kwargs)
        return
    from twisted.logger import Logger

    text = (sep if sep is not None else " ").join(str(a) for a in args)
    Logger(namespace="krait.script").info("{text}", text=text.rstrip("\n") if end else text)


class PageRenderer:
    """Runs the site's scripts, templates and controllers, with compile caches.

    Args:
        site_root: the site root as configured (``krait.site_root``).
        sessions: the site's session settings (``krait.session``).
    """

    def __init__(self, site_root: str, sessions: SessionSettings | None = None) -> None:
        self.site_root = site_root
        self.sessions = open_store(sessions or SessionSettings())
        self._scripts = MtimeCache(compile_script)
        self._templates = MtimeCache(_compile_template_file)
        self._hooks = _Hooks(self)
        self._jinja: Any = None
        self._jinja_lock = threading.Lock()

    def template(self, path: str) -> CompiledTemplate:
        """The compiled template at ``path`` (cached until the file changes).

        Reads and compiles on a miss: call it in a worker thread, or after
        :meth:`cached_template` returned None.
        """
        compiled: CompiledTemplate = self._templates.get(path)
        return compiled

    def cached_template(self, path: str) -> CompiledTemplate | None:
        """The compiled template at ``path`` if unchanged since it was compiled, else None."""
        compiled: CompiledTemplate | None = self._templates.cached(path)
        return compiled

    def run(
        self, job: PageJob, raw: RawRequest | krait.Request, upgrade: bool = False
    ) -> PageResult:
        """Run a job for a request; call this in a worker thread.

        Args:
            job: what to run.
            raw: the request as received (decoded here, off the reactor), or as the Krait
                API shows it.
            upgrade: this is a WebSocket upgrade (sets ``krait.websockets.request``).

        Raises:
            Exception: whatever the user code raised; the caller maps it to a 500.
        """
        request = raw.decode() if isinstance(raw, RawRequest) else raw
        state = _context.RequestState(request=request, session=self.sessions.slot(request))
        if upgrade:
            from krait.websockets import WebsocketsRequest

            state.ws_request = WebsocketsRequest(request)
            _freeze_session(state)
        token = _context.enter(state)  # no ``with`` object: its three calls showed per page
        try:
            if job.kind == "script":  # resolved as a script already: no need to look again
                text = self._run_script(job.path, True, state)
            elif job.kind == "ctrl":
                text = self.render_ctrl(job.ctrl_class(), page=True)
            else:
                text = self.render_file(job.path, page=True)
            result = _assemble(state, text)
            # Saved only once the answer is known to be sendable: a page that fails saves nothing.
            result.headers.extend(state.session.commit(STREAMED_SESSION))
            return result
        finally:
            _context.leave(token)

    def render_file(self, path: str, page: bool = False) -> str:
        """Render any file as ``@import`` would: template, script, Jinja2 view or raw text.

        ``page`` says the file is the page's own target, not an ``@import``-ed one.
        """
        if path.endswith(JINJA_SUFFIXES):
            return self._render_jinja(path)
        kind = kind_for(path)
        if kind is TargetKind.TEMPLATE:
            return render(self.template(path), self._hooks)
        if kind is TargetKind.SCRIPT:
            return self._run_script(path, page)
        with open(path, "rb") as file:
            return file.read().decode("utf-8", "replace")

    def render_ctrl(self, ctrl: Any, page: bool = False) -> str:
        """Push ``ctrl``, render its view, pop it again.

        ``page`` says ``ctrl`` is the page's controller (of its route, or set by its script
        with ``set_init_ctrl``): its view's extension then gives the page's Content-Type.
        """
        krait.mvc.push_ctrl(ctrl)
        try:
            view = ctrl.get_view()
            path = self.find_view(view, f"{type(ctrl).__name__}.get_view()")
            if page:
                _context.current().view = str(view)
            return self.render_file(path)
        finally:
            krait.mvc.pop_ctrl()

    def find_view(self, view: Any, asked_by: str) -> str:
        """The real path of a view or ``@import``-ed file, relative to the site root.

        Args:
            view: the path as the site's code gave it.
            asked_by: who gave it, for the error (``"HomeCtrl.get_view()"``, ``"@import"``).

        Raises:
            ViewNotFound: no such file in the site (the request then fails with a 500).
        """
        try:
            return resolve_view(self.site_root, str(view))
        except TargetNotFound as error:
            raise ViewNotFound(
                f"{asked_by} names {view!r}, which is no file of the site ({error.reason}); "
                "give a path relative to the site root, e.g. '.view/index.html'"
            ) from None

    def _run_script(
        self, path: str, page: bool = False, state: _context.RequestState | None = None
    ) -> str:
        """Run the script at ``path`` in the active request (``state``, when the caller has it
        at hand)."""
        if state is None:
            state = _context.current()
        namespace = {
            "__name__": "__krait_page__",
            "__file__": path,
            "__builtins__": builtins,
            "krait": krait,
            CTRL_GLOBAL: state.curr_ctrl,
            "print": _script_print,
        }
        before = state.init_ctrl
        result = FunctionType(self._scripts.get(path).code, namespace, SCRIPT_FUNCTION_NAME)()
        if result is not None:
            state.response = result
        ctrl = state.init_ctrl
        # Render a controller this script set. It stays krait.mvc.init_ctrl while its view
        # renders, as in the original; a script @import-ed by that view renders only one it
        # sets itself.
        if ctrl is not None and ctrl is not before:
            return self.render_ctrl(ctrl, page)
        return ""

    def _render_jinja(self, path: str) -> str:
        with self._jinja_lock:
            if self._jinja is None:
                import jinja2

                self._jinja = jinja2.Environment(
                    loader=jinja2.FileSystemLoader(self.site_root),
                    autoescape=True,
                    auto_reload=True,
                )
        relative = os.path.relpath(path, os.path.realpath(self.site_root))
        template = self._jinja.get_template(relative.replace(os.sep, "/"))
        return str(template.render(ctrl=_context.current().curr_ctrl, krait=krait))


def _freeze_session(state: _context.RequestState) -> None:
    """Load an upgrade's session now, in this page thread, read-only.

    The controller reads it later, perhaps on the reactor, where asking Redis would block.
    A site without a secret key issued no session cookie: its WebSockets get an empty one.
    """
    try:
        state.session.freeze(UPGRADE_SESSION)
    except MissingSecretKeyError:
        state.session.freeze_empty(UPGRADE_SESSION)


def _compile_template_file(content: bytes, path: str) -> CompiledTemplate:
    return compile_template(content.decode("utf-8"), path)


def _assemble(state: _context.RequestState, text: str) -> PageResult:
    response = state.response
    if not state.extra_headers:
        # The common small page: its text, or a str or bytes it returned, and no headers.
        if response is None:
            return PageResult(200, [], text.encode("utf-8"), state)
        if type(response) is str:
            return PageResult(200, [], response.encode("utf-8"), state)
        if type(response) is bytes:
            return PageResult(200, [], response, state)
    headers: list[Any] = []
    body: Any
    if response is None:
        status, body = 200, text
    elif isinstance(response, (dict, list)):  # a tuple: ``dict | list`` is built per call
        # A krait addition: a dict or list returned (or assigned) is sent as JSON.
        status, body = 200, json_body(response)
        if state.content_type is None:
            state.content_type = JSON_CONTENT_TYPE
    elif not hasattr(response, "status_code"):
        # A script may return a plain body (str, bytes or an iterable) instead of a Response.
        status, body = 200, response
    else:
        status = _checked_status(response.status_code)
        raw_headers = response.headers or []
        headers = list(raw_headers.items() if isinstance(raw_headers, dict) else raw_headers)
        body = response.body
    pairs = [_checked_header(name, value, "krait.response.headers") for name, value in headers]
    pairs.extend(
        _checked_header(name, value, "krait.extra_headers") for name, value in state.extra_headers
    )
    return PageResult(status=status, headers=pairs, body=_body_bytes(body), state=state)


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _checked_status(value: Any) -> int:
    try:
        status = int(value)
    except (TypeError, ValueError):
        status = 0
    if not 200 <= status <= 599:
        raise ValueError(
            f"krait.response.status_code must be a whole number from 200 to 599, not {value!r}"
        )
    return status


def _checked_header(name: Any, value: Any, where: str) -> tuple[str, str]:
    name = str(name)
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(
            f"{where} holds the header name {name!r}, which HTTP does not allow: use letters, "
            "digits and !#$%&'*+-.^_`|~ only, e.g. ('X-Total-Count', '3')"
        )
    return name, str(value)


def _body_bytes(body: Any) -> bytes | Iterator[bytes]:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, Iterable):
        return _encode_chunks(iter(body))
    return str(body).encode("utf-8")


def _encode_chunks(chunks: Iterator[Any]) -> Iterator[bytes]:
    for chunk in chunks:
        if isinstance(chunk, bytes):
            yield chunk
        else:
            yield str(chunk).encode("utf-8")


def default_content_type(base_filename: str, state: _context.RequestState) -> str:
    """The Content-Type when no header set one.

    In order: ``set_content_type``; the extension of the page's controller view, when it
    names a type (``.view/home.html`` is ``text/html``, a bare ``.pyml`` none); the extension
    of the route target or URL (a script's ``.py`` says nothing: application/octet-stream).
    """
    if state.content_type is not None:
        return state.content_type
    if state.view:
        # A Jinja2 view is typed by its inner extension, as a Pyml one is (home.html.j2).
        view = state.view.removesuffix(".j2").removesuffix(".jinja")
        view_type = content_type_for(view)
        if view_type != DEFAULT_TYPE:
            return view_type
    if base_filename.endswith(".py"):
        # A script's own extension says nothing about what it renders (the original sent
        # application/octet-stream too); scripts call krait.set_content_type.
        return "application/octet-stream"
    return content_type_for(base_filename)
