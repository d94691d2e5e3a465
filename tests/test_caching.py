"""Cache-Control, ETags, HTTP dates and conditional requests (krait._caching)."""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krait._caching import (
    CachePolicy,
    CacheRules,
    Precondition,
    cache_policy,
    evaluate_preconditions,
    http_date,
    make_etag,
    parse_etag_list,
    parse_http_date,
    private_cache_control,
)

NOV_6_1994 = 784111777
"""``Sun, 06 Nov 1994 08:49:37 GMT``, the example date of RFC 9110."""

ETAG = '"1a-400-17f"'


def rules(
    no_store: Sequence[str] = (),
    private: Sequence[str] = (),
    public: Sequence[str] = (),
    long_term: Sequence[str] = (),
) -> CacheRules:
    return CacheRules.from_lists(no_store, private, public, long_term)


# Cache-Control: every row of the table in spec §6.


def test_static_file_matching_no_list_is_cached_for_the_default_age() -> None:
    assert cache_policy("css/site.css", False, rules()) == CachePolicy(
        store=True, header="max-age=300, must-revalidate"
    )


def test_dynamic_page_matching_no_list_is_not_cached() -> None:
    assert cache_policy("index", True, rules()) == CachePolicy(
        store=False, header="no-cache, no-store, must-revalidate"
    )


@pytest.mark.parametrize("dynamic", [False, True])
def test_no_store_list_forbids_caching(dynamic: bool) -> None:
    policy = cache_policy("db", dynamic, rules(no_store=["db"]))
    assert policy == CachePolicy(store=False, header="no-cache, no-store, must-revalidate")


@pytest.mark.parametrize("dynamic", [False, True])
def test_private_list_allows_private_caching(dynamic: bool) -> None:
    policy = cache_policy("me", dynamic, rules(private=["me"]))
    assert policy == CachePolicy(store=True, header="private, max-age=300, must-revalidate")


@pytest.mark.parametrize("dynamic", [False, True])
def test_public_list_allows_caching_without_saying_public(dynamic: bool) -> None:
    policy = cache_policy("news", dynamic, rules(public=["news"]))
    assert policy == CachePolicy(store=True, header="max-age=300, must-revalidate")


@pytest.mark.parametrize("public", [[], ["fonts/.*"]])
def test_long_term_list_uses_the_long_age(public: list[str]) -> None:
    policy = cache_policy("fonts/a.woff2", True, rules(public=public, long_term=["fonts/.*"]))
    assert policy == CachePolicy(store=True, header="max-age=864000, must-revalidate")


def test_private_and_long_term_combine() -> None:
    policy = cache_policy("me.png", False, rules(private=[r".*\.png"], long_term=[r"me\..*"]))
    assert policy == CachePolicy(store=True, header="private, max-age=864000, must-revalidate")


def test_public_overrides_private() -> None:
    policy = cache_policy("a", False, rules(private=["a"], public=["a"]))
    assert policy.header == "max-age=300, must-revalidate"


def test_private_overrides_no_store() -> None:
    policy = cache_policy("a", False, rules(no_store=["a"], private=["a"]))
    assert policy == CachePolicy(store=True, header="private, max-age=300, must-revalidate")


def test_long_term_overrides_no_store() -> None:
    policy = cache_policy("a", True, rules(no_store=["a"], long_term=["a"]))
    assert policy == CachePolicy(store=True, header="max-age=864000, must-revalidate")


def test_patterns_must_match_the_whole_key() -> None:
    lists = rules(no_store=["css/.*", "db"])
    assert cache_policy("xcss/a.css", False, lists).store
    assert cache_policy("dbx", False, lists).store
    assert not cache_policy("css/a.css", False, lists).store


def test_root_key_is_a_dot() -> None:
    assert not cache_policy(".", False, rules(no_store=[r"\."])).store


def test_configured_ages_are_used() -> None:
    lists = CacheRules.from_lists(long_term=["big"], max_age_default=60, max_age_long_term=600)
    assert cache_policy("small", False, lists).header == "max-age=60, must-revalidate"
    assert cache_policy("big", False, lists).header == "max-age=600, must-revalidate"


def test_bad_pattern_raises_re_error() -> None:
    with pytest.raises(re.error):
        CacheRules.from_lists(public=["("])


# ETags and dates.


def test_etag_is_quoted_lowercase_hex_of_inode_size_and_mtime() -> None:
    assert make_etag(0x1A2B, 0x400, 0x17F0ABC) == '"1a2b-400-17f0abc"'


def test_etag_changes_with_a_sub_second_edit() -> None:
    second = 1_700_000_000 * 10**9
    assert make_etag(1, 10, second) != make_etag(1, 10, second + 1000)


def test_http_date_is_imf_fixdate() -> None:
    assert http_date(NOV_6_1994) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert http_date(NOV_6_1994 + 0.9) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "  Sun, 06 Nov 1994 08:49:37 GMT  ",
        "sun, 06 nov 1994 08:49:37 GMT",
    ],
)
def test_all_three_date_forms_parse(value: str) -> None:
    assert parse_http_date(value) == NOV_6_1994


def test_two_digit_year_more_than_fifty_years_ahead_is_last_century() -> None:
    now = calendar.timegm((2025, 1, 1, 0, 0, 0, 0, 0, 0))
    assert parse_http_date("Tuesday, 01-Jan-75 00:00:00 GMT", now=now) == calendar.timegm(
        (2075, 1, 1, 0, 0, 0, 0, 0, 0)
    )
    assert parse_http_date("Thursday, 01-Jan-76 00:00:00 GMT", now=now) == calendar.timegm(
        (1976, 1, 1, 0, 0, 0, 0, 0, 0)
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "yesterday",
        "1994-11-06T08:49:37Z",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:61:00 GMT",
        "Sun, 06 Nov 0000 08:49:37 GMT",
        "Sun, \u0660\u0666 Nov 1994 08:49:37 GMT",  # Arabic-Indic digits
        "Sun, 06 Nov 1994 08:49:37 GMT; length=100",
        "Sun Nov 6 08:49:37 1994",
    ],
)
def test_invalid_dates_are_rejected(value: str) -> None:
    assert parse_http_date(value) is None


@given(st.integers(min_value=0, max_value=253_402_300_799))
def test_http_date_round_trips(timestamp: int) -> None:
    assert parse_http_date(http_date(timestamp)) == timestamp


@given(st.text())
def test_date_parser_never_raises(value: str) -> None:
    parse_http_date(value)


# Entity-tag lists.


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"a"', ['"a"']),
        ('"a", "b"', ['"a"', '"b"']),
        ('"a",W/"b" ,  "c"', ['"a"', 'W/"b"', '"c"']),
        ('"a,b", "c"', ['"a,b"', '"c"']),
        ('"a", , "b",', ['"a"', '"b"']),
        ('""', ['""']),
        ("*", None),
        (" * ", None),
    ],
)
def test_etag_lists_split_into_tags(value: str, expected: list[str] | None) -> None:
    assert parse_etag_list(value) == expected


@pytest.mark.parametrize(
    "value", ["", "a", '"a', '"a" "b"', 'w/"a"', '*, "a"', '"a"b', '"a", b', '"a\nb"']
)
def test_malformed_etag_lists_match_nothing(value: str) -> None:
    assert parse_etag_list(value) == []


@given(st.text())
def test_etag_list_parser_never_raises(value: str) -> None:
    parse_etag_list(value)


# Preconditions (RFC 9110 §13.2.2).


def evaluate(method: str = "GET", **headers: str) -> Precondition:
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return evaluate_preconditions(method, ETAG, NOV_6_1994, named)


def test_no_conditional_headers_proceed() -> None:
    assert evaluate() is Precondition.PROCEED


@pytest.mark.parametrize("value", [ETAG, f'"x", {ETAG}', "*"])
def test_if_match_with_the_current_tag_proceeds(value: str) -> None:
    assert evaluate("PUT", if_match=value) is Precondition.PROCEED


@pytest.mark.parametrize("value", ['"x"', f"W/{ETAG}", '"x", "y"', "garbage"])
def test_if_match_without_a_strong_match_fails(value: str) -> None:
    assert evaluate("PUT", if_match=value) is Precondition.FAILED


def test_if_match_fails_when_the_response_has_no_tag() -> None:
    assert evaluate_preconditions("GET", None, None, {"if-match": ETAG}) is Precondition.FAILED


def test_if_unmodified_since_a_later_date_proceeds() -> None:
    later = http_date(NOV_6_1994 + 1)
    assert evaluate("PUT", if_unmodified_since=later) is Precondition.PROCEED
    assert evaluate("PUT", if_unmodified_since=http_date(NOV_6_1994)) is Precondition.PROCEED


def test_if_unmodified_since_an_earlier_date_fails() -> None:
    earlier = http_date(NOV_6_1994 - 1)
    assert evaluate("PUT", if_unmodified_since=earlier) is Precondition.FAILED


def test_if_unmodified_since_is_ignored_when_if_match_is_present() -> None:
    earlier = http_date(NOV_6_1994 - 1)
    assert evaluate(if_match=ETAG, if_unmodified_since=earlier) is Precondition.PROCEED


def test_invalid_if_unmodified_since_is_ignored() -> None:
    assert evaluate("PUT", if_unmodified_since="not a date") is Precondition.PROCEED


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("value", [ETAG, f"W/{ETAG}", f'"x", {ETAG}', "*", f'W/"x",{ETAG}'])
def test_if_none_match_hit_is_not_modified_for_get_and_head(method: str, value: str) -> None:
    assert evaluate(method, if_none_match=value) is Precondition.NOT_MODIFIED


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_if_none_match_hit_fails_for_other_methods(method: str) -> None:
    assert evaluate(method, if_none_match=ETAG) is Precondition.FAILED
    assert evaluate(method, if_none_match="*") is Precondition.FAILED


@pytest.mark.parametrize("value", ['"x"', '"x", "y"', "garbage", '"1a-400-17f'])
def test_if_none_match_miss_proceeds(value: str) -> None:
    assert evaluate(if_none_match=value) is Precondition.PROCEED


def test_if_none_match_proceeds_when_the_response_has_no_tag() -> None:
    headers = {"if-none-match": ETAG}
    assert evaluate_preconditions("GET", None, None, headers) is Precondition.PROCEED


def test_failed_if_match_wins_over_if_none_match() -> None:
    assert evaluate(if_match='"x"', if_none_match=ETAG) is Precondition.FAILED


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Sun, 06 Nov 1994 08:49:38 GMT",
    ],
)
def test_if_modified_since_not_before_last_change_is_not_modified(value: str) -> None:
    assert evaluate(if_modified_since=value) is Precondition.NOT_MODIFIED


def test_if_modified_since_before_last_change_proceeds() -> None:
    earlier = http_date(NOV_6_1994 - 1)
    assert evaluate(if_modified_since=earlier) is Precondition.PROCEED


def test_if_modified_since_only_applies_to_get_and_head() -> None:
    value = http_date(NOV_6_1994)
    assert evaluate("HEAD", if_modified_since=value) is Precondition.NOT_MODIFIED
    assert evaluate("POST", if_modified_since=value) is Precondition.PROCEED


def test_invalid_if_modified_since_is_ignored() -> None:
    assert evaluate(if_modified_since="last tuesday") is Precondition.PROCEED


def test_if_modified_since_is_ignored_without_a_modification_time() -> None:
    headers = {"if-modified-since": http_date(NOV_6_1994)}
    assert evaluate_preconditions("GET", ETAG, None, headers) is Precondition.PROCEED


def test_if_modified_since_is_ignored_when_if_none_match_is_present() -> None:
    value = http_date(NOV_6_1994)
    assert evaluate(if_none_match='"x"', if_modified_since=value) is Precondition.PROCEED


@given(
    st.dictionaries(
        st.sampled_from(["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]),
        st.text(),
    ),
    st.sampled_from(["GET", "HEAD", "POST"]),
)
def test_preconditions_never_raise(headers: dict[str, str], method: str) -> None:
    assert evaluate_preconditions(method, ETAG, NOV_6_1994, headers) in Precondition


@pytest.mark.parametrize(
    ("policy", "private"),
    [
        ("max-age=300, must-revalidate", "private, max-age=300, must-revalidate"),
        ("private, max-age=300, must-revalidate", "private, max-age=300, must-revalidate"),
        ("no-cache, no-store, must-revalidate", "no-cache, no-store, must-revalidate"),
        ("no-store", "no-store"),
    ],
)
def test_an_answer_for_one_visitor_is_kept_from_shared_caches(policy: str, private: str) -> None:
    assert private_cache_control(policy) == private
