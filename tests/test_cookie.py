"""``krait.cookie``: cookie text, attributes, request cookies and response cookies."""

from __future__ import annotations

import datetime
import http.cookiejar
import http.cookies

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krait import Request, _context, cookie
from krait.cookie import (
    Cookie,
    CookieAttribute,
    CookieDomainAttribute,
    CookieExpiresAttribute,
    CookieHttpOnlyAttribute,
    CookieMaxAgeAttribute,
    CookiePathAttribute,
    CookieSameSiteAttribute,
    CookieSecureAttribute,
)

# Not in typeshed, but it is how urllib's CookieJar reads Set-Cookie headers.
parse_ns_headers = http.cookiejar.parse_ns_headers  # type: ignore[attr-defined]
UTC = datetime.UTC
MOMENT = datetime.datetime(2017, 1, 5, 3, 4, 5, tzinfo=UTC)
TOKEN_CHARS = "abcXYZ019!#$%&'*+-.^_`|~"
OCTET_CHARS = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) not in '",;\\')


def activate(headers: dict[str, str] | None = None) -> _context.RequestState:
    return _context.RequestState(request=Request("GET", "/", "", "HTTP/1.1", headers or {}, b""))


def request_cookies(header: str) -> list[tuple[str, str]]:
    with _context.activate(activate({"cookie": header})):
        return [(item.name, item.value) for item in cookie.get_cookies()]


# Cookie and its text


def test_cookie_text_is_name_value_then_attributes() -> None:
    item = Cookie("sid", "abc", [CookiePathAttribute("/"), CookieHttpOnlyAttribute()])
    assert str(item) == "sid=abc; path=/; HttpOnly"


def test_cookie_without_name_is_only_its_value() -> None:
    assert str(Cookie("", "lonely", [CookieSecureAttribute()])) == "lonely; Secure"


def test_attribute_text_is_name_or_name_equals_value() -> None:
    assert str(CookieAttribute("Flag")) == "Flag"
    assert str(CookieAttribute("Priority", "High")) == "Priority=High"


def test_attribute_classes_use_the_original_krait_spellings() -> None:
    attributes = [
        CookieExpiresAttribute(MOMENT),
        CookieMaxAgeAttribute(60),
        CookiePathAttribute("/app"),
        CookieDomainAttribute("example.org"),
        CookieHttpOnlyAttribute(),
        CookieSecureAttribute(),
        CookieSameSiteAttribute("lax"),
    ]
    assert [str(item) for item in attributes] == [
        "expires=Thu, 05 Jan 2017 03:04:05 GMT",
        "max-age=60",
        "path=/app",
        "domain=example.org",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
    ]


def test_attribute_classes_keep_their_arguments() -> None:
    assert CookieExpiresAttribute(MOMENT).expire_datetime == MOMENT
    assert CookieMaxAgeAttribute(5).max_age == 5
    assert CookiePathAttribute("/p").path == "/p"
    assert CookieDomainAttribute("d").domain == "d"
    assert CookieSameSiteAttribute("STRICT").same_site == "Strict"


def test_expires_takes_naive_datetimes_as_utc_and_converts_aware_ones() -> None:
    naive = datetime.datetime(2017, 1, 5, 3, 4, 5)
    plus_two = datetime.datetime(
        2017, 1, 5, 5, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    assert CookieExpiresAttribute(naive).value == "Thu, 05 Jan 2017 03:04:05 GMT"
    assert CookieExpiresAttribute(plus_two).value == "Thu, 05 Jan 2017 03:04:05 GMT"


def test_add_attribute_replaces_same_name_in_any_case() -> None:
    item = Cookie("a", "1", [CookieAttribute("PATH", "/old"), CookieHttpOnlyAttribute()])
    item.add_attribute(CookiePathAttribute("/new"))
    assert str(item) == "a=1; HttpOnly; path=/new"


def test_remove_attribute_ignores_case_and_missing_names() -> None:
    item = Cookie("a", "1", [CookieSecureAttribute(), CookieHttpOnlyAttribute()])
    item.remove_attribute("secure")
    item.remove_attribute("Domain")
    assert str(item) == "a=1; HttpOnly"


def test_setters_set_and_remove_their_attribute() -> None:
    item = Cookie("a", "1")
    item.set_expires(MOMENT)
    item.set_max_age(10)
    item.set_path("/")
    item.set_domain("example.org")
    item.set_secure(True)
    item.set_http_only(True)
    item.set_same_site("None")
    assert str(item) == (
        "a=1; expires=Thu, 05 Jan 2017 03:04:05 GMT; max-age=10; path=/; "
        "domain=example.org; Secure; HttpOnly; SameSite=None"
    )
    item.set_expires(None)
    item.set_max_age(None)
    item.set_path(None)
    item.set_domain(None)
    item.set_secure(False)
    item.set_http_only(False)
    item.set_same_site(None)
    assert str(item) == "a=1"
    assert item.attributes == []


def test_same_site_accepts_only_strict_lax_none() -> None:
    with pytest.raises(ValueError, match="'Strict', 'Lax' or 'None'"):
        Cookie("a", "1").set_same_site("sometimes")


def test_max_age_must_be_an_integer() -> None:
    with pytest.raises(TypeError):
        CookieMaxAgeAttribute(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["a=b", "a;b", "a\r\nb", " ", "a\x00"])
def test_cookie_name_that_would_break_the_header_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="must not be blank or contain"):
        Cookie(name, "1")


@pytest.mark.parametrize("value", ["a;b", "a\nb", "a\r\nSet-Cookie: x=1", "a\x7fb"])
def test_cookie_value_that_would_break_the_header_is_refused_with_the_fix(value: str) -> None:
    with pytest.raises(ValueError, match=r"urllib\.parse\.quote\(value\)"):
        Cookie("a", value)


@pytest.mark.parametrize(
    ("name", "value"),
    [("msg", "hello world"), ("a", "a,b"), ("a", 'a"b'), ("a", "a\\b"), ("é", "é"), ("(x)", "1")],
)
def test_names_and_values_the_original_sent_are_sent_as_given(name: str, value: str) -> None:
    assert str(Cookie(name, value)) == f"{name}={value}"


def test_invalid_value_is_refused_when_assigned_later() -> None:
    item = Cookie("a", "1")
    with pytest.raises(ValueError):
        item.value = "x; Domain=evil.example"
    assert item.value == "1"


def test_quoted_and_empty_values_are_accepted() -> None:
    assert str(Cookie("a", '"quoted"')) == 'a="quoted"'
    assert str(Cookie("a", "")) == "a="


@pytest.mark.parametrize("value", ["/a;b", "/a\r\nX-Injected: 1"])
def test_attribute_value_cannot_break_the_header(value: str) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        CookiePathAttribute(value)


def test_repr_shows_name_value_and_attributes() -> None:
    assert repr(Cookie("a", "1", [CookieSecureAttribute()])) == (
        "Cookie('a', '1', [<CookieSecureAttribute Secure>])"
    )


# Our Set-Cookie text as other parsers read it


def test_set_cookie_text_reads_back_with_simple_cookie() -> None:
    item = Cookie("sid", "a1/b2+c=")
    item.set_expires(MOMENT)
    item.set_max_age(3600)
    item.set_path("/app")
    item.set_domain("example.org")
    item.set_secure(True)
    item.set_http_only(True)
    item.set_same_site("strict")
    jar = http.cookies.SimpleCookie()
    jar.load(str(item))
    morsel = jar["sid"]
    assert morsel.value == "a1/b2+c="
    assert morsel["expires"] == "Thu, 05 Jan 2017 03:04:05 GMT"
    assert (morsel["max-age"], morsel["path"], morsel["domain"]) == ("3600", "/app", "example.org")
    assert (morsel["secure"], morsel["httponly"], morsel["samesite"]) == (True, True, "Strict")


def test_set_cookie_text_reads_back_with_cookiejar() -> None:
    item = Cookie("sid", "xyz")
    item.set_expires(MOMENT)
    item.set_path("/")
    item.set_http_only(True)
    (pairs,) = parse_ns_headers([str(item)])
    parsed = dict(pairs)
    assert pairs[0] == ("sid", "xyz")
    assert parsed["expires"] == int(MOMENT.timestamp())
    assert parsed["path"] == "/"
    assert "HttpOnly" in parsed


@given(
    st.text(TOKEN_CHARS, min_size=1, max_size=12),
    st.text(OCTET_CHARS, max_size=30),
)
def test_any_valid_cookie_survives_cookiejar_parsing(name: str, value: str) -> None:
    (pairs,) = parse_ns_headers([str(Cookie(name, value, [CookieSecureAttribute()]))])
    assert pairs[0] == (name, value)


# Request cookies


def test_request_cookies_split_on_semicolons_with_spaces_stripped() -> None:
    assert request_cookies("a=1; b=2;c=3 ;  d = 4") == [
        ("a", "1"),
        ("b", "2"),
        ("c", "3"),
        ("d", "4"),
    ]


def test_request_cookie_value_keeps_equals_signs_and_quotes() -> None:
    assert request_cookies('a=b=c; q="x y"') == [("a", "b=c"), ("q", '"x y"')]


def test_request_cookie_without_equals_has_empty_name() -> None:
    assert request_cookies("lonely; a=1") == [("", "lonely"), ("a", "1")]


def test_request_cookies_skip_empty_parts() -> None:
    assert request_cookies(";; a=1; ;") == [("a", "1")]


def test_several_cookie_headers_joined_by_comma_all_count() -> None:
    assert request_cookies("a=1; b=2, c=3, d=4") == [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]


def test_commas_inside_values_do_not_split_cookies() -> None:
    assert request_cookies("when=Thu, 01 Jan 1970; list=1,2") == [
        ("when", "Thu, 01 Jan 1970"),
        ("list", "1,2"),
    ]


def test_request_cookies_are_not_validated_or_decoded() -> None:
    assert request_cookies("bad name=caf\u00e9%20x") == [("bad name", "caf\u00e9%20x")]


def test_no_cookie_header_means_no_cookies() -> None:
    with _context.activate(activate()):
        assert cookie.get_cookies() == []
        assert cookie.get_cookie("a") is None
        assert cookie.get_cookie("a", "fallback") == "fallback"


def test_get_cookie_returns_the_first_with_that_name() -> None:
    with _context.activate(activate({"cookie": "a=1; b=2; a=3"})):
        assert cookie.get_cookie("a") == "1"
        assert cookie.get_cookie("b", "x") == "2"


def test_request_cookies_are_cached_in_the_request_state() -> None:
    with _context.activate(activate({"cookie": "a=1"})) as active:
        cookie.get_cookies()
        active.request.headers["cookie"] = "a=2"
        assert cookie.get_cookie("a") == "1"
        assert [item.name for item in active.cookies_cache] == ["a"]


def test_cookies_outside_a_request_raise_a_clear_error() -> None:
    with pytest.raises(_context.NoActiveRequestError):
        cookie.get_cookies()


# Response cookies


def test_set_cookie_adds_a_set_cookie_header_named_as_the_original_did() -> None:
    with _context.activate(activate()) as state:
        cookie.set_cookie(Cookie("a", "1", [CookieHttpOnlyAttribute()]))
    assert state.extra_headers == [("set-cookie", "a=1; HttpOnly")]


def test_response_cookies_round_trip_with_attribute_classes() -> None:
    sent = Cookie("sid", "abc")
    sent.set_expires(MOMENT)
    sent.set_max_age(60)
    sent.set_path("/")
    sent.set_domain("example.org")
    sent.set_secure(True)
    sent.set_http_only(True)
    sent.set_same_site("Lax")
    with _context.activate(activate()):
        cookie.set_cookie(sent)
        cookie.set_cookie(Cookie("other", "2"))
        first, second = cookie.get_response_cookies()
    assert (first.name, first.value, str(first)) == ("sid", "abc", str(sent))
    assert first.attributes == sent.attributes
    assert [type(item) for item in first.attributes] == [
        CookieExpiresAttribute,
        CookieMaxAgeAttribute,
        CookiePathAttribute,
        CookieDomainAttribute,
        CookieSecureAttribute,
        CookieHttpOnlyAttribute,
        CookieSameSiteAttribute,
    ]
    expires = first.attributes[0]
    assert isinstance(expires, CookieExpiresAttribute)
    assert expires.expire_datetime == MOMENT
    assert (second.name, second.value, second.attributes) == ("other", "2", [])


def test_response_cookies_include_headers_added_by_hand() -> None:
    with _context.activate(activate()) as state:
        state.extra_headers.extend(
            [
                ("X-Other", "a=1"),
                ("set-cookie", "raw=v; expires=Tue, 26 Jun 2018 21:5:9 GMT; httponly; Flavour=x"),
                ("SET-COOKIE", "weird=a b; Max-Age=soon; Expires=never; =odd"),
            ]
        )
        raw, weird = cookie.get_response_cookies()
    assert (raw.name, raw.value) == ("raw", "v")
    expires, http_only, flavour = raw.attributes
    assert isinstance(expires, CookieExpiresAttribute)
    assert expires.expire_datetime == datetime.datetime(2018, 6, 26, 21, 5, 9, tzinfo=UTC)
    assert isinstance(http_only, CookieHttpOnlyAttribute)
    assert (type(flavour), flavour.name, flavour.value) == (CookieAttribute, "Flavour", "x")
    assert (weird.name, weird.value) == ("weird", "a b")
    assert [(type(item), str(item)) for item in weird.attributes] == [
        (CookieAttribute, "Max-Age=soon"),
        (CookieAttribute, "Expires=never"),
        (CookieAttribute, "=odd"),
    ]


@given(st.text(max_size=80))
def test_response_cookie_parsing_never_fails(header: str) -> None:
    with _context.activate(activate()) as active:
        active.extra_headers.append(("Set-Cookie", header))
        (parsed,) = cookie.get_response_cookies()
        assert isinstance(str(parsed), str)
