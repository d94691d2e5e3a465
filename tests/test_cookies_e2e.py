"""``krait.cookie`` over the wire: a real cookie jar, RFC 6265 Set-Cookie headers, read-back."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from http.cookies import SimpleCookie

import pytest
import requests
from conftest import Server, start_server, write_site

COUNTER = """\
from krait import cookie

count = int(cookie.get_cookie("count", "0")) + 1
visit = cookie.Cookie("count", str(count))
visit.set_path("/")
visit.set_http_only(True)
visit.set_same_site("Lax")
cookie.set_cookie(visit)
krait.set_content_type(raw="text/plain")
return str(count)
"""

ATTRIBUTES = """\
import datetime
from krait import cookie

full = cookie.Cookie("session", "abc123")
full.set_expires(datetime.datetime(2031, 1, 5, 3, 4, 5))
full.set_max_age(3600)
full.set_path("/app")
full.set_domain("example.org")
full.set_secure(True)
full.set_http_only(True)
full.set_same_site("strict")
cookie.set_cookie(full)
cookie.set_cookie(cookie.Cookie("plain", "1"))
"""

RESPONSE_COOKIES = """\
import json
from krait import cookie

first = cookie.Cookie("a", "1")
first.set_path("/")
cookie.set_cookie(first)
cookie.set_cookie(cookie.Cookie("b", "2", [cookie.CookieSameSiteAttribute("None")]))
krait.extra_headers.append(("set-cookie", "c=3; Max-Age=60"))
return json.dumps([
    [c.name, c.value, [str(a) for a in c.attributes]] for c in cookie.get_response_cookies()
])
"""

READ = """\
import json
from krait import cookie

return json.dumps({
    "all": [[c.name, c.value] for c in cookie.get_cookies()],
    "b": cookie.get_cookie("b"),
    "missing": cookie.get_cookie("missing", "default"),
})
"""

REDIRECT = """\
from krait import cookie

cookie.set_cookie(cookie.Cookie("moved", "yes"))
krait.response = krait.ResponseRedirect("/read")
"""

SITE: dict[str, str | bytes] = {
    "counter.py": COUNTER,
    "attributes.py": ATTRIBUTES,
    "response_cookies.py": RESPONSE_COOKIES,
    "read.py": READ,
    "redirect.py": REDIRECT,
    "bad_value.py": "from krait import cookie\ncookie.set_cookie(cookie.Cookie('x', 'a;b'))\n",
    "spaced.py": "from krait import cookie\ncookie.set_cookie(cookie.Cookie('who', 'Ann Bo'))\n",
}

# RFC 6265 §4.1.1: cookie-pair *( ";" SP cookie-av ), with the attribute values this module
# writes (IMF-fixdate for Expires); attribute names in any case (§5.2), as the original's
# lower-case ones.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_OCTETS = r"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*"
_ATTRIBUTE = (
    r"(Expires=(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT"
    r"|Max-Age=-?\d+|Domain=[^;\x00-\x1f]+|Path=[^;\x00-\x1f]+|Secure|HttpOnly"
    r"|SameSite=(Strict|Lax|None))"
)
SET_COOKIE = re.compile(rf"{_TOKEN}=({_OCTETS}|\"{_OCTETS}\")(; {_ATTRIBUTE})*", re.IGNORECASE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("cookies")
    server = start_server(write_site(root / "site", SITE), root / "logs")
    yield server
    server.stop()


def set_cookie_headers(response: requests.Response) -> list[str]:
    return [value for name, value in response.raw.headers.items() if name.lower() == "set-cookie"]


def test_counter_cookie_round_trips_through_a_cookie_jar(site: Server) -> None:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    counts = [opener.open(site.url + "/counter", timeout=10).read() for _ in range(3)]
    assert counts == [b"1", b"2", b"3"]
    assert [(cookie.name, cookie.value, cookie.path) for cookie in jar] == [("count", "3", "/")]


def test_every_attribute_is_written_as_the_original_spelled_it(site: Server) -> None:
    response = requests.get(site.url + "/attributes", timeout=10)
    assert set_cookie_headers(response) == [
        "session=abc123; expires=Sun, 05 Jan 2031 03:04:05 GMT; max-age=3600; path=/app; "
        "domain=example.org; Secure; HttpOnly; SameSite=Strict",
        "plain=1",
    ]


@pytest.mark.parametrize("path", ["/counter", "/attributes", "/response_cookies", "/redirect"])
def test_set_cookie_headers_follow_the_rfc_6265_grammar(site: Server, path: str) -> None:
    response = requests.get(site.url + path, allow_redirects=False, timeout=10)
    headers = set_cookie_headers(response)
    assert headers
    for header in headers:
        assert SET_COOKIE.fullmatch(header), header
        assert SimpleCookie(header)


def test_response_cookies_are_read_back_with_their_attributes(site: Server) -> None:
    response = requests.get(site.url + "/response_cookies", timeout=10)
    assert response.json() == [
        ["a", "1", ["path=/"]],
        ["b", "2", ["SameSite=None"]],
        ["c", "3", ["max-age=60"]],
    ]


def test_request_cookies_from_one_header(site: Server) -> None:
    response = requests.get(site.url + "/read", headers={"Cookie": "a=1; b=two; a=3"}, timeout=10)
    assert response.json() == {
        "all": [["a", "1"], ["b", "two"], ["a", "3"]],
        "b": "two",
        "missing": "default",
    }


def test_request_cookies_from_several_headers(site: Server) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(
            b"GET /read HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: b=2; c=3\r\n"
            b"Connection: close\r\n\r\n"
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["all"] == [["a", "1"], ["b", "2"], ["c", "3"]]


def test_cookie_rides_along_a_redirect(site: Server) -> None:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    followed = json.loads(opener.open(site.url + "/redirect", timeout=10).read())
    assert ["moved", "yes"] in followed["all"]


def test_cookie_value_with_a_space_is_sent_as_given_and_a_browser_jar_keeps_it(
    site: Server,
) -> None:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    response = opener.open(site.url + "/spaced", timeout=10)
    assert response.headers.get_all("Set-Cookie") == ["who=Ann Bo"]
    assert [(cookie.name, cookie.value) for cookie in jar] == [("who", "Ann Bo")]


def test_cookie_value_a_header_cannot_carry_is_a_500_that_says_why(site: Server) -> None:
    assert requests.get(site.url + "/bad_value", timeout=10).status_code == 500
    deadline = time.monotonic() + 10
    while "URL-encode the value" not in site.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "URL-encode the value" in site.stderr()
