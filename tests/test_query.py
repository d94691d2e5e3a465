"""Query strings, urlencoded forms and JSON bodies, from plain values."""

from __future__ import annotations

import pytest

from krait._errors import ClientInputError
from krait._query import JsonBodyError, parse_json_body, parse_query, parse_query_all


def test_all_values_of_repeated_keys_are_kept_in_order() -> None:
    assert parse_query_all("tag=a&x=1&tag=b&tag=") == {"tag": ["a", "b", ""], "x": ["1"]}


def test_the_last_wins_dict_agrees_with_the_last_of_all_values() -> None:
    query = "a=1&b=2&a=3&c"
    assert parse_query(query) == {k: v[-1] for k, v in parse_query_all(query).items()}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.api+json",
        'application/json; charset="UTF-8"',
    ],
)
def test_json_types_are_accepted(content_type: str) -> None:
    assert parse_json_body(content_type, b'{"a": [1, "\xc3\xa9"]}') == {"a": [1, "é"]}


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        (None, b"{}", "no Content-Type"),
        ("text/plain", b"{}", "not 'application/json'"),
        ("application/json; charset=latin-1", b"{}", "must be UTF-8"),
        ("application/json", b"  ", "empty"),
        ("application/json", b"\xff{}", "not UTF-8"),
        ("application/json", b'{"a": }', "not valid JSON: Expecting value at line 1 column 7"),
    ],
)
def test_a_body_that_is_not_the_json_asked_for_says_why(
    content_type: str | None, body: bytes, reason: str
) -> None:
    with pytest.raises(JsonBodyError, match=reason):
        parse_json_body(content_type, body)


def test_json_body_errors_are_client_input_errors_answered_with_400() -> None:
    assert issubclass(JsonBodyError, ClientInputError)
    assert issubclass(JsonBodyError, ValueError)
