"""Request-scoped state under load: 200 simultaneous requests, each sees only its own.

The script reads ``krait.request``, sleeps, writes ``krait.extra_headers``, a cookie and
``krait.response``, sleeps again and reads the request back, so that with 32 threads many
requests are between reading and writing at the same time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from conftest import Server, start_server, write_site

CLIENTS = 200
THREADS = 32

MINE = """\
import time
import running
from krait import cookie

running.enter()
try:
    value = krait.request.query["v"]
    header = krait.request.headers["x-value"]
    body = krait.request.body.decode()
    time.sleep(0.02)
    krait.extra_headers.append(("X-Echo", value))
    cookie.set_cookie(cookie.Cookie("v", value))
    krait.set_content_type(raw="text/plain; v=" + value)
    time.sleep(0.02)
    krait.response = krait.Response("HTTP/1.1", 200, [("X-Response", value)], "")
    time.sleep(0.01)
    seen_later = "%s %s %s" % (
        krait.request.query["v"], krait.request.headers["x-value"], krait.request.body.decode()
    )
    krait.response.body = "%s %s %s | %s" % (value, header, body, seen_later)
finally:
    running.leave()
"""

RUNNING = """\
import threading

_lock = threading.Lock()
now = 0
peak = 0


def enter():
    global now, peak
    with _lock:
        now += 1
        peak = max(peak, now)


def leave():
    global now
    with _lock:
        now -= 1
"""

INIT = """\
from krait.config import Route
import krait

krait.config.routes = [Route("POST", url="/mine"), Route()]
"""

SITE: dict[str, str | bytes] = {
    ".py/init.py": INIT,
    ".py/running.py": RUNNING,
    "mine.py": MINE,
    "peak.py": "import running\nreturn str(running.peak)\n",
}


@dataclass(frozen=True)
class Seen:
    """What one client got back."""

    value: str
    body: str
    echo: list[str]
    response_header: str
    content_type: str
    cookies: list[str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("concurrency")
    server = start_server(write_site(root / "site", SITE), root / "logs", "--threads", str(THREADS))
    yield server
    server.stop()


def run_clients(server: Server) -> list[Seen]:
    """Start every client at once (a barrier), each with its own value and connection."""
    barrier = threading.Barrier(CLIENTS)
    results: list[Seen] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        value = f"value-{number:03d}"
        try:
            barrier.wait(timeout=60)
            response = requests.post(
                f"{server.url}/mine?v={value}",
                data=value.encode(),
                headers={"X-Value": value},
                timeout=120,
            )
            seen = Seen(
                value,
                response.text,
                [v for k, v in response.raw.headers.items() if k.lower() == "x-echo"],
                response.headers["X-Response"],
                response.headers["Content-Type"],
                [v for k, v in response.raw.headers.items() if k.lower() == "set-cookie"],
            )
            with lock:
                results.append(seen)
        except BaseException as error:
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not errors, errors[:3]
    return results


def test_simultaneous_requests_each_see_only_their_own_state(site: Server) -> None:
    results = run_clients(site)
    assert len(results) == CLIENTS
    for seen in results:
        value = seen.value
        assert seen.body == f"{value} {value} {value} | {value} {value} {value}"
        assert seen.echo == [value]
        assert seen.response_header == value
        assert seen.content_type == f"text/plain; v={value}"
        assert seen.cookies == [f"v={value}"]


def test_requests_ran_in_parallel_within_the_thread_limit(site: Server) -> None:
    run_clients(site)
    peak = int(requests.get(site.url + "/peak", timeout=10).text)
    assert 2 <= peak <= THREADS
