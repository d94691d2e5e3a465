"""Response objects that user code assigns to ``krait.response``."""

from __future__ import annotations

import json
from typing import Any

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
"""RFC 8259: JSON is UTF-8; the charset parameter is for the clients that still look for it."""


def json_body(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (non-ASCII text as is, not as ``\\u`` escapes).

    Raises:
        TypeError: ``value`` holds something JSON cannot represent (the page fails with 500).
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_NOT_FOUND_BODY = (
    "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>"
)
# The h1 text is the original Krait's (a kept quirk: sites may compare against it).
_BAD_REQUEST_BODY = (
    "<html><head><title>400 Bad Request</title></head><body><h1>404 Bad Request</h1></body></html>"
)


class Response:
    """An HTTP response that replaces the rendered page.

    Args:
        http_version: must be ``"HTTP/1.1"``, the only value the Krait API supports.
        status_code: the HTTP status code, e.g. 200 or 404.
        headers: the response headers as ``(name, value)`` pairs.
        body: ``str`` (sent as UTF-8), ``bytes``, or an iterable of either (streamed).

    Raises:
        ValueError: ``http_version`` is not ``"HTTP/1.1"``.
    """

    def __init__(self, http_version: str, status_code: int, headers: Any, body: Any) -> None:
        if http_version != "HTTP/1.1":
            raise ValueError(
                f"Response http_version must be 'HTTP/1.1', not {http_version!r} "
                "(krait picks the wire protocol itself)"
            )
        self.http_version = http_version
        self.status_code = status_code
        self.headers = headers if headers is not None else []
        self.body = body

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code}>"


class ResponseNotFound(Response):
    """A 404 Not Found response.

    Args:
        headers: extra headers to send with the response.
    """

    def __init__(self, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__("HTTP/1.1", 404, headers or [], _NOT_FOUND_BODY)


class ResponseBadRequest(Response):
    """A 400 Bad Request response.

    Args:
        headers: extra headers to send with the response.
    """

    def __init__(self, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__("HTTP/1.1", 400, headers or [], _BAD_REQUEST_BODY)


class ResponseRedirect(Response):
    """A 302 Found redirect.

    Args:
        destination: the URL to send the client to, used verbatim as ``Location``.
        headers: extra headers; ``("Location", destination)`` is appended to this very list.
    """

    def __init__(self, destination: str, headers: list[tuple[str, str]] | None = None) -> None:
        if headers is None:
            headers = []
        headers.append(("Location", destination))
        super().__init__("HTTP/1.1", 302, headers, "")


class ResponseJson(Response):
    """A JSON response (a krait addition): ``value`` encoded as UTF-8 JSON, with
    ``Content-Type: application/json; charset=utf-8``.

    Args:
        value: a dict, list, str, number, bool or None.
        status_code: the HTTP status code, 200 by default.
        headers: extra headers as ``(name, value)`` pairs.
    """

    def __init__(self, value: Any, status_code: int = 200, headers: Any = None) -> None:
        pairs = [("Content-Type", JSON_CONTENT_TYPE), *(headers or [])]
        super().__init__("HTTP/1.1", status_code, pairs, json_body(value))
