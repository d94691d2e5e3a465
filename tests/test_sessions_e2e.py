"""``krait.session`` over real HTTP: scripts, Pyml, MVC and WebSockets share one session."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme
import websocket
from conftest import (
    Server,
    free_port,
    raw_exchange,
    start_server,
    status_of,
    wait_for_port,
    write_site,
)
from session_site import SECRET, SITE
from tls_site import INIT as TLS_INIT
from tls_site import write_tls_site

from krait._session_codec import SessionRecord, derive_key, new_session_id, sign_record


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("sessions")
    running = start_server(write_site(root / "site", SITE), root / "log")
    yield running
    running.stop()


@pytest.fixture
def client() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def put(client: requests.Session, base: str, **values: object) -> requests.Response:
    params = {key: json.dumps(value) for key, value in values.items()}
    response = client.get(base + "/set.py", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response


def data(client: requests.Session, base: str) -> dict[str, object]:
    answer: dict[str, object] = client.get(base + "/get.py", timeout=10).json()["data"]
    return answer


def test_a_value_set_in_one_script_is_read_in_another(
    server: Server, client: requests.Session
) -> None:
    put(client, server.url, user="ada", cart=[1, 2])
    assert data(client, server.url) == {"user": "ada", "cart": [1, 2]}


def test_a_pyml_page_and_an_mvc_controller_read_the_same_session(
    server: Server, client: requests.Session
) -> None:
    put(client, server.url, user="ada")
    assert client.get(server.url + "/page.pyml", timeout=10).text == "<p>page sees ada</p>"
    assert client.get(server.url + "/ctrl", timeout=10).text == "<p>ctrl sees ada</p>"


def test_the_cookie_rides_along_with_a_redirect(server: Server, client: requests.Session) -> None:
    response = client.get(server.url + "/login.py?name=grace", timeout=10)
    assert response.text == "<p>page sees grace</p>"
    (redirect,) = response.history
    assert redirect.status_code == 302 and redirect.raw.headers.getlist("set-cookie")[0]
    assert len(redirect.raw.headers.getlist("set-cookie")) == 1


def test_another_client_has_its_own_session(server: Server, client: requests.Session) -> None:
    put(client, server.url, user="ada")
    assert requests.get(server.url + "/page.pyml", timeout=10).text == "<p>page sees nobody</p>"


def test_the_cookie_is_http_only_same_site_lax_and_not_secure_over_http(
    server: Server, client: requests.Session
) -> None:
    header = put(client, server.url, user="ada").headers["set-cookie"]
    name, _, attributes = header.partition(";")
    assert name.startswith("krait_session=")
    assert attributes == " Max-Age=1209600; Path=/; HttpOnly; SameSite=Lax"


def test_pages_that_only_read_the_session_send_no_cookie_but_vary_on_it(
    server: Server, client: requests.Session
) -> None:
    assert put(client, server.url, user="ada").headers["vary"] == "Cookie"
    for path in ("/get.py", "/page.pyml", "/ctrl"):
        response = client.get(server.url + path, timeout=10)
        assert "set-cookie" not in response.headers
        assert "Cookie" in response.headers["vary"]
    plain = client.get(server.url + "/plain.py", timeout=10)
    assert "set-cookie" not in plain.headers and "vary" not in plain.headers


def test_a_tampered_cookie_gives_an_empty_session_not_an_error(
    server: Server, client: requests.Session
) -> None:
    put(client, server.url, user="ada")
    value = client.cookies["krait_session"]
    body, issued, signature = value.split(".")
    tampered = {"krait_session": f"{body}x.{issued}.{signature}"}
    response = requests.get(server.url + "/get.py", cookies=tampered, timeout=10)
    assert response.status_code == 200 and response.json()["data"] == {}
    assert response.headers["set-cookie"].startswith("krait_session=; Max-Age=0;")


def test_an_expired_cookie_gives_an_empty_session(server: Server) -> None:
    record = SessionRecord(new_session_id(), {"user": "ada"})

    def data_issued(seconds_ago: int) -> object:
        value = sign_record(record, derive_key(SECRET), int(time.time()) - seconds_ago)
        cookies = {"krait_session": value}
        return requests.get(server.url + "/get.py", cookies=cookies, timeout=10).json()["data"]

    assert data_issued(1209600 + 60) == {}
    assert data_issued(1209600 - 60) == {"user": "ada"}


def test_rotate_changes_the_cookie_and_keeps_the_data(
    server: Server, client: requests.Session
) -> None:
    first_id = put(client, server.url, user="ada").json()["id"]
    before = client.cookies["krait_session"]
    rotated = client.get(server.url + "/rotate.py", timeout=10)
    assert rotated.json()["id"] != first_id
    assert client.cookies["krait_session"] != before
    assert data(client, server.url) == {"user": "ada"}


def test_clear_ends_the_session_and_deletes_the_cookie(
    server: Server, client: requests.Session
) -> None:
    put(client, server.url, user="ada")
    response = client.get(server.url + "/clear.py", timeout=10)
    assert response.headers["set-cookie"].startswith("krait_session=; Max-Age=0;")
    assert "krait_session" not in client.cookies
    assert data(client, server.url) == {}


def test_a_value_json_cannot_hold_fails_the_page_with_the_reason_in_the_log(
    server: Server,
) -> None:
    response = requests.get(server.url + "/bad.py", timeout=10)
    assert response.status_code == 500 and "date" not in response.text
    assert "krait.session['when'] cannot be saved" in server.stderr() + server.stdout()


def test_a_streamed_body_cannot_change_the_session_any_more(
    server: Server, client: requests.Session
) -> None:
    response = client.get(server.url + "/stream.py", timeout=10)
    assert response.text == "before SessionReadOnlyError"


@pytest.mark.parametrize("kind", ["async", "thread"])
def test_a_websocket_controller_reads_the_session_of_its_upgrade(
    server: Server, client: requests.Session, kind: str
) -> None:
    put(client, server.url, user="ada")
    cookie = f"krait_session={client.cookies['krait_session']}"
    url = f"ws://127.0.0.1:{server.port}/ws?kind={kind}"
    connection = websocket.create_connection(url, timeout=10, cookie=cookie)
    try:
        assert connection.recv() == "hello ada"
        connection.send("bob")
        expected = "SessionReadOnlyError" if kind == "async" else "{'user': 'ada'}"
        assert connection.recv() == expected
    finally:
        connection.close()


def test_a_websocket_without_a_session_cookie_sees_an_empty_session(server: Server) -> None:
    connection = websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws?kind=async")
    try:
        assert connection.recv() == "hello nobody"
    finally:
        connection.close()


def test_every_instance_sharing_the_secret_reads_the_session(
    server: Server, client: requests.Session, tmp_path: Path
) -> None:
    other = start_server(write_site(tmp_path / "site", SITE), tmp_path / "log")
    try:
        put(client, server.url, user="ada")
        cookie = {"krait_session": client.cookies["krait_session"]}
        answer = requests.get(other.url + "/get.py", cookies=cookie, timeout=10)
        assert answer.json()["data"] == {"user": "ada"}
    finally:
        other.stop()


def test_a_site_using_sessions_without_a_secret_does_not_start(tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "site",
        {".py/init.py": "import krait\n", "login.py": "\n\nkrait.session['user'] = 'ada'\n"},
    )
    server = start_server(site, tmp_path / "log", wait=False)
    assert server.process.wait(timeout=60) == 1
    log = server.stderr() + server.stdout()
    assert f"{site / 'login.py'}:3:" in log
    assert "krait.config.secret_key" in log and "KRAIT_SECRET_KEY" in log


def test_a_session_used_without_a_secret_fails_the_page_with_the_fix_in_the_log(
    tmp_path: Path,
) -> None:
    hidden = "import krait as k\nname = 'sess' + 'ion'\ngetattr(k, name)['user'] = 'ada'\n"
    site = write_site(tmp_path / "site", {"login.py": hidden})
    server = start_server(site, tmp_path / "log")
    try:
        assert requests.get(server.url + "/login.py", timeout=10).status_code == 500
        assert "krait.config.secret_key" in server.stderr() + server.stdout()
    finally:
        server.stop()


def test_the_cookie_is_secure_over_https_and_not_over_http(tmp_path: Path) -> None:
    authority = trustme.CA()
    site = write_tls_site(tmp_path / "site", authority)
    write_site(site, {".py/init.py": f"{TLS_INIT}krait.config.secret_key = {SECRET!r}\n"})
    write_site(site, {"set.py": "krait.session['user'] = 'ada'\nreturn 'ok'\n"})
    port = free_port()
    server = start_server(site, tmp_path / "log", "--https", str(port), "--interface", "127.0.0.1")
    try:
        wait_for_port(port, server.process)
        with authority.cert_pem.tempfile() as ca_file:
            secure = requests.get(f"https://127.0.0.1:{port}/set.py", verify=ca_file, timeout=10)
        assert secure.headers["set-cookie"].endswith("; HttpOnly; SameSite=Lax; Secure")
        plain = requests.get(server.url + "/set.py", timeout=10)
        assert plain.headers["set-cookie"].endswith("; HttpOnly; SameSite=Lax")
    finally:
        server.stop()


def test_the_cookie_is_secure_behind_a_trusted_proxy_that_saw_https(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", SITE)
    server = start_server(site, tmp_path / "log", "--trusted-proxies", "127.0.0.1/32")
    try:
        forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        response = requests.get(server.url + "/set.py?u=1", headers=forwarded, timeout=10)
        assert response.headers["set-cookie"].endswith("; Secure")
        plain = requests.get(server.url + "/set.py?u=1", timeout=10)
        assert not plain.headers["set-cookie"].endswith("; Secure")
    finally:
        server.stop()


def test_pages_using_the_session_or_setting_cookies_are_private_where_caches_may_keep_pages(
    tmp_path: Path,
) -> None:
    """A shared cache must never hand one visitor's session cookie or page to another, also
    when ``cache_public`` covers the page (and caches that ignore ``Vary: Cookie``)."""
    init = SITE[".py/init.py"] + "krait.config.cache_public = [r'.*']\n"
    own_cookie = "krait.cookie.set_cookie(krait.cookie.Cookie('theme', 'dark'))\nreturn 'ok'\n"
    files = {**SITE, ".py/init.py": init, "theme.py": own_cookie}
    server = start_server(write_site(tmp_path / "site", files), tmp_path / "log")
    try:
        with requests.Session() as client:
            saving = put(client, server.url, user="ada")
            reading = client.get(server.url + "/page.pyml", timeout=10)
            plain = client.get(server.url + "/plain.py", timeout=10)
            cookie = client.get(server.url + "/theme.py", timeout=10)
        assert "set-cookie" in saving.headers
        assert saving.headers["cache-control"] == "private, max-age=300, must-revalidate"
        assert reading.headers["cache-control"] == "private, max-age=300, must-revalidate"
        assert plain.headers["cache-control"] == "max-age=300, must-revalidate"
        assert cookie.headers["set-cookie"].startswith("theme=dark")
        assert cookie.headers["cache-control"] == "private, max-age=300, must-revalidate"
    finally:
        server.stop()


def test_a_forwarded_https_from_a_peer_not_trusted_gets_no_secure_cookie(
    server: Server,
) -> None:
    spoofed = {"X-Forwarded-Proto": "https", "Forwarded": "proto=https"}
    response = requests.get(server.url + "/set.py?u=1", headers=spoofed, timeout=10)
    assert "Secure" not in response.headers["set-cookie"]


def hostile_variants(valid: str, other: str) -> list[bytes]:
    """Forgeries of a valid cookie value: each must give an empty session."""
    body, issued, signature = valid.split(".")
    other_body = other.split(".")[0]
    return [
        f"{body}.{issued}.".encode(),  # no signature
        f"{body}.{issued}.{signature[:20]}".encode(),  # truncated
        f"{body}.{issued}.{signature}==".encode(),  # base64 padding
        f"{body}=.{issued}.{signature}".encode(),  # padding in the record
        f"{body}.{int(issued) + 10**6}.{signature}".encode(),  # a later issue time
        f"{other_body}.{issued}.{signature}".encode(),  # another record, this signature
        f"{body}.{issued}".encode(),  # two parts
        f"{body}..{signature}".encode(),
        f"{body}.{issued}.{signature}".encode() + b"\xff\xe9",  # non-ASCII bytes
        f"{body}.".encode() + "\u00b2".encode("latin-1") + f".{signature}".encode(),
        b"",
    ]


def test_forged_cookies_on_the_wire_give_an_empty_session_and_are_deleted(
    server: Server, client: requests.Session
) -> None:
    put(client, server.url, user="ada")
    valid = client.cookies["krait_session"]
    with requests.Session() as other_client:
        put(other_client, server.url, user="eve")
        other = other_client.cookies["krait_session"]
    for forged in hostile_variants(valid, other):
        answer = raw_exchange(
            server.port,
            b"GET /get.py HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Cookie: krait_session=" + forged + b"\r\n\r\n",
        )
        assert status_of(answer) == 200, forged
        head, _, body = answer.partition(b"\r\n\r\n")
        assert json.loads(body) == {"id": None, "data": {}}, forged
        assert b"Set-Cookie: krait_session=; Max-Age=0;" in head, forged
