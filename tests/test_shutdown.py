"""Graceful shutdown: SIGTERM/SIGINT answer the requests in flight, then exit with status 0."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from conftest import Server, fetch_in_background, status_of, write_site
from shell import Held
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from krait._drain import Drainer
from krait._http import KraitSite

SITE = {
    ".py/init.py": "",
    "slow.py": "import time\ntime.sleep(float(krait.request.query.get('s', '1')))\nreturn 'done'\n",
    "fast.py": "return 'fast'\n",
}


def wait_until_running(server: Server, count: int) -> None:
    """Let ``count`` requests reach the page (they sleep there) before the signal."""
    time.sleep(0.4)
    assert server.process.poll() is None


@pytest.mark.parametrize("twistd", [False, True], ids=["python-m-krait", "twistd"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_requests_in_flight_are_answered_and_the_exit_status_is_zero(
    serve: Callable[..., Server], tmp_path: Path, twistd: bool, signum: signal.Signals
) -> None:
    server = serve(write_site(tmp_path / "site", SITE), twistd=twistd)
    threads, answers = fetch_in_background(server.url + "/slow?s=1", 3)
    wait_until_running(server, 3)
    server.process.send_signal(signum)
    for thread in threads:
        thread.join(20)
    assert answers == [(200, "done")] * 3
    assert server.process.wait(20) == 0
    assert server.stdout().count('"GET /slow?s=1 HTTP/1.1" 200') == 3


def test_an_idle_keep_alive_connection_does_not_hold_up_the_exit(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve(write_site(tmp_path / "site", SITE))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        idle.sendall(b"GET /fast.py HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(idle.recv(65536)) == 200
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 0
        assert time.monotonic() - started < 5
        assert idle.recv(65536) == b""  # closed by the server, cleanly


def test_a_busy_keep_alive_connection_is_told_to_close_after_its_answer(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve(write_site(tmp_path / "site", SITE))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as busy:
        busy.sendall(b"GET /slow.py?s=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        answer = b""
        while chunk := busy.recv(65536):
            answer += chunk
    assert status_of(answer) == 200
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.endswith(b"done")
    assert server.process.wait(10) == 0


def test_shutdown_timeout_cuts_off_a_page_that_runs_too_long(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve(write_site(tmp_path / "site", SITE), "--shutdown-timeout", "0.5")
    threads, answers = fetch_in_background(server.url + "/slow?s=30", 1)
    wait_until_running(server, 1)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(15) == 0
    assert time.monotonic() - started < 10
    threads[0].join(20)
    assert isinstance(answers[0], requests.RequestException)
    assert "shutdown timeout (0.5s, see --shutdown-timeout)" in server.stderr()


def test_the_shutdown_timeout_must_be_a_number(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "krait", str(tmp_path), "--shutdown-timeout", "soon"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "--shutdown-timeout takes a number of seconds" in done.stderr


class FakeRequest:
    """What the drainer needs of a request: notifyFinish()."""

    def __init__(self) -> None:
        self.channel = object()  # a request whose client is still there
        self.finished = False
        self.done: Deferred[None] = Deferred()

    def notifyFinish(self) -> Deferred[None]:
        return self.done

    def finish(self) -> None:
        self.finished = True
        self.done.callback(None)


def test_drain_without_requests_is_over_at_once() -> None:
    clock = Clock()
    drainer = Drainer(clock, timeout=5)
    done = drainer.drain()
    assert done.called
    assert drainer.drained


def test_drain_waits_for_the_requests_in_flight() -> None:
    clock = Clock()
    drainer = Drainer(clock, timeout=5)
    first, second = FakeRequest(), FakeRequest()
    drainer.request_started(first)
    drainer.request_started(second)
    done = drainer.drain()
    first.finish()
    clock.advance(1)
    assert not done.called
    second.finish()
    clock.advance(0.05)
    assert done.called


def test_drain_gives_up_at_the_timeout() -> None:
    clock = Clock()
    drainer = Drainer(clock, timeout=5)
    drainer.request_started(FakeRequest())
    done = drainer.drain()
    clock.advance(4.9)
    assert not done.called
    clock.advance(0.2)
    assert done.called
    assert drainer.in_flight == 1


def test_drain_does_not_wait_for_a_request_whose_client_is_gone() -> None:
    """An HTTP/2 stream reset by krait never finishes its request: it must not hold the exit."""
    clock = Clock()
    drainer = Drainer(clock, timeout=5)
    gone = FakeRequest()
    drainer.request_started(gone)
    gone.channel = None  # what twisted.web's connectionLost leaves
    done = drainer.drain()
    clock.advance(0.05)
    assert done.called


class FakeTransport:
    disconnected = False

    def loseConnection(self) -> None:
        self.disconnected = True


class FakeConnection:
    """An HTTP/1.1 channel with no request in progress."""

    def __init__(self) -> None:
        self.requests: list[object] = []
        self.transport = FakeTransport()


def test_idle_connections_get_a_grace_for_a_request_on_its_way_then_close() -> None:
    """A worker being replaced must not fail a request its client is sending right now."""
    clock = Clock()
    drainer = Drainer(clock, timeout=5)
    old, fresh = FakeConnection(), FakeConnection()
    drainer.connection_made(old)
    clock.advance(10)
    drainer.connection_made(fresh)
    done = drainer.drain()
    clock.advance(0.9)
    assert not old.transport.disconnected
    assert not fresh.transport.disconnected
    clock.advance(0.2)
    assert old.transport.disconnected
    assert fresh.transport.disconnected
    clock.advance(0.05)
    assert done.called


def held_site(clock: Clock) -> tuple[KraitSite, Held, Drainer]:
    held, drainer = Held(), Drainer(clock, timeout=5)
    return KraitSite(held, access_log=None, reactor=clock, drainer=drainer), held, drainer


def test_a_krait_request_leaves_the_drainer_when_it_is_answered() -> None:
    clock = Clock()
    site, held, drainer = held_site(clock)
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    protocol.makeConnection(StringTransport())
    protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert drainer.in_flight == 1
    held.waiting[0].write(b"done")
    held.waiting[0].finish()
    assert drainer.in_flight == 0


def test_a_krait_request_leaves_the_drainer_when_its_client_is_gone() -> None:
    clock = Clock()
    site, _, drainer = held_site(clock)
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    protocol.makeConnection(StringTransport())
    protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert drainer.in_flight == 1
    protocol.connectionLost(Failure(ConnectionDone()))
    assert drainer.in_flight == 0
