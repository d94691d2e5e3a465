"""The compression decisions, from plain values."""

from __future__ import annotations

import gzip

import pytest

from krait._compression import (
    add_vary,
    choose_encoding,
    encoded_etag,
    gzip_bytes,
    is_compressible,
    parse_accept_encoding,
)


def test_accept_encoding_is_parsed_with_q_values_and_lower_cased() -> None:
    assert parse_accept_encoding("GZip;q=0.5, br , identity;q=0") == {
        "gzip": 0.5,
        "br": 1.0,
        "identity": 0.0,
    }


def test_a_malformed_or_out_of_range_q_value_refuses_the_coding() -> None:
    assert parse_accept_encoding("gzip;q=x, deflate;q=2") == {"gzip": 0.0, "deflate": 0.0}


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("gzip, deflate, br", "gzip"),
        ("gzip;q=0.1", "gzip"),
        ("*", "gzip"),
        ("br", None),
        ("gzip;q=0", None),
        ("*;q=0", None),
        ("*, gzip;q=0", None),
        ("identity;q=0", None),
        ("x-gzip", "gzip"),
        ("", None),
        (None, None),
    ],
)
def test_gzip_is_chosen_only_when_the_client_accepts_it(
    header: str | None, chosen: str | None
) -> None:
    assert choose_encoding(header) == chosen


@pytest.mark.parametrize(
    ("content_type", "size", "expected"),
    [
        ("text/html; charset=utf-8", 5000, True),
        ("application/json", 5000, True),
        ("application/javascript", 5000, True),
        ("image/svg+xml", 5000, True),
        ("application/vnd.api+json", 5000, True),
        ("text/css", None, True),
        ("image/png", 5000, False),
        ("video/mp4", 5000, False),
        ("audio/ogg", 5000, False),
        ("application/zip", 5000, False),
        ("application/gzip", 5000, False),
        ("application/octet-stream", 5000, False),
        ("text/plain", 1023, False),
        ("text/plain", 1024, True),
    ],
)
def test_only_large_enough_bodies_of_text_like_types_are_compressible(
    content_type: str, size: int | None, expected: bool
) -> None:
    assert is_compressible(content_type, size) is expected


def test_the_gzip_etag_differs_from_the_identity_one_and_stays_strong_or_weak() -> None:
    assert encoded_etag('"1-2-3"', "gzip") == '"1-2-3-gz"'
    assert encoded_etag('W/"v1"', "gzip") == 'W/"v1-gz"'


def test_vary_gains_accept_encoding_once() -> None:
    assert add_vary(None) == "Accept-Encoding"
    assert add_vary("Cookie") == "Cookie, Accept-Encoding"
    assert add_vary("cookie, accept-encoding") == "cookie, accept-encoding"
    assert add_vary("*") == "*"


def test_gzip_bytes_round_trip_and_do_not_depend_on_the_clock() -> None:
    body = b"hello " * 1000
    assert gzip.decompress(gzip_bytes(body)) == body
    assert gzip_bytes(body) == gzip_bytes(body)
