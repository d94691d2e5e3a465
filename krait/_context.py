"""The one owner of request-scoped state.

The Krait API exposes per-request values as module attributes (``krait.request``,
``krait.response``, ``krait.mvc.curr_ctrl``, ...). In krait they live in a context variable
holding a :class:`RequestState`, so two requests running at once in two threads never see each
other's values. The public modules read these through :func:`readable` (the defaults outside a
request) and change them through :func:`current` (an error outside a request); the code that
runs user code (the page runner, streamed bodies, the WebSocket adapters) makes a request's
state active with :func:`activate`. Each public module declares its
request-scoped names with one :class:`RequestScoped` line per name.
"""

from __future__ import annotations

import contextvars
import dataclasses
import types
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from krait._request import Request

T = TypeVar("T")


class NoActiveRequestError(RuntimeError):
    """Raised when request-scoped state is changed, or acted on, outside of a request."""


@dataclass
class RequestState:
    """Everything the Krait API keeps for one request.

    Attributes mirror the original module globals that the Krait server reset before every
    dynamic request (see the spec, §4.2).
    """

    request: Request | None = None
    response: Any = None  # a Response, or a plain body a script returned
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = None
    cookies_cache: Any = None
    init_ctrl: Any = None
    ctrl_stack: list[Any] = field(default_factory=list)
    curr_ctrl: Any = None
    ws_request: object = None  # a krait.websockets.WebsocketsRequest on an upgrade
    ws_response: Any = None
    view: str = ""  # the page's controller view, whose extension gives the Content-Type
    session: Any = None  # a _session_store.SessionSlot: krait.session, loaded on first use


_state: contextvars.ContextVar[RequestState] = contextvars.ContextVar("krait_request_state")


def current() -> RequestState:
    """The state of the request running in this context.

    Raises:
        NoActiveRequestError: no request is being handled in this thread or task.
    """
    try:
        return _state.get()
    except LookupError:
        raise NoActiveRequestError(
            "krait's request state (krait.request, krait.response, krait.extra_headers, "
            "krait.mvc.curr_ctrl, cookies, ...) exists only while a request is handled: set "
            "it from a route target, template or controller, not at import time or from your "
            "own threads (copy what you need, or use contextvars.copy_context() to carry it "
            "along)"
        ) from None


def readable() -> RequestState:
    """The active state, or a fresh one holding the defaults outside a request.

    Reading ``krait.request`` or ``krait.mvc.curr_ctrl`` at import time gives the original's
    module defaults (None, empty lists), so ``hasattr`` and ``from krait.mvc import *`` work.
    """
    state = _state.get(None)
    return state if state is not None else RequestState()


class _Activation:
    """The ``with`` block of :func:`activate` (a class: a generator costs more per page)."""

    __slots__ = ("_state", "_token")

    def __init__(self, state: RequestState) -> None:
        self._state = state

    def __enter__(self) -> RequestState:
        self._token = _state.set(self._state)
        return self._state

    def __exit__(self, *exc_info: object) -> None:
        _state.reset(self._token)


def activate(state: RequestState) -> _Activation:
    """Make ``state`` the request state of this context while the ``with`` block runs."""
    return _Activation(state)


enter = _state.set
"""``token = enter(state)`` makes ``state`` active until ``leave(token)``: :func:`activate`
without its ``with`` object, for the page runner (one per request)."""

leave = _state.reset
"""Restore the state that was active before the ``enter`` that gave the token."""


_FIELDS = frozenset(f.name for f in dataclasses.fields(RequestState))


class RequestScoped(Generic[T]):
    """A module attribute that reads and writes one field of the active request's state.

    Declared in a module's class (``request = RequestScoped[Request | None]("request")``), it
    reads :func:`readable` (the default outside a request) and writes :func:`current` (so
    setting it outside a request raises :class:`NoActiveRequestError`).

    Args:
        field: the name of the :class:`RequestState` field.
    """

    def __init__(self, field: str) -> None:
        if field not in _FIELDS:
            raise ValueError(f"RequestState has no field {field!r}: one of {sorted(_FIELDS)}")
        self.field = field

    @overload
    def __get__(self, instance: None, owner: type) -> RequestScoped[T]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object | None, owner: type) -> RequestScoped[T] | T:
        if instance is None:
            return self
        value: T = getattr(readable(), self.field)
        return value

    def __set__(self, instance: object, value: T) -> None:
        setattr(current(), self.field, value)


class RequestScopedModule(types.ModuleType):
    """A module class whose public :class:`RequestScoped` attributes show in ``dir()``."""

    def __dir__(self) -> list[str]:
        scoped = {
            name
            for klass in type(self).__mro__
            for name, value in vars(klass).items()
            if isinstance(value, RequestScoped) and not name.startswith("_")
        }
        return sorted({*super().__dir__(), *scoped})
