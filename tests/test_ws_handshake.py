"""The pure WebSocket handshake rules: which upgrade requests krait refuses, and how."""

from __future__ import annotations

import pytest

from krait._ws.handshake import (
    handshake_refusal,
    origin_allowed,
    parse_allowed_origins,
)

GOOD = {
    "host": "example.com",
    "upgrade": "websocket",
    "connection": "keep-alive, Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
}


def with_headers(**changes: str | None) -> dict[str, str]:
    headers = dict(GOOD)
    for name, value in changes.items():
        key = name.replace("_", "-")
        if value is None:
            headers.pop(key, None)
        else:
            headers[key] = value
    return headers


def test_a_valid_upgrade_is_not_refused() -> None:
    assert handshake_refusal("GET", "HTTP/1.1", GOOD) is None


def test_wrong_version_is_refused_with_400_and_the_supported_version() -> None:
    refusal = handshake_refusal("GET", "HTTP/1.1", with_headers(sec_websocket_version="8"))
    assert refusal is not None
    assert refusal.status == 400
    assert ("Sec-WebSocket-Version", "13") in refusal.headers


@pytest.mark.parametrize(
    "headers",
    [
        with_headers(sec_websocket_key=None),
        with_headers(sec_websocket_key="short"),
        with_headers(sec_websocket_key="not base64 at all, 24 ch"),
        with_headers(connection="keep-alive"),
        with_headers(host=None),
    ],
)
def test_malformed_handshake_headers_are_refused_with_400(headers: dict[str, str]) -> None:
    refusal = handshake_refusal("GET", "HTTP/1.1", headers)
    assert refusal is not None
    assert refusal.status == 400


def test_upgrade_must_be_a_get() -> None:
    refusal = handshake_refusal("POST", "HTTP/1.1", GOOD)
    assert refusal is not None and refusal.status == 400


def test_upgrade_needs_http_1_1() -> None:
    refusal = handshake_refusal("GET", "HTTP/1.0", GOOD)
    assert refusal is not None and refusal.status == 400


def test_origin_outside_the_allow_list_is_refused_with_403() -> None:
    headers = with_headers(origin="https://evil.example")
    refusal = handshake_refusal("GET", "HTTP/1.1", headers, ("https://example.com",))
    assert refusal is not None and refusal.status == 403


def test_origin_matching_a_wildcard_is_allowed() -> None:
    assert origin_allowed("https://chat.example.com", ("https://*.example.com",))
    assert not origin_allowed("https://example.org", ("https://*.example.com",))


def test_origins_compare_without_case_or_trailing_slash() -> None:
    assert origin_allowed("HTTPS://Example.com/", ("https://example.com",))


def test_clients_without_origin_are_always_allowed() -> None:
    assert origin_allowed(None, ("https://example.com",))


def test_no_allow_list_allows_every_origin() -> None:
    assert origin_allowed("https://anything.example", None)


def test_allowed_origins_option_parses_a_comma_separated_list() -> None:
    assert parse_allowed_origins("https://a.example, https://B.example/") == (
        "https://a.example",
        "https://b.example",
    )


@pytest.mark.parametrize("text", [None, "", "*", "https://a.example,*"])
def test_allowed_origins_option_star_or_nothing_means_all(text: str | None) -> None:
    assert parse_allowed_origins(text) is None
