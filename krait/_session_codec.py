"""Session data as cookie text: ids, JSON records, and HMAC-SHA256 signatures.

Pure functions over plain values (no I/O, no clock: callers pass ``now``). A signed session
cookie is ``<record>.<issued>.<signature>``: the record is the URL-safe base64 of a JSON
object (``{"i": id, "d": data}``, plus ``"m"`` for a session's own max-age), ``issued`` the
Unix time of signing, and the signature HMAC-SHA256 over the first two parts with a key
derived from ``krait.config.secret_key``. All three parts use only characters a cookie value
may hold. Verification compares in constant time, checks the signature before it parses
anything, and tries every key, so a secret can be replaced without logging everyone out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

COOKIE_LIMIT = 4096
"""The bytes of one cookie (name, value and attributes) every browser keeps (RFC 6265 §6.1)."""

_KEY_PURPOSE = b"krait.session.v1"
_ID_BYTES = 32  # 256 bits: an id nobody can guess
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


class InvalidSessionCookieError(ValueError):
    """A session cookie that cannot be trusted: malformed, tampered with, or expired."""


@dataclass(frozen=True)
class SessionRecord:
    """What a session holds, as a store gives it back.

    Attributes:
        session_id: the session's random id.
        data: the values, by key.
        max_age: the session's own lifetime in seconds, or None for the site's.
    """

    session_id: str
    data: dict[str, Any]
    max_age: int | None = None


def new_session_id() -> str:
    """A fresh random session id: 256 bits as 43 URL-safe characters."""
    return secrets.token_urlsafe(_ID_BYTES)


def is_session_id(text: str) -> bool:
    """Whether ``text`` has the shape of an id :func:`new_session_id` makes."""
    return _ID_PATTERN.fullmatch(text) is not None


def derive_key(secret: str | bytes) -> bytes:
    """The signing key for one ``secret_key``: a key used for sessions and nothing else."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    return hmac.new(raw, _KEY_PURPOSE, hashlib.sha256).digest()


def encode_data(data: dict[str, Any]) -> str:
    """``data`` as compact JSON.

    Raises:
        TypeError: a value is not JSON: the message names its key and what to store.
    """
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as error:
        key = next((k for k, v in data.items() if not _is_json(v)), None)
        raise TypeError(
            f"krait.session[{key!r}] cannot be saved: {error}; a session holds JSON values "
            "only (str, int, float, bool, None, and lists and dicts of them): store e.g. "
            "an id or moment.isoformat() instead of the object"
        ) from None


def check_value(key: object, value: object) -> None:
    """Refuse, at the line that sets it, a key or value a session could not save.

    Raises:
        TypeError: the key is not a ``str`` or the value is not JSON.
    """
    if not isinstance(key, str):
        raise TypeError(f"krait.session keys are strings (JSON object keys), not {key!r}")
    if not _is_json(value):
        encode_data({key: value})


def _is_json(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def decode_data(text: str | bytes) -> dict[str, Any]:
    """The dict a store kept as JSON.

    Raises:
        InvalidSessionCookieError: the text is not a JSON object.
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise InvalidSessionCookieError("the stored session is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidSessionCookieError("the stored session is not a JSON object")
    return data


def sign_record(record: SessionRecord, key: bytes, now: int) -> str:
    """The signed cookie value holding ``record``, issued at ``now``."""
    fields: dict[str, Any] = {"i": record.session_id, "d": record.data}
    if record.max_age is not None:
        fields["m"] = record.max_age
    body = _b64encode(encode_data(fields).encode("utf-8"))
    signed = f"{body}.{now}"
    return f"{signed}.{_signature(key, signed)}"


def verify_record(
    text: str, keys: Sequence[bytes], now: int, default_max_age: int
) -> SessionRecord:
    """The record in a signed cookie value, if a key signed it and it has not expired.

    Args:
        text: the cookie value as received.
        keys: every key that may have signed it (:func:`derive_key`).
        now: the current Unix time.
        default_max_age: the lifetime of a session that has no max-age of its own.

    Raises:
        InvalidSessionCookieError: malformed, signed by no key, or older than its max-age; the
            message says which.
    """
    signed, dot, signature = text.rpartition(".")
    body, dot2, issued_text = signed.partition(".")
    if not dot or not dot2 or not issued_text.isdigit() or len(issued_text) > 12:
        raise InvalidSessionCookieError("malformed session cookie")
    given = signature.encode("utf-8")
    if not any(hmac.compare_digest(_signature(key, signed).encode(), given) for key in keys):
        raise InvalidSessionCookieError("bad signature (tampered with, or signed with another key)")
    try:
        raw = _b64decode(body)
    except (binascii.Error, ValueError):
        raise InvalidSessionCookieError("the signed record is not base64") from None
    fields = decode_data(raw)
    session_id, data, max_age = fields.get("i"), fields.get("d"), fields.get("m")
    if not isinstance(session_id, str) or not isinstance(data, dict):
        raise InvalidSessionCookieError("the signed record has no id or data")
    if max_age is not None and (not isinstance(max_age, int) or max_age <= 0):
        raise InvalidSessionCookieError("the signed record has an invalid max-age")
    if now - int(issued_text) > (max_age or default_max_age):
        raise InvalidSessionCookieError("expired")
    return SessionRecord(session_id, data, max_age)


def _signature(key: bytes, signed: str) -> str:
    return _b64encode(hmac.digest(key, signed.encode("utf-8"), "sha256"))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
