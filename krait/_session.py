"""``krait.session``: the current request's session, a dict of JSON values.

:class:`Session` is one request's view of a session: its data, its id, and whether it changed
(then it is saved once, after the page ran). :class:`SessionProxy` is the one public object,
``krait.session``; like ``krait.request`` it belongs to whichever request is running, and it
asks the request's :class:`~krait._session_store.SessionSlot` for the session on first use,
so a page that never touches it never reads a cookie or asks Redis.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from krait import _context
from krait._errors import SessionReadOnlyError
from krait._session_codec import check_value, new_session_id


class Session(MutableMapping[str, Any]):
    """One request's session: a dict whose changes are saved after the page ran.

    Args:
        data: the values the store gave back (kept, not copied).
        session_id: the id the session was loaded under, or None for a new one.
        max_age: the session's own lifetime in seconds, or None for the site's.
        read_only: why the session cannot change here, or None when it can.
    """

    def __init__(
        self,
        data: dict[str, Any],
        session_id: str | None = None,
        max_age: int | None = None,
        read_only: str | None = None,
    ) -> None:
        self._data = data
        self.loaded_id = session_id
        self._id = session_id
        self._max_age = max_age
        self.read_only = read_only
        self.changed = False

    @property
    def id(self) -> str | None:
        """The session's random id (43 URL-safe characters), or None before it holds data."""
        return self._id

    @property
    def max_age(self) -> int | None:
        """This session's lifetime in seconds (a "remember me" login), None for the site's
        ``krait.config.session_max_age``; setting it saves the session."""
        return self._max_age

    @max_age.setter
    def max_age(self, seconds: int | None) -> None:
        if seconds is not None and (
            not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0
        ):
            raise ValueError(f"session max_age is a positive number of seconds, not {seconds!r}")
        self._change()
        self._max_age = seconds

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_writable()
        check_value(key, value)
        self._change()
        if self._id is None:
            self._id = new_session_id()
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        self._change()
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return f"<krait session {self._data!r}>"

    def as_dict(self) -> dict[str, Any]:
        """The values themselves (a store saves this dict)."""
        return self._data

    def rotate(self) -> None:
        """Give the session a new id and signature, keeping its data: call it at login.

        A cookie someone planted or saw before the login then names no session (with the
        Redis store the old id is deleted; a signed cookie cannot be revoked, see the docs).
        """
        self._change()
        self._id = new_session_id()

    def clear(self) -> None:
        """End the session (logout): drop its data and delete its cookie (and Redis key).

        Values set afterwards start a new session under a new id.
        """
        self._change()
        self._data = {}
        self._id = None

    def touch(self) -> None:
        """Save the session unchanged, so that its lifetime starts again.

        Sessions expire ``max_age`` seconds after they were last saved; reading does not
        renew them. Call it, say, once a day from a page every logged-in user visits.
        """
        self._change()

    def _check_writable(self) -> None:
        if self.read_only is not None:
            raise SessionReadOnlyError(self.read_only)

    def _change(self) -> None:
        self._check_writable()
        self.changed = True


class SessionProxy(MutableMapping[str, Any]):
    """``krait.session``: the session of the request being handled, a dict of JSON values.

    Read and write it like a dict (``krait.session["user"] = name``,
    ``krait.session.get("user")``); the values must be JSON (str, int, float, bool, None, and
    lists and dicts of them). A changed session is saved once, after the page ran, with one
    ``Set-Cookie``. Reassign a nested value after changing it in place
    (``cart = session["cart"]; cart.append(x); session["cart"] = cart``): an in-place change
    alone is not seen. See :doc:`/sessions` for the stores, the cookie and the settings.

    Raises:
        NoActiveRequestError: used outside a request.
        MissingSecretKeyError: signed-cookie sessions without ``krait.config.secret_key``.
        SessionReadOnlyError: changed in a WebSocket controller or a streamed body.
    """

    def _session(self) -> Session:
        slot = _context.current().session
        if slot is None:
            raise RuntimeError("this request has no session store (it did not come from krait)")
        session: Session = slot.get()
        return session

    def __getitem__(self, key: str) -> Any:
        return self._session()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._session()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._session()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._session())

    def __len__(self) -> int:
        return len(self._session())

    def __contains__(self, key: object) -> bool:
        return key in self._session()

    def __repr__(self) -> str:
        return "<krait.session of the current request>"

    @property
    def id(self) -> str | None:
        """The session's random id, or None while it holds nothing."""
        return self._session().id

    @property
    def max_age(self) -> int | None:
        """This session's own lifetime in seconds, or None for ``session_max_age``."""
        return self._session().max_age

    @max_age.setter
    def max_age(self, seconds: int | None) -> None:
        self._session().max_age = seconds

    def rotate(self) -> None:
        """New id and signature, same data: call it when the user logs in."""
        self._session().rotate()

    def clear(self) -> None:
        """End the session (logout): its data, its cookie and its Redis key go."""
        self._session().clear()

    def touch(self) -> None:
        """Save the session unchanged, so that its lifetime starts again."""
        self._session().touch()


session = SessionProxy()
"""The current request's session (``krait.session``)."""
