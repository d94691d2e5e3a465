"""Route compiling and matching (spec §5.1, krait's decisions Kept 5 and Fixed 1)."""

from __future__ import annotations

import re

import pytest

from krait._errors import (
    MethodNotAllowed,
    NoRouteMatched,
    SiteConfigError,
    UpgradeRequired,
)
from krait._routing import (
    CompiledRoute,
    allowed_methods,
    compile_routes,
    is_websocket_upgrade,
    match_route,
    route_verb,
)
from krait.config import Route

ALL_METHODS = ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")


class HomeCtrl:
    """A stand-in MVC controller."""


def match(routes: list[Route] | None, method: str, path: str, upgrade: bool = False) -> int:
    return match_route(compile_routes(routes), method, path, upgrade).index


@pytest.mark.parametrize("routes", [None, []])
def test_no_routes_means_one_default_get_route(routes: list[Route] | None) -> None:
    (default,) = compile_routes(routes)
    assert default == CompiledRoute(
        index=0, verb="GET", url=None, regex=None, target=None, ctrl_class=None
    )


def test_compiled_routes_keep_order_index_and_fields() -> None:
    compiled = compile_routes(
        [
            Route(url="/", ctrl_class=HomeCtrl),
            Route("POST", regex=r"/c/\d+", target="comment.py"),
            Route(),
        ]
    )
    assert [route.index for route in compiled] == [0, 1, 2]
    assert compiled[0].ctrl_class is HomeCtrl
    assert compiled[1].verb == "POST"
    assert compiled[1].regex is not None and compiled[1].regex.pattern == r"/c/\d+"
    assert compiled[1].target == "comment.py"


def test_a_precompiled_regex_is_accepted() -> None:
    (route,) = compile_routes([Route(regex=re.compile("/a+"))])  # type: ignore[arg-type]
    assert route.matches_path("/aaa")


def test_bad_regex_error_names_route_regex_reason_and_position() -> None:
    with pytest.raises(SiteConfigError) as caught:
        compile_routes([Route(), Route(regex="/blog/(.*")])
    text = str(caught.value)
    assert "krait.config.routes[1]" in text
    assert "'/blog/(.*'" in text
    assert "missing ), unterminated subpattern" in text
    assert "position 6" in text
    assert "fix:" in text
    assert isinstance(caught.value.__cause__, re.error)


def test_mutated_bad_verb_is_rejected_with_the_valid_verbs() -> None:
    route = Route()
    route.verb = "GETT"
    with pytest.raises(SiteConfigError) as caught:
        compile_routes([Route(), route])
    message = caught.value.message
    assert "krait.config.routes[1]" in message
    assert "'GETT'" in message
    assert "GET, POST, PUT, DELETE, PATCH, CONNECT, OPTIONS, TRACE, ANY, WEBSOCKET" in message
    assert "Route.route_verbs" in message


@pytest.mark.parametrize(
    ("entry", "type_name"),
    [({"verb": "GET", "url": "/"}, "dict"), ("/", "str"), (None, "NoneType")],
)
def test_entries_that_are_not_routes_are_rejected(entry: object, type_name: str) -> None:
    with pytest.raises(SiteConfigError) as caught:
        compile_routes([Route(), Route(), entry])
    assert "krait.config.routes[2]" in caught.value.message
    assert type_name in caught.value.message
    assert caught.value.hint == "build routes with krait.config.Route(...)"


def test_routes_that_are_not_a_list_are_rejected() -> None:
    with pytest.raises(SiteConfigError, match="must be a list of Route"):
        compile_routes("Route()")


@pytest.mark.parametrize("field", ["url", "target"])
def test_non_string_url_or_target_is_rejected(field: str) -> None:
    route = Route()
    setattr(route, field, 42)
    with pytest.raises(SiteConfigError, match=rf"routes\[0\]\.{field} must be a str"):
        compile_routes([route])


def test_mutated_target_and_controller_together_are_rejected() -> None:
    route = Route(url="/", ctrl_class=HomeCtrl)
    route.target = "x.html"
    with pytest.raises(SiteConfigError, match="both target= and ctrl_class="):
        compile_routes([route])


def test_site_config_error_text_shows_location_and_fix() -> None:
    error = SiteConfigError("bad verb", filename="init.py", line=3, hint="use GET")
    assert str(error) == "init.py:3: bad verb\n  fix: use GET"
    assert str(SiteConfigError("bad verb")) == "bad verb"
    assert str(SiteConfigError("bad", filename="init.py")) == "init.py: bad"


def test_url_matches_exactly_and_case_sensitively() -> None:
    routes = [Route(url="/login")]
    assert match(routes, "GET", "/login") == 0
    for path in ("/Login", "/login/", "/login.html", "/log", "/x/login"):
        with pytest.raises(NoRouteMatched):
            match(routes, "GET", path)


def test_regex_must_match_the_whole_path_not_a_part() -> None:
    routes = [Route(regex=r"/blog/\d+")]
    assert match(routes, "GET", "/blog/42") == 0
    for path in ("/blog/42/edit", "/x/blog/42", "/blog/"):
        with pytest.raises(NoRouteMatched):
            match(routes, "GET", path)


def test_url_and_regex_together_match_either() -> None:
    routes = [Route(url="/http", regex=r"/http\+.*")]
    assert match(routes, "GET", "/http") == 0
    assert match(routes, "GET", "/http+more") == 0
    with pytest.raises(NoRouteMatched):
        match(routes, "GET", "/https")


def test_a_route_without_url_or_regex_matches_every_path() -> None:
    assert match([Route()], "GET", "/anything/at/all") == 0
    assert match([Route()], "GET", "") == 0


def test_first_matching_route_in_list_order_wins() -> None:
    routes = [Route(url="/a", target="first"), Route(regex="/.*"), Route(url="/a")]
    assert match(routes, "GET", "/a") == 0
    assert match(routes, "GET", "/b") == 1


def test_routes_for_other_verbs_are_skipped_in_order() -> None:
    routes = [Route("POST", url="/c"), Route(url="/c"), Route("ANY", url="/c")]
    assert match(routes, "POST", "/c") == 0
    assert match(routes, "GET", "/c") == 1
    assert match(routes, "PUT", "/c") == 2


def test_head_is_routed_as_get() -> None:
    assert route_verb("HEAD", False) == "GET"
    assert match([Route("POST"), Route(url="/x")], "HEAD", "/x") == 1


def test_upgrade_is_routed_as_websocket_whatever_the_method() -> None:
    assert route_verb("GET", True) == "WEBSOCKET"
    assert route_verb("HEAD", True) == "WEBSOCKET"
    assert route_verb("POST", False) == "POST"


@pytest.mark.parametrize("method", ALL_METHODS)
def test_any_route_takes_every_method(method: str) -> None:
    assert match([Route("ANY", url="/x")], method, "/x") == 0


def test_any_route_takes_upgrades() -> None:
    assert match([Route("ANY", url="/ws")], "GET", "/ws", upgrade=True) == 0


def test_upgrade_matches_only_websocket_or_any_routes() -> None:
    routes = [Route(url="/ws"), Route("WEBSOCKET", url="/ws"), Route()]
    assert match(routes, "GET", "/ws", upgrade=True) == 1
    assert match(routes, "GET", "/ws") == 0


def test_upgrade_to_a_path_without_websocket_route_is_not_allowed() -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        match([Route()], "GET", "/page", upgrade=True)
    assert caught.value.allowed == ("GET", "HEAD", "OPTIONS")


def test_websocket_route_does_not_take_plain_requests() -> None:
    with pytest.raises(UpgradeRequired) as caught:
        match([Route("WEBSOCKET", url="/ws")], "GET", "/ws")
    assert isinstance(caught.value, MethodNotAllowed)
    assert caught.value.allowed == ("GET", "OPTIONS")


def test_post_to_a_websocket_path_is_plain_method_not_allowed() -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        match([Route("WEBSOCKET", url="/ws")], "POST", "/ws")
    assert type(caught.value) is MethodNotAllowed


def test_default_routes_serve_get_and_head_only() -> None:
    assert match(None, "GET", "/x") == 0
    assert match([], "HEAD", "/x") == 0
    with pytest.raises(MethodNotAllowed) as caught:
        match(None, "POST", "/x")
    assert caught.value.allowed == ("GET", "HEAD", "OPTIONS")
    assert caught.value.allow_header == "GET, HEAD, OPTIONS"


def test_known_path_with_another_method_is_405_with_sorted_allowed_methods() -> None:
    routes = [Route("POST", url="/c"), Route("PUT", regex="/c"), Route(url="/c"), Route(url="/")]
    with pytest.raises(MethodNotAllowed) as caught:
        match(routes, "DELETE", "/c")
    assert caught.value.allowed == ("GET", "HEAD", "OPTIONS", "POST", "PUT")


def test_unknown_path_is_no_route_matched() -> None:
    routes = [Route(url="/"), Route("POST", url="/comment")]
    with pytest.raises(NoRouteMatched) as caught:
        match(routes, "GET", "/missing")
    assert (caught.value.method, caught.value.path) == ("GET", "/missing")
    with pytest.raises(NoRouteMatched):
        match(routes, "OPTIONS", "/missing")


def test_options_matches_options_and_any_routes() -> None:
    assert match([Route(url="/x"), Route("OPTIONS", url="/x")], "OPTIONS", "/x") == 1
    assert match([Route(url="/x"), Route("ANY", url="/x")], "OPTIONS", "/x") == 1


def test_options_on_a_path_known_to_other_verbs_raises_method_not_allowed() -> None:
    """The HTTP layer answers these itself with 204 and the Allow list."""
    with pytest.raises(MethodNotAllowed) as caught:
        match([Route(url="/x"), Route("POST", url="/x")], "OPTIONS", "/x")
    assert caught.value.allowed == ("GET", "HEAD", "OPTIONS", "POST")


@pytest.mark.parametrize(
    ("verb", "allowed"),
    [
        ("GET", ("GET", "HEAD", "OPTIONS")),
        ("POST", ("OPTIONS", "POST")),
        ("DELETE", ("DELETE", "OPTIONS")),
        ("OPTIONS", ("OPTIONS",)),
        ("TRACE", ("OPTIONS", "TRACE")),
        ("WEBSOCKET", ("GET", "OPTIONS")),
        ("ANY", ALL_METHODS),
    ],
)
def test_allowed_methods_per_verb(verb: str, allowed: tuple[str, ...]) -> None:
    assert allowed_methods(compile_routes([Route(verb, url="/x")]), "/x") == allowed


def test_allowed_methods_is_empty_for_unknown_paths() -> None:
    assert allowed_methods(compile_routes([Route(url="/x")]), "/y") == ()


def test_method_not_allowed_sorts_and_deduplicates() -> None:
    assert MethodNotAllowed(["POST", "GET", "POST"]).allowed == ("GET", "POST")


@pytest.mark.parametrize(
    ("upgrade", "expected"),
    [
        ("websocket", True),
        ("WebSocket", True),
        ("h2c, websocket", True),
        (" websocket ,foo", True),
        ("h2c", False),
        ("websockets", False),
        ("", False),
    ],
)
def test_websocket_upgrade_is_a_case_insensitive_token(upgrade: str, expected: bool) -> None:
    assert is_websocket_upgrade({"upgrade": upgrade}) is expected


def test_no_upgrade_header_is_no_upgrade() -> None:
    assert is_websocket_upgrade({"connection": "upgrade"}) is False


def test_url_parameters_match_one_segment_each_and_are_named() -> None:
    (route,) = compile_routes([Route(url="/users/{id}/posts/{post}")])
    assert route.matches_path("/users/42/posts/hello")
    assert route.params("/users/42/posts/hello") == {"id": "42", "post": "hello"}
    assert not route.matches_path("/users/42/posts/a/b")
    assert not route.matches_path("/users//posts/x")


def test_url_template_literals_are_not_regex() -> None:
    (route,) = compile_routes([Route(url="/a.b/{x}")])
    assert route.matches_path("/a.b/1")
    assert not route.matches_path("/aXb/1")


def test_named_regex_groups_are_parameters_and_plain_routes_have_none() -> None:
    named, plain = compile_routes(
        [Route(regex=r"/blog/(?P<year>[0-9]{4})/(?P<slug>[a-z-]+)"), Route(url="/about")]
    )
    assert named.params("/blog/2026/hello-world") == {"year": "2026", "slug": "hello-world"}
    assert plain.params("/about") == {}


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("/users/{}", "is not a name"),
        ("/users/{id}/{id}", "is used twice"),
        ("/users/{id", "unmatched brace"),
        ("/users/{id}}", "unmatched brace"),
        ("/users/{a-b}", "is not a name"),
    ],
)
def test_a_malformed_url_template_stops_the_start_with_the_fix(url: str, problem: str) -> None:
    with pytest.raises(SiteConfigError, match=problem) as caught:
        compile_routes([Route(url=url)])
    assert "url='/users/{id}" in str(caught.value)


def test_patch_is_a_route_verb() -> None:
    (route,) = compile_routes([Route("PATCH", url="/item")])
    assert match_route([route], "PATCH", "/item", False) is route
    assert allowed_methods([route], "/item") == ("OPTIONS", "PATCH")
