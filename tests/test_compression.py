"""The compression decisions, from plain values."""

from __future__ import annotations

import gzip

import brotli
import pytest

from krait._compression import (
    BROTLI,
    GZIP,
    add_vary,
    brotli_bytes,
    choose_encoding,
    compress,
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
        ("gzip, deflate, br", "br"),
        ("gzip, deflate, br, zstd", "br"),
        ("gzip, deflate", "gzip"),
        ("gzip;q=0.1", "gzip"),
        ("gzip, br;q=0.9", "gzip"),
        ("gzip;q=0.5, br;q=0.8", "br"),
        ("*", "br"),
        ("*, br;q=0", "gzip"),
        ("br", "br"),
        ("br;q=0, gzip;q=0", None),
        ("gzip;q=0", None),
        ("*;q=0", None),
        ("*, gzip;q=0, br;q=0", None),
        ("identity;q=0", None),
        ("x-gzip", "gzip"),
        ("deflate, zstd", None),
        ("", None),
        (None, None),
    ],
)
def test_the_highest_q_value_wins_and_brotli_breaks_a_tie(
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


def test_the_gzip_only_offer_never_sends_brotli() -> None:
    assert choose_encoding("br, gzip", offered=(GZIP,)) == GZIP
    assert choose_encoding("br", offered=(GZIP,)) is None


def test_the_brotli_etag_has_its_own_suffix() -> None:
    assert encoded_etag('"abc"', BROTLI) == '"abc-br"'
    assert encoded_etag('W/"abc"', BROTLI) == 'W/"abc-br"'


def test_brotli_bytes_round_trip_and_are_the_same_each_time() -> None:
    body = b"<p>hello</p>\n" * 200
    assert brotli.decompress(brotli_bytes(body)) == body
    assert brotli_bytes(body) == brotli_bytes(body)
    assert compress(body, BROTLI) == brotli_bytes(body)
    assert gzip.decompress(compress(body, GZIP)) == body
