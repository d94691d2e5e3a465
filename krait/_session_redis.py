"""Server-side sessions in Redis: the cookie holds a random id, Redis the data.

Chosen with ``krait.config.session_store = "redis://host:port/db"``. Each session is one Redis
string, ``krait:session:<id>``, holding its JSON and expiring with the session (the TTL is
set again at every save), so every worker and every instance that shares the Redis shares the
sessions, and a rotated or cleared session is gone at once. The client is redis-py's
synchronous one, thread-safe through its connection pool; krait calls it only from the page
threads that run user code, never on the reactor.
"""

from __future__ import annotations

from typing import Any

import redis

from krait._errors import SessionStoreError
from krait._session_codec import (
    InvalidSessionCookieError,
    SessionRecord,
    decode_data,
    encode_data,
    is_session_id,
)

KEY_PREFIX = "krait:session:"
"""The prefix of the Redis keys of sessions."""

TIMEOUT = 5.0
"""Seconds to wait for Redis to connect or answer before the page fails."""


class RedisStore:
    """Sessions in Redis, under 256-bit random ids.

    Args:
        url: the Redis URL, e.g. ``redis://localhost:6379/0`` (``rediss://`` for TLS,
            ``unix:///run/redis.sock`` for a socket).
        client_options: more keyword arguments for ``redis.Redis.from_url``.
    """

    def __init__(self, url: str, **client_options: Any) -> None:
        self.url = url
        options: dict[str, Any] = {
            "socket_timeout": TIMEOUT,
            "socket_connect_timeout": TIMEOUT,
            "health_check_interval": 30,
        }
        options.update(client_options)
        # No connection yet: redis-py connects on the first command, in a page thread.
        self._client = redis.Redis.from_url(url, **options)

    def check(self) -> None:
        """Nothing to check before the first command: Redis answers then, or not."""

    def load(self, cookie_value: str, now: int) -> SessionRecord:
        if not is_session_id(cookie_value):
            raise InvalidSessionCookieError("not a session id")
        raw = self._call("GET", lambda: self._client.get(KEY_PREFIX + cookie_value))
        if raw is None:
            raise InvalidSessionCookieError("no such session in Redis (expired or ended)")
        fields = decode_data(raw)
        data, max_age = fields.get("d"), fields.get("m")
        if not isinstance(data, dict):
            raise InvalidSessionCookieError("the stored session has no data")
        return SessionRecord(cookie_value, data, max_age if isinstance(max_age, int) else None)

    def save(
        self, record: SessionRecord, max_age: int, now: int, existing: bool = False
    ) -> str | None:
        fields: dict[str, Any] = {"d": record.data}
        if record.max_age is not None:
            fields["m"] = record.max_age
        value = encode_data(fields).encode("utf-8")
        key = KEY_PREFIX + record.session_id
        # SET XX for a loaded session: a concurrent logout or rotation deleted the key, and
        # a request that loaded it before must not bring it back.
        saved = self._call("SET", lambda: self._client.set(key, value, ex=max_age, xx=existing))
        return record.session_id if saved else None

    def discard(self, session_id: str) -> None:
        self._call("DEL", lambda: self._client.delete(KEY_PREFIX + session_id))

    def _call(self, command: str, call: Any) -> Any:
        try:
            return call()
        except (redis.RedisError, OSError) as error:
            raise SessionStoreError(
                f"the session store {without_password(self.url)} did not answer {command}: "
                f"{error}; check that Redis runs and krait.config.session_store names it"
            ) from error


def without_password(url: str) -> str:
    """``url`` without its user, password and query, fit for a log line."""
    scheme, separator, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    return f"{scheme}{separator}{netloc.rpartition('@')[2]}{slash}{path.partition('?')[0]}"
