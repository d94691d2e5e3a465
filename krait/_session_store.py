"""Where sessions live, and the load-once, save-once cycle of one request's session.

:class:`SessionSettings` is what ``init.py`` configured, frozen. A store keeps sessions:
:class:`SignedCookieStore` (the default) keeps the whole session in the cookie, signed, so
every worker and instance that shares ``secret_key`` reads it; the Redis store
(``_session_redis``) keeps it server-side under a random id. :class:`SessionManager` is the
site's store with its settings, and a :class:`SessionSlot` one request's session: loaded on
first use, saved once after the page ran if it changed, giving the ``Set-Cookie`` to send.
Pure: the Redis store is imported only when a site asks for it, and the clock is injected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from krait._cookie_text import request_cookie_pairs
from krait._errors import MissingSecretKeyError, SessionTooLargeError
from krait._request import Request
from krait._session import Session
from krait._session_codec import (
    COOKIE_LIMIT,
    InvalidSessionCookieError,
    SessionRecord,
    derive_key,
    sign_record,
    verify_record,
)

log = logging.getLogger("krait.session")

DEFAULT_MAX_AGE = 14 * 24 * 3600
"""Two weeks: how long a session lasts after it was last saved, unless configured."""

DEFAULT_COOKIE = "krait_session"
"""The name of the session cookie, unless configured."""

MAX_CANDIDATES = 3
"""How many cookies of the session's name are tried: each costs a verification or a Redis
read, and a client may send hundreds."""

VARY_COOKIE = ("Vary", "Cookie")
"""Sent by every page that used the session: its answer depends on the session cookie."""

MISSING_SECRET = (
    "krait.session needs krait.config.secret_key to sign its cookies, and the site sets "
    "none; fix: set it in .py/init.py from a secret kept out of the site, e.g. "
    "krait.config.secret_key = os.environ['KRAIT_SECRET_KEY'] (make one with "
    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or keep sessions in "
    "Redis: krait.config.session_store = 'redis://localhost:6379/0'"
)


@dataclass(frozen=True)
class SessionSettings:
    """The session settings of a site, as ``init.py`` left ``krait.config``.

    Attributes:
        cookie_name: the session cookie's name (``session_cookie``).
        max_age: seconds a session lives after it was last saved (``session_max_age``).
        secrets: the ``secret_key`` values, the first signing, all verifying.
        store_url: ``redis://...`` for server-side sessions, None for signed cookies.
    """

    cookie_name: str = DEFAULT_COOKIE
    max_age: int = DEFAULT_MAX_AGE
    secrets: tuple[str | bytes, ...] = ()
    store_url: str | None = None


class SessionStore(Protocol):
    """Keeps sessions: loads one from its cookie value, saves one into a cookie value."""

    def check(self) -> None:
        """Raise the error that makes the store unusable, if there is one."""

    def load(self, cookie_value: str, now: int) -> SessionRecord:
        """The session the cookie names; raises InvalidSessionCookieError when there is none."""

    def save(
        self, record: SessionRecord, max_age: int, now: int, existing: bool = False
    ) -> str | None:
        """Keep ``record`` for ``max_age`` seconds; returns the cookie value naming it.

        ``existing`` says the record was loaded under its id: a store that can end sessions
        then keeps it only if the session still exists, and returns None when it was ended
        meanwhile (by a logout or a rotation in a concurrent request).
        """

    def discard(self, session_id: str) -> None:
        """Forget a session that was rotated or cleared (where the store can)."""


class SignedCookieStore:
    """Sessions kept in the cookie itself, signed with HMAC-SHA256.

    Args:
        secrets: the ``secret_key`` values: the first signs, every one verifies.
        max_age: the lifetime of a session that has no max-age of its own.
    """

    def __init__(self, secrets: tuple[str | bytes, ...], max_age: int) -> None:
        self._keys = tuple(derive_key(secret) for secret in secrets)
        self._max_age = max_age

    def check(self) -> None:
        if not self._keys:
            raise MissingSecretKeyError(MISSING_SECRET)

    def load(self, cookie_value: str, now: int) -> SessionRecord:
        return verify_record(cookie_value, self._keys, now, self._max_age)

    def save(
        self, record: SessionRecord, max_age: int, now: int, existing: bool = False
    ) -> str | None:
        return sign_record(record, self._keys[0], now)

    def discard(self, session_id: str) -> None:
        """A signed cookie cannot be revoked: it stays valid until it expires."""


class SessionManager:
    """A site's session store and settings; makes each request's :class:`SessionSlot`.

    Args:
        settings: the site's session settings.
        store: where sessions live (:func:`open_store` chooses from the settings).
        clock: the current Unix time (injected for tests).
    """

    def __init__(
        self,
        settings: SessionSettings,
        store: SessionStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock

    def slot(self, request: Request) -> SessionSlot:
        """The (not yet loaded) session of ``request``."""
        return SessionSlot(self, request)

    def load(self, request: Request, read_only: str | None = None) -> tuple[Session, bool]:
        """The session ``request``'s cookie names, and whether it sent a session cookie.

        When several cookies have the session's name (one left at a more specific path comes
        first), the first valid one of the first :data:`MAX_CANDIDATES` counts. None valid (a
        missing, malformed, tampered or expired cookie) gives an empty session (logged at
        debug level); when one was sent, saving the empty session deletes it.
        """
        self.store.check()
        values = request_cookies(request, self.settings.cookie_name)
        if not values:
            return Session({}, read_only=read_only), False
        for value in values[:MAX_CANDIDATES]:
            try:
                record = self.store.load(value, int(self.clock()))
            except InvalidSessionCookieError as error:
                log.debug("session cookie ignored (%s) for %s", error, request.url)
                continue
            return Session(record.data, record.session_id, record.max_age, read_only), True
        session = Session({}, read_only=read_only)
        session.changed = read_only is None
        return session, True

    def commit(self, session: Session, secure: bool, cookie_sent: bool) -> str | None:
        """Save a changed session; the ``Set-Cookie`` value to send, or None for none.

        Raises:
            SessionTooLargeError: a signed cookie would pass :data:`COOKIE_LIMIT`.
        """
        if not session.changed:
            return None
        data = session.as_dict()
        if session.loaded_id is not None and session.loaded_id != session.id:
            self.store.discard(session.loaded_id)
        if not data or session.id is None:
            return self._cookie("", 0, secure) if cookie_sent else None
        max_age = session.max_age or self.settings.max_age
        record = SessionRecord(session.id, data, session.max_age)
        existing = session.loaded_id == session.id
        value = self.store.save(record, max_age, int(self.clock()), existing)
        if value is None:
            # Ended by a concurrent request after this one loaded it: stay ended.
            return self._cookie("", 0, secure) if cookie_sent else None
        header = self._cookie(value, max_age, secure)
        if len(header) > COOKIE_LIMIT:
            raise SessionTooLargeError(
                f"krait.session is too large for a cookie: {len(header)} bytes, over the "
                f"{COOKIE_LIMIT} bytes browsers keep (RFC 6265 §6.1); keep less in it (an id, "
                "not the record), or keep sessions server-side: "
                "krait.config.session_store = 'redis://localhost:6379/0'"
            )
        return header

    def _cookie(self, value: str, max_age: int, secure: bool) -> str:
        secure_flag = "; Secure" if secure else ""
        return (
            f"{self.settings.cookie_name}={value}; Max-Age={max_age}; Path=/; HttpOnly; "
            f"SameSite=Lax{secure_flag}"
        )


class SessionSlot:
    """One request's session: loaded on first use, saved once by :meth:`commit`.

    Args:
        manager: the site's session manager.
        request: the request whose cookie names the session.
    """

    __slots__ = ("_closed", "_cookie_sent", "_manager", "_request", "_session")

    def __init__(self, manager: SessionManager, request: Request) -> None:
        self._manager = manager
        self._request = request
        self._session: Session | None = None
        self._cookie_sent = False
        self._closed: str | None = None

    @property
    def used(self) -> bool:
        """Whether the request used its session (it was loaded)."""
        return self._session is not None

    def get(self) -> Session:
        """The session, loaded now if this is its first use."""
        if self._session is None:
            self._session, self._cookie_sent = self._manager.load(self._request, self._closed)
        return self._session

    def freeze(self, reason: str) -> None:
        """Load the session now, read-only: ``reason`` is the error a change raises."""
        self._closed = reason
        self.get().read_only = reason

    def freeze_empty(self, reason: str) -> None:
        """Make the session an empty read-only one (when it could not be loaded)."""
        self._closed = reason
        self._session = Session({}, read_only=reason)

    def commit(self, closed_reason: str) -> list[tuple[str, str]]:
        """Save the session if it changed, then make it read-only.

        Returns:
            The headers to send: none when the page did not use the session; else
            ``Vary: Cookie`` (the page depends on the cookie, so no cache may give it to
            another visitor), and the ``Set-Cookie`` when the session changed.
        """
        session = self._session
        self._closed = closed_reason
        if session is None or session.read_only is not None:
            return []
        session.read_only = closed_reason
        secure = self._request.scheme == "https"
        cookie = self._manager.commit(session, secure, self._cookie_sent)
        if cookie is None:
            return [VARY_COOKIE]
        return [VARY_COOKIE, ("Set-Cookie", cookie)]


def request_cookies(request: Request, name: str) -> list[str]:
    """The values of the cookies called ``name`` in ``request``'s Cookie headers, in order."""
    header = request.headers.get("cookie")
    if not header or name not in header:
        return []
    return [value for key, value in request_cookie_pairs(header) if key == name]


def open_store(settings: SessionSettings, **redis_options: Any) -> SessionManager:
    """The session manager for ``settings``: Redis for a ``redis://`` URL, else signed cookies."""
    if settings.store_url is None:
        return SessionManager(settings, SignedCookieStore(settings.secrets, settings.max_age))
    # Imported here: only a site with server-side sessions needs the redis package.
    from krait._session_redis import RedisStore

    return SessionManager(settings, RedisStore(settings.store_url, **redis_options))
