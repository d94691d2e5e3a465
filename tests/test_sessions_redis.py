"""Server-side sessions in a real Redis, shared by two krait instances."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
import websocket
from conftest import RedisServer, Server, free_port, start_server, write_site
from session_site import SITE

from krait import Request
from krait._pages import PageJob, PageRenderer
from krait._session_redis import KEY_PREFIX, without_password
from krait._session_store import SessionManager, SessionSettings, SessionSlot, open_store


def redis_site(root: Path, url: str, max_age: int = 3600) -> Path:
    init = SITE[".py/init.py"].replace(
        "krait.config.secret_key = ",
        f"krait.config.session_store = {url!r}\n"
        f"krait.config.session_max_age = {max_age}\n"
        "unused_secret = ",
    )
    return write_site(root, {**SITE, ".py/init.py": init})


@pytest.fixture(scope="module")
def instances(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    root = tmp_path_factory.mktemp("redis-sessions")
    first = start_server(redis_site(root / "one", redis_server.url), root / "log-one")
    second = start_server(redis_site(root / "two", redis_server.url), root / "log-two")
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def put(client: requests.Session, base: str, **values: object) -> str:
    params = {key: json.dumps(value) for key, value in values.items()}
    response = client.get(base + "/set.py", params=params, timeout=10)
    assert response.status_code == 200, response.text
    session_id: str = response.json()["id"]
    return session_id


def read(base: str, session_id: str) -> object:
    cookies = {"krait_session": session_id}
    return requests.get(base + "/get.py", cookies=cookies, timeout=10).json()["data"]


def test_a_session_set_through_one_instance_is_read_through_the_other(
    instances: tuple[Server, Server],
) -> None:
    first, second = instances
    with requests.Session() as client:
        session_id = put(client, first.url, user="ada")
        assert client.cookies["krait_session"] == session_id
        assert read(second.url, session_id) == {"user": "ada"}
        put(client, second.url, theme="dark")
        assert read(first.url, session_id) == {"user": "ada", "theme": "dark"}


def test_the_data_lives_in_redis_and_expires_with_the_session(
    instances: tuple[Server, Server], store: redis.Redis
) -> None:
    with requests.Session() as client:
        session_id = put(client, instances[0].url, user="ada")
    assert json.loads(store.get(KEY_PREFIX + session_id) or b"") == {"d": {"user": "ada"}}
    assert 3500 < store.ttl(KEY_PREFIX + session_id) <= 3600


def test_rotate_moves_the_data_to_a_new_id_and_the_old_one_no_longer_works(
    instances: tuple[Server, Server], store: redis.Redis
) -> None:
    first, second = instances
    with requests.Session() as client:
        old_id = put(client, first.url, user="ada")
        new_id = client.get(second.url + "/rotate.py", timeout=10).json()["id"]
        assert new_id != old_id and client.cookies["krait_session"] == new_id
        assert read(first.url, new_id) == {"user": "ada"}
    assert read(first.url, old_id) == {}
    assert store.exists(KEY_PREFIX + old_id) == 0


def test_clear_deletes_the_session_from_redis(
    instances: tuple[Server, Server], store: redis.Redis
) -> None:
    with requests.Session() as client:
        session_id = put(client, instances[0].url, user="ada")
        response = client.get(instances[1].url + "/clear.py", timeout=10)
    assert response.headers["set-cookie"].startswith("krait_session=; Max-Age=0;")
    assert store.exists(KEY_PREFIX + session_id) == 0


def test_an_unknown_or_malformed_id_gives_an_empty_session(
    instances: tuple[Server, Server],
) -> None:
    assert read(instances[0].url, "A" * 43) == {}
    assert read(instances[0].url, "../../etc/passwd") == {}


def test_a_websocket_on_the_other_instance_reads_the_session(
    instances: tuple[Server, Server],
) -> None:
    first, second = instances
    with requests.Session() as client:
        session_id = put(client, first.url, user="ada")
    url = f"ws://127.0.0.1:{second.port}/ws?kind=async"
    connection = websocket.create_connection(url, timeout=10, cookie=f"krait_session={session_id}")
    try:
        assert connection.recv() == "hello ada"
    finally:
        connection.close()


def test_a_session_store_that_does_not_answer_fails_the_page_naming_it(tmp_path: Path) -> None:
    url = f"redis://user:hunter2@127.0.0.1:{free_port()}/0"
    server = start_server(redis_site(tmp_path / "site", url), tmp_path / "log")
    try:
        response = requests.get(server.url + "/set.py?user=1", timeout=30)
        assert response.status_code == 500
        log = server.stderr() + server.stdout()
        assert f"the session store {without_password(url)} did not answer" in log
        assert "hunter2" not in log
        assert requests.get(server.url + "/plain.py", timeout=10).status_code == 200
    finally:
        server.stop()


def test_log_urls_lose_their_password() -> None:
    assert without_password("redis://u:pw@db.example:6380/2") == "redis://db.example:6380/2"
    assert without_password("unix:///run/redis.sock") == "unix:///run/redis.sock"
    assert without_password("redis://db/0?password=pw") == "redis://db/0"


def redis_manager(redis_server: RedisServer) -> SessionManager:
    return open_store(SessionSettings(store_url=redis_server.url, max_age=3600))


def cookie_request(session_id: str | None = None) -> Request:
    headers = {"Cookie": f"krait_session={session_id}"} if session_id else {}
    return Request("GET", "/", "", "HTTP/1.1", headers, b"")


def saved_id(slot: SessionSlot) -> str | None:
    cookies = [value for name, value in slot.commit("closed") if name == "Set-Cookie"]
    return cookies[0].split(";")[0].partition("=")[2] if cookies else None


def test_a_logout_is_not_undone_by_a_request_that_loaded_the_session_before_it(
    redis_server: RedisServer, store: redis.Redis
) -> None:
    """Two requests of one session: the slow one loaded it, the logout then deleted it; the
    slow one's save must not bring the logged-in session back to life."""
    sessions = redis_manager(redis_server)
    first = sessions.slot(cookie_request())
    first.get()["user"] = "ada"
    session_id = saved_id(first)
    assert session_id is not None
    slow = sessions.slot(cookie_request(session_id))
    assert slow.get()["user"] == "ada"
    logout = sessions.slot(cookie_request(session_id))
    logout.get().clear()
    assert saved_id(logout) == ""
    slow.get()["theme"] = "dark"
    assert saved_id(slow) == ""
    assert store.exists(KEY_PREFIX + session_id) == 0


def test_a_rotated_id_is_not_brought_back_by_a_request_that_loaded_it_before(
    redis_server: RedisServer, store: redis.Redis
) -> None:
    sessions = redis_manager(redis_server)
    first = sessions.slot(cookie_request())
    first.get()["user"] = "ada"
    old_id = saved_id(first)
    assert old_id is not None
    slow = sessions.slot(cookie_request(old_id))
    slow.get().touch()
    login = sessions.slot(cookie_request(old_id))
    login.get().rotate()
    new_id = saved_id(login)
    assert new_id not in (None, "", old_id)
    saved_id(slow)
    assert store.exists(KEY_PREFIX + old_id) == 0
    assert store.exists(KEY_PREFIX + str(new_id)) == 1


def test_an_id_redis_does_not_know_is_replaced_by_a_fresh_one(
    instances: tuple[Server, Server], store: redis.Redis
) -> None:
    """Session fixation: an id the client made up (or one that expired) is never adopted."""
    planted = "P" * 43
    response = requests.get(
        instances[0].url + "/set.py?user=%22ada%22", cookies={"krait_session": planted}, timeout=10
    )
    fresh = response.json()["id"]
    assert fresh != planted
    assert response.headers["set-cookie"].startswith(f"krait_session={fresh};")
    assert store.exists(KEY_PREFIX + planted) == 0


def test_a_page_that_fails_after_changing_the_session_saves_nothing(
    redis_server: RedisServer, store: redis.Redis, tmp_path: Path
) -> None:
    """The page's headers are checked after it ran; one it got wrong makes it a 500, and the
    session it rotated and changed must stay as it was (its cookie never went out)."""
    sessions = redis_manager(redis_server)
    first = sessions.slot(cookie_request())
    first.get()["user"] = "ada"
    session_id = saved_id(first)
    assert session_id is not None
    page = tmp_path / "bad.py"
    page.write_text(
        "krait.session.rotate()\n"
        "krait.session['user'] = 'eve'\n"
        "krait.extra_headers.append(('Bad Header', 'x'))\n"
    )
    renderer = PageRenderer(str(tmp_path), SessionSettings(store_url=redis_server.url))
    job = PageJob(kind="script", path=str(page), base_filename="bad.py")
    with pytest.raises(ValueError, match="header name"):
        renderer.run(job, cookie_request(session_id))
    assert json.loads(store.get(KEY_PREFIX + session_id) or b"") == {"d": {"user": "ada"}}
