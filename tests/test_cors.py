"""CORS decisions from plain values (``krait._cors``), the ``krait.config.Cors`` checks, and a
site whose ``init.py`` gets CORS wrong failing to start with the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import write_site

from krait._cors import (
    CorsPolicy,
    compile_cors,
    is_preflight,
    policy_for,
    preflight_headers,
    response_headers,
)
from krait._errors import SiteConfigError
from krait._site import load_site
from krait.config import ConfigError, Cors


def policy(*args: Any, **kwargs: Any) -> CorsPolicy:
    (compiled,) = compile_cors(Cors(*args, **kwargs))
    return compiled


# --- preflight or not


def test_options_with_origin_and_request_method_is_a_preflight() -> None:
    assert is_preflight("OPTIONS", "https://a.example", "PATCH")


@pytest.mark.parametrize(
    ("method", "origin", "asked"),
    [
        ("OPTIONS", None, "PATCH"),
        ("OPTIONS", "https://a.example", None),
        ("GET", "https://a.example", "PATCH"),
    ],
)
def test_anything_else_is_no_preflight(method: str, origin: str | None, asked: str | None) -> None:
    assert not is_preflight(method, origin, asked)


# --- origins


def test_listed_origins_are_allowed_ignoring_case() -> None:
    rules = policy(["https://a.example", "http://localhost:8080"])
    assert rules.allows("https://a.example")
    assert rules.allows("HTTPS://A.EXAMPLE")
    assert rules.allows("http://localhost:8080")
    assert not rules.allows("http://localhost:8081")
    assert not rules.allows("https://a.example.evil")


def test_a_wildcard_origin_matches_host_characters_only() -> None:
    rules = policy(["https://*.example.com"])
    assert rules.allows("https://api.example.com")
    assert rules.allows("https://a.b.example.com")
    assert not rules.allows("https://example.com")
    assert not rules.allows("https://evil.com/.example.com")
    assert not rules.allows("http://api.example.com")


def test_a_wildcard_is_a_leading_label_or_a_whole_port() -> None:
    rules = policy(["https://*.example.com", "http://localhost:*"])
    assert rules.allows("http://localhost:5173")
    assert not rules.allows("https://.example.com")
    assert not rules.allows("https://evilexample.com")
    assert not rules.allows("https://example.com.evil.net")
    assert not rules.allows("http://localhost")
    assert not rules.allows("http://localhost.evil.net:80")


def test_an_origin_listed_with_its_default_port_matches_what_browsers_send() -> None:
    """Browsers leave the default port out of ``Origin`` (``https://a.example``)."""
    rules = policy(["https://a.example:443", "http://b.example:80", "https://c.example:8443"])
    assert rules.allows("https://a.example")
    assert rules.allows("http://b.example")
    assert rules.allows("https://c.example:8443")
    assert not rules.allows("https://c.example")


def test_null_origin_is_allowed_only_when_listed() -> None:
    assert not policy(["https://a.example"]).allows("null")
    assert policy(["null"]).allows("null")


# --- the headers of an actual answer


def test_allowed_origin_is_named_with_vary_origin() -> None:
    rules = policy(["https://a.example"], expose_headers=["X-Count"])
    assert response_headers(rules, "https://a.example") == [
        ("Access-Control-Allow-Origin", "https://a.example"),
        ("Access-Control-Expose-Headers", "X-Count"),
        ("Vary", "Origin"),
    ]


def test_other_origins_and_requests_without_origin_only_get_vary() -> None:
    rules = policy(["https://a.example"], expose_headers=["X-Count"])
    assert response_headers(rules, "https://b.example") == [("Vary", "Origin")]
    assert response_headers(rules, None) == [("Vary", "Origin")]


def test_star_goes_to_every_request_and_does_not_vary() -> None:
    rules = policy("*")
    assert response_headers(rules, "https://b.example") == [("Access-Control-Allow-Origin", "*")]
    assert response_headers(rules, None) == [("Access-Control-Allow-Origin", "*")]


def test_credentials_are_allowed_with_the_echoed_origin() -> None:
    rules = policy(["https://a.example"], allow_credentials=True)
    assert response_headers(rules, "https://a.example") == [
        ("Access-Control-Allow-Origin", "https://a.example"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
    ]


# --- preflights


def test_preflight_names_methods_headers_and_max_age() -> None:
    rules = policy(
        ["https://a.example"],
        allow_methods=["GET", "patch"],
        allow_headers=["Content-Type", "X-Token"],
        max_age=600,
    )
    headers = preflight_headers(rules, "https://a.example", "x-token", ["GET", "HEAD"])
    assert headers == [
        ("Access-Control-Allow-Origin", "https://a.example"),
        ("Access-Control-Allow-Methods", "GET, PATCH"),
        ("Access-Control-Allow-Headers", "Content-Type, X-Token"),
        ("Access-Control-Max-Age", "600"),
        ("Vary", "Origin"),
    ]


def test_preflight_allows_the_routes_methods_by_default() -> None:
    headers = dict(preflight_headers(policy("*"), "https://a.example", None, ["GET", "PATCH"]))
    assert headers["Access-Control-Allow-Methods"] == "GET, PATCH"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Vary" not in headers
    assert "Access-Control-Max-Age" not in headers


def test_preflight_for_a_path_no_route_knows_names_no_methods() -> None:
    headers = dict(preflight_headers(policy("*"), "https://a.example", None, []))
    assert "Access-Control-Allow-Methods" not in headers


def test_star_headers_echo_what_the_browser_asks_for_and_vary_on_it() -> None:
    rules = policy(["https://a.example"], allow_headers="*", allow_credentials=True)
    headers = dict(
        preflight_headers(rules, "https://a.example", "authorization, x-token", ["GET"]) or []
    )
    assert headers["Access-Control-Allow-Headers"] == "authorization, x-token"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Vary"] == "Origin, Access-Control-Request-Headers"


def test_preflight_from_an_origin_not_allowed_gets_no_cors_answer() -> None:
    assert preflight_headers(policy(["https://a.example"]), "https://b.example", None, []) is None


# --- which settings apply


def test_the_first_settings_whose_paths_match_apply() -> None:
    api = Cors("*", paths=[r"/api/.*"])
    account = Cors(["https://a.example"], paths=[r"/api/account(/.*)?"], allow_credentials=True)
    policies = compile_cors([account, api])
    assert policy_for(policies, "/api/account/me") is policies[0]
    assert policy_for(policies, "/api/items") is policies[1]
    assert policy_for(policies, "/api") is None
    assert policy_for(compile_cors(Cors("*")), "/anything") is not None


def test_no_settings_compile_to_nothing() -> None:
    assert compile_cors(None) == ()


def test_cors_of_another_type_is_refused_with_the_fix() -> None:
    with pytest.raises(SiteConfigError, match=r"krait\.config\.Cors") as caught:
        compile_cors({"allow_origins": "*"})
    assert "fix:" in str(caught.value)


# --- krait.config.Cors checks


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"allow_origins": "*", "allow_credentials": True}, "cannot go with allow_origins='*'"),
        ({"allow_origins": []}, "needs allow_origins"),
        ({"allow_origins": ["https://a.example/"]}, "not an origin"),
        ({"allow_origins": ["a.example"]}, "not an origin"),
        ({"allow_origins": ["*", "https://a.example"]}, "mixes '\\*'"),
        ({"allow_origins": [1]}, "list of strings"),
        ({"allow_origins": "*", "allow_methods": ["GET POST"]}, "not a method"),
        ({"allow_origins": "*", "allow_headers": ["X Token"]}, "not a header name"),
        ({"allow_origins": "*", "allow_credentials": "yes"}, "True or False"),
        ({"allow_origins": "*", "max_age": -1}, "whole number"),
        ({"allow_origins": "*", "max_age": 1.5}, "whole number"),
        ({"allow_origins": "*", "paths": ["/api/("]}, "does not compile"),
        ({"allow_origins": ["null"], "allow_credentials": True}, "cannot go with 'null'"),
        ({"allow_origins": ["https://*"]}, "'\\*' stands for"),
        ({"allow_origins": ["https://*example.com"]}, "'\\*' stands for"),
        ({"allow_origins": ["https://app.*"]}, "'\\*' stands for"),
        ({"allow_origins": ["https://a*.example.com"]}, "'\\*' stands for"),
        ({"allow_origins": ["https://*.*.example.com"]}, "'\\*' stands for"),
        ({"allow_origins": ["http://localhost:8*"]}, "'\\*' stands for"),
        (
            {
                "allow_origins": ["https://a.example"],
                "expose_headers": "*",
                "allow_credentials": True,
            },
            "expose_headers='\\*'",
        ),
    ],
)
def test_bad_settings_are_refused_saying_what_is_wrong(
    kwargs: dict[str, object], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        Cors(**kwargs)  # type: ignore[arg-type]


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'allow_header'"):
        Cors("*", allow_header=["X-Token"])  # type: ignore[call-arg]


def test_bad_cors_in_init_names_the_line(tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "site",
        {".py/init.py": "import krait\n\nkrait.config.cors = krait.config.Cors('*', max_age=-5)\n"},
    )
    with pytest.raises(SiteConfigError) as caught:
        load_site(str(site))
    assert caught.value.line == 3
    assert str(caught.value.filename).endswith("init.py")
    assert "max_age" in str(caught.value)


def test_cors_of_the_wrong_type_in_init_names_the_assignment(tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "site",
        {".py/init.py": "import krait\n\n\nkrait.config.cors = {'allow_origins': '*'}\n"},
    )
    with pytest.raises(SiteConfigError) as caught:
        load_site(str(site))
    assert caught.value.line == 4
    assert str(caught.value).startswith(str(site / ".py" / "init.py") + ":4:")


def test_a_site_loaded_after_one_with_cors_starts_without(tmp_path: Path) -> None:
    first = write_site(
        tmp_path / "first",
        {".py/init.py": "import krait\nkrait.config.cors = krait.config.Cors('*')\n"},
    )
    assert load_site(str(first)).cors
    second = write_site(tmp_path / "second", {"index.html": "hi"})
    assert load_site(str(second)).cors == ()
