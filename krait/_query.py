"""Fields of query strings and urlencoded forms, and JSON bodies, from plain values.

``parse_query`` keeps the Krait API's rule (the last repeated key wins); ``parse_query_all``
keeps every value, for checkbox groups and repeated filters. ``parse_json_body`` reads a JSON
request body as RFC 8259 says (UTF-8, a JSON media type) and explains a refusal in words a
client developer can act on.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from krait._errors import ClientInputError
from krait._forms import parse_content_type

__all__ = ["JsonBodyError", "parse_json_body", "parse_query", "parse_query_all"]


class JsonBodyError(ClientInputError):
    """A request body is not the JSON a script asked for (krait answers 400 with why)."""


def _fields(query: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if not query:
        return pairs
    for field in query.split("&"):
        if not field:
            continue
        key, _, value = field.partition("=")
        pairs.append((unquote_plus(key, errors="replace"), unquote_plus(value, errors="replace")))
    return pairs


def parse_query(query: str) -> dict[str, str]:
    """Parse a query string or an ``application/x-www-form-urlencoded`` body.

    Each ``&``-separated field is split at its first ``=``, so values keep any further ``=``;
    a field without ``=`` has the value ``""``. Keys and values are URL-decoded (``+`` is a
    space; invalid UTF-8 becomes U+FFFD). Empty fields are skipped; the last repeated key wins.

    Args:
        query: the text after ``?`` in a URL, or a form body decoded as text.

    Returns:
        The fields as a dict.
    """
    return dict(_fields(query))


def parse_query_all(query: str) -> dict[str, list[str]]:
    """Like :func:`parse_query`, but every value of a repeated key, in order.

    Args:
        query: the text after ``?`` in a URL, or a form body decoded as text.

    Returns:
        Each key with the list of its values.
    """
    fields: dict[str, list[str]] = {}
    for key, value in _fields(query):
        fields.setdefault(key, []).append(value)
    return fields


def _is_json_type(content_type: str | None) -> tuple[bool, str | None]:
    """Whether a Content-Type names JSON (``application/json`` or ``*/*+json``), and its
    charset parameter if it has one."""
    if not content_type:
        return False, None
    media_type, params = parse_content_type(content_type)
    is_json = media_type == "application/json" or (
        "/" in media_type and media_type.endswith("+json")
    )
    charset = params.get("charset")
    return is_json, None if charset is None else charset.lower()


def parse_json_body(content_type: str | None, body: bytes) -> Any:
    """The JSON value of a request body.

    Args:
        content_type: the request's Content-Type header, or None.
        body: the raw body.

    Returns:
        The decoded value (dict, list, str, number, bool or None).

    Raises:
        JsonBodyError: the type is not JSON, the body is empty, not UTF-8, or not JSON.
    """
    is_json, charset = _is_json_type(content_type)
    if not is_json:
        raise JsonBodyError(
            f"the request's Content-Type is {content_type!r}, not 'application/json': "
            "send JSON with 'Content-Type: application/json'"
            if content_type
            else "the request has no Content-Type: send JSON with 'Content-Type: application/json'"
        )
    if charset not in (None, "utf-8", "utf8"):
        raise JsonBodyError(f"JSON must be UTF-8 (RFC 8259), not {charset!r}")
    if not body.strip():
        raise JsonBodyError("the request body is empty, not JSON")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise JsonBodyError(f"the JSON body is not UTF-8 (byte {error.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise JsonBodyError(
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
