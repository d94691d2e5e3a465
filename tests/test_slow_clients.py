"""Slowloris and connection floods, end to end: a real server with short limits, raw sockets.

The server runs with a 1 s head deadline and a body rate of 1,000 B/s after 1 s, so that every
case is decided within seconds; the defaults (20 s, 500 B/s after 20 s) behave the same, only
slower.
"""

from __future__ import annotations

import re
import resource
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import h2.events
import pytest
import trustme
import websocket
from conftest import Server, raw_exchange, start_server, status_of, write_site
from h2.errors import ErrorCodes
from hyperframe.frame import HeadersFrame
from test_h2_hardening import RawH2, tls_server
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from ws_site import echo_site

from krait._deadlines import ClientLimits
from krait.tap import Options, build_service

INIT = """\
from krait.config import Route

krait.config.routes = [Route("POST", url="/echo"), Route()]
"""

ECHO = """\
return "%d bytes" % len(krait.request.body)
"""

LIMITS = ("--header-timeout", "1", "--body-timeout", "1", "--body-min-rate", "1000")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("slow")
    return write_site(root / "site", {".py/init.py": INIT, "echo.py": ECHO, "index.html": "home"})


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    running = start_server(site, site.parent / "log", *LIMITS)
    yield running
    running.stop()


def trickle(
    port: int, pieces: list[bytes], interval: float, give_up: float = 15
) -> tuple[bytes, float]:
    """Send ``pieces`` one every ``interval`` seconds while reading the answer.

    Returns:
        What the server sent, and the seconds from connecting until it closed (or until
        ``give_up``, or until every piece was sent and answered in full).
    """
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setblocking(False)
    started = time.monotonic()
    answer = b""
    next_send = started
    pending = list(pieces)
    try:
        while time.monotonic() - started < give_up:
            now = time.monotonic()
            if pending and now >= next_send:
                try:
                    sock.send(pending.pop(0))
                except OSError:
                    pending.clear()
                next_send = now + interval
            timeout = max(0.0, next_send - time.monotonic()) if pending else 0.5
            readable, _, _ = select.select([sock], [], [], timeout)
            if readable:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    break
                answer += chunk
            elif not pending and answer:
                break  # answered, and the connection stays open (keep-alive)
    finally:
        sock.close()
    return answer, time.monotonic() - started


def test_header_sent_a_byte_at_a_time_gets_408_within_the_deadline(server: Server) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    answer, seconds = trickle(server.port, [bytes([b]) for b in head], interval=0.3)
    assert status_of(answer) == 408
    assert b"Connection: close" in answer
    assert answer.endswith(b"the request head took over 1 s (see --header-timeout)\n")
    assert seconds < 2.0


def test_connection_that_sends_nothing_is_closed_without_an_answer(server: Server) -> None:
    answer, seconds = trickle(server.port, [], interval=0)
    assert answer == b""
    assert 0.9 < seconds < 2.0


def test_body_sent_slower_than_the_min_rate_gets_408(server: Server) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n"
    answer, seconds = trickle(server.port, [head] + [b"x" * 10] * 100, interval=0.3)
    assert status_of(answer) == 408
    assert b"the request body arrived slower than 1000 bytes/s" in answer
    assert seconds < 2.5


def test_steady_upload_above_the_min_rate_is_not_cut(server: Server) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6000\r\nConnection: close\r\n\r\n"
    # 1,500 B/s for 4 s: far past the 1 s body timeout, never below the rate.
    answer, seconds = trickle(server.port, [head] + [b"x" * 300] * 20, interval=0.2)
    assert status_of(answer) == 200
    assert answer.endswith(b"6000 bytes")
    assert seconds > 3.5


def test_keep_alive_connection_times_each_head_from_its_first_byte(server: Server) -> None:
    """Idle time between requests belongs to the keep-alive timeout, not to the next head."""
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        assert sock.recv(65536).endswith(b"home")
        time.sleep(1.5)
        sock.sendall(request)
        assert sock.recv(65536).endswith(b"home")


def test_server_serves_after_cutting_slow_clients(server: Server) -> None:
    answer = raw_exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 200


def open_connections(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]


def read_refusal(sock: socket.socket) -> bytes:
    """What the server sent on ``sock`` so far and then closed with (b"" if nothing)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return b""
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return answer


def test_connections_over_the_limit_get_503_and_the_server_recovers(
    site: Path, tmp_path: Path
) -> None:
    server = start_server(site, tmp_path / "log", "--max-connections", "20")
    try:
        time.sleep(0.3)  # the start-up probe's connection has closed
        sockets = open_connections(server.port, 30)
        time.sleep(0.5)
        answers = [read_refusal(sock) for sock in sockets]
        refused = [answer for answer in answers if answer]
        assert len(refused) == 10
        for answer in refused:
            assert status_of(answer) == 503
            assert b"\r\nRetry-After: 1\r\n" in answer
            assert b"\r\nConnection: close\r\n" in answer
        for sock in sockets:
            sock.close()
        for _ in range(50):
            answer = raw_exchange(
                server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            if status_of(answer) == 200:
                break
            time.sleep(0.1)
        assert status_of(answer) == 200
        assert "20 connections are open (see --max-connections)" in server.stderr()
    finally:
        server.stop()


def soft_open_file_limit(pid: int) -> tuple[int, int]:
    limits = Path(f"/proc/{pid}/limits").read_text()
    found = re.search(r"Max open files\s+(\d+)\s+(\d+)", limits)
    assert found is not None, limits
    return int(found.group(1)), int(found.group(2))


def test_start_up_raises_the_soft_open_file_limit_to_the_hard_one(
    site: Path, tmp_path: Path
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("the hard open-file limit leaves nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        server = start_server(site, tmp_path / "log")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        server_soft, server_hard = soft_open_file_limit(server.process.pid)
        assert server_soft == server_hard > 256
        assert f"open-file limit {server_soft}, raised from 256" in server.stderr()
    finally:
        server.stop()


def test_websocket_connections_count_until_they_close(tmp_path: Path) -> None:
    site = echo_site(tmp_path / "ws_site")
    server = start_server(site, tmp_path / "log", "--max-connections", "2", "--no-access-log")
    try:
        time.sleep(0.3)  # the start-up probe's connection has closed
        url = f"ws://127.0.0.1:{server.port}/echo?kind=async"
        sockets = [websocket.create_connection(url, timeout=5) for _ in range(2)]
        for ws in sockets:
            ws.send("still here")
            assert ws.recv() == "still here"
        request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert status_of(raw_exchange(server.port, request)) == 503
        sockets.pop().close()
        for _ in range(50):
            answer = raw_exchange(server.port, request)
            if status_of(answer) != 503:
                break
            time.sleep(0.1)
        assert status_of(answer) == 404  # served: the echo site has no index
        sockets[0].close()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def test_http2_frame_trickle_is_cut_off_mid_frame_with_a_goaway_naming_the_deadline(
    site: Path, tmp_path: Path, authority: trustme.CA
) -> None:
    # A HEADERS frame sent a byte at a time, at least 0.3 s apart, would take minutes to
    # arrive whole; the server's 1 s frame deadline ends the connection long before that.
    # No clock is read: the deadline shows as the GOAWAY's reason, and as the frame never
    # finishing (a bound no loaded machine comes near).
    with tls_server(tmp_path, authority, site, *LIMITS) as served:
        client = RawH2(served)
        # The server's SETTINGS, acknowledged before the trickle: an ACK must not land in it.
        give_up = time.monotonic() + 30  # a hang guard only
        while time.monotonic() < give_up and not any(
            isinstance(event, h2.events.RemoteSettingsChanged) for event in client.events
        ):
            client.read_some(0.1)
        frame = HeadersFrame(1, data=client.block("/" + "a" * 400))
        frame.flags.add("END_HEADERS")
        frame.flags.add("END_STREAM")
        trickle = frame.serialize()
        sent = 0
        for byte in trickle:
            try:
                client.send(bytes([byte]))
            except OSError:
                break
            sent += 1
            if not client.read_some(0.3) or client.goaway() is not None:
                break
        ended = client.goaway()
        client.close()
    assert ended is not None
    assert ended.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert ended.additional_data == b"a frame took over 1 s to arrive (see --header-timeout)"
    assert sent < len(trickle)


def test_tls_connection_over_the_limit_is_closed_without_an_answer(
    site: Path, tmp_path: Path, authority: trustme.CA
) -> None:
    with tls_server(tmp_path, authority, site, "--max-connections", "1") as served:
        time.sleep(0.3)  # the start-up probe's connection has closed
        held = RawH2(served)
        with pytest.raises((AssertionError, OSError)):
            RawH2(served)  # the TLS handshake meets a closed connection
        held.close()


def test_limit_options_reach_the_site(site: Path) -> None:
    options = Options()
    options.parseOptions([*LIMITS, "--keepalive-timeout", "0", "--max-connections", "7", str(site)])
    service = build_service(options, MemoryReactorClock())
    factory = next(iter(service)).factory  # type: ignore[attr-defined]
    assert factory.client_limits == ClientLimits(
        header_timeout=1, body_timeout=1, body_min_rate=1000, keepalive_timeout=0
    )
    assert factory.timeOut is None  # no idle timeout
    assert factory.connection_slots.limit == 7


@pytest.mark.parametrize(
    "given",
    [
        ["--body-min-rate", "-1"],
        ["--body-min-rate", "1.5"],
        ["--max-connections", "0"],
        ["--header-timeout", "soon"],
        ["--keepalive-timeout", "-5"],
    ],
)
def test_bad_limit_options_are_refused(given: list[str]) -> None:
    with pytest.raises(usage.UsageError):
        Options().parseOptions([*given, "site"])
