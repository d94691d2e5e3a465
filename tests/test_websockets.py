"""WebSockets end to end: a real krait process on 127.0.0.1 and the websocket-client library.

The site (``tests/ws_site.py``) echoes through every kind of controller: threaded ones reading
their queue or handling ``on_in_message`` in the pool, and asynchronous ones on the reactor.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import websocket
from conftest import Server, start_server, wait_for
from ws_site import echo_site, marker

KINDS = ["queue", "poll", "event", "async"]
SIXTEEN_MIB = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return echo_site(tmp_path_factory.mktemp("ws_site"))


@pytest.fixture(scope="module")
def server(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by the tests that leave it as they found it."""
    running = start_server(site, tmp_path_factory.mktemp("ws_logs"), "--no-access-log")
    yield running
    running.stop()


def connect(server: Server, path: str = "/echo", **options: object) -> websocket.WebSocket:
    return websocket.create_connection(f"ws://127.0.0.1:{server.port}{path}", timeout=10, **options)


def close_code(ws: websocket.WebSocket) -> int | None:
    """Read up to the server's Close frame and return its status code."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None


def raw_upgrade(server: Server, path: str, **changes: str | None) -> tuple[int, str, bool]:
    """Send an upgrade request by hand; return the status, the raw head and whether the
    server closed the connection after answering."""
    headers: dict[str, str | None] = {
        "Host": f"127.0.0.1:{server.port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    headers.update({name.replace("_", "-"): value for name, value in changes.items()})
    lines = [f"GET {path} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers.items() if value is not None]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        closed = False
        try:
            while chunk := sock.recv(65536):
                received += chunk
                if received.startswith(b"HTTP/1.1 101 ") and b"\r\n\r\n" in received:
                    break
            else:
                closed = True
        except TimeoutError:
            pass
    head = received.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return int(head.split(" ", 2)[1]), head, closed


@pytest.mark.parametrize("kind", KINDS)
def test_text_and_binary_messages_come_back_as_the_same_type(server: Server, kind: str) -> None:
    ws = connect(server, f"/echo?kind={kind}")
    try:
        ws.send("héllo")
        assert ws.recv() == "héllo"
        ws.send_binary(b"\x00\xffbinary")
        assert ws.recv() == b"\x00\xffbinary"
        ws.send("x" * 200_000)
        assert ws.recv() == "x" * 200_000
    finally:
        ws.close()


@pytest.mark.parametrize("kind", KINDS)
def test_messages_are_answered_in_the_order_they_were_sent(server: Server, kind: str) -> None:
    """An asynchronous hook that awaits ("slow") still holds back the next message."""
    ws = connect(server, f"/echo?kind={kind}")
    try:
        sent = ["slow", *(str(n) for n in range(50))]
        for message in sent:
            ws.send(message)
        assert [ws.recv() for _ in sent] == sent
    finally:
        ws.close()


@pytest.mark.parametrize("kind", KINDS)
def test_controller_code_sees_the_upgrade_request_as_krait_request(
    server: Server, kind: str
) -> None:
    ws = connect(server, f"/echo?kind={kind}")
    try:
        ws.send("url?")
        assert ws.recv() == "/echo"
    finally:
        ws.close()


def test_subprotocol_chosen_by_the_target_is_confirmed(server: Server) -> None:
    ws = connect(server, subprotocols=["chat", "echo.v1"])
    try:
        assert ws.getsubprotocol() == "echo.v1"
    finally:
        ws.close()


def test_no_subprotocol_header_when_the_target_chose_none(server: Server) -> None:
    status, head, _ = raw_upgrade(server, "/echo", Sec_WebSocket_Protocol="chat")
    assert status == 101
    assert "sec-websocket-protocol" not in head.lower()


def test_handshake_sends_no_server_banner(server: Server) -> None:
    ws = connect(server)
    try:
        assert "server" not in ws.getheaders()
    finally:
        ws.close()


def test_upgrade_is_refused_with_400_when_the_target_sets_no_response(server: Server) -> None:
    status, head, closed = raw_upgrade(server, "/refuse")
    assert status == 400
    assert "content-length: 0" in head.lower()  # an empty body, as in the original
    assert closed


def test_status_set_by_the_target_is_sent_and_the_connection_closed(server: Server) -> None:
    status, head, closed = raw_upgrade(server, "/not-found")
    assert status == 404
    assert "connection: close" in head.lower()
    assert closed


def test_wrong_websocket_version_gets_400_naming_version_13(server: Server) -> None:
    status, head, closed = raw_upgrade(server, "/echo", Sec_WebSocket_Version="8")
    assert status == 400
    assert "sec-websocket-version: 13" in head.lower()
    assert closed


def test_missing_key_gets_400(server: Server) -> None:
    status, _, closed = raw_upgrade(server, "/echo", Sec_WebSocket_Key=None)
    assert status == 400
    assert closed


def test_plain_get_of_the_websocket_url_runs_the_target_without_an_upgrade(
    server: Server,
) -> None:
    with urllib.request.urlopen(f"{server.url}/echo", timeout=10) as answer:
        assert answer.status == 200
        assert answer.read() == b"plain GET: no upgrade"


@pytest.mark.parametrize("kind", KINDS)
def test_on_stop_is_called_when_the_client_drops_the_connection(
    server: Server, site: Path, kind: str
) -> None:
    tag = f"drop-{kind}"
    ws = connect(server, f"/echo?kind={kind}&tag={tag}")
    ws.send("ping")
    assert ws.recv() == "ping"
    ws.sock.shutdown(socket.SHUT_RDWR)
    ws.sock.close()
    assert wait_for(marker(site, tag).exists)


@pytest.mark.parametrize("kind", KINDS)
def test_on_stop_is_called_after_a_clean_close(server: Server, site: Path, kind: str) -> None:
    tag = f"clean-{kind}"
    ws = connect(server, f"/echo?kind={kind}&tag={tag}")
    ws.close()
    assert wait_for(marker(site, tag).exists)


def test_connection_stays_open_after_the_controller_thread_returns(
    server: Server, site: Path
) -> None:
    ws = connect(server, "/echo?kind=queue&tag=returned")
    ws.send("quit")
    ws.settimeout(0.5)
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv()  # as in the original: no close, the client decides
    ws.ping(b"still there")
    ws.close()
    assert wait_for(marker(site, "returned").exists)


def test_a_controller_that_does_not_pop_stops_reading_but_loses_nothing(server: Server) -> None:
    ws = connect(server, "/echo?kind=slow-start")
    for _ in range(999):
        ws.send("x" * 1024)
    ws.send("last")
    queued = int(ws.recv().split()[1])
    # At most the pause mark plus what one read from the socket held (64 KiB).
    assert 256 <= queued <= 256 + 65
    assert ws.recv() == "got 1000"
    ws.close()


def test_controller_without_a_thread_receives_what_others_push(server: Server) -> None:
    listener = connect(server, "/echo?kind=push-only&tag=listener")
    talker = connect(server, "/echo?kind=queue")
    talker.send("push:listener:hello from another connection")
    assert listener.recv() == "hello from another connection"
    talker.close()
    listener.close()


@pytest.mark.parametrize("kind", ["queue", "async"])
def test_controller_error_closes_the_connection_with_1011(server: Server, kind: str) -> None:
    ws = connect(server, f"/echo?kind={kind}")
    ws.send("boom")
    assert close_code(ws) == 1011


def test_async_controller_close_sends_its_code(server: Server) -> None:
    ws = connect(server, "/echo?kind=async")
    ws.send("quit")
    assert close_code(ws) == 1000


def read_close_code(sock: socket.socket) -> int | None:
    """Read frames from a raw socket up to the server's Close; return its status code."""
    data = b""
    while True:
        while len(data) < 2 or len(data) < 2 + (data[1] & 0x7F):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed without a Close frame")
            data += chunk
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        payload, data = data[2 : 2 + length], data[2 + length :]
        if opcode == 0x8:
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def raw_websocket(server: Server, path: str) -> socket.socket:
    """A socket on which the WebSocket handshake for ``path`` has just completed."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101 ")
    return sock


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A final client frame (clients must mask, RFC 6455 §5.3) with a payload under 126 bytes."""
    mask = b"\x37\xfa\x21\x3d"
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


MALFORMED_CLOSES = {
    "code-999": (struct.pack("!H", 999), 1002),
    "code-1005-which-is-never-sent": (struct.pack("!H", 1005), 1002),
    "code-5000": (struct.pack("!H", 5000), 1002),
    "one-byte-payload": (b"\x03", 1002),
    "reason-not-utf-8": (struct.pack("!H", 1000) + b"\xff\xfe", 1007),
}


@pytest.mark.parametrize("kind", ["queue", "async"])
@pytest.mark.parametrize("case", MALFORMED_CLOSES)
def test_malformed_close_frame_is_answered_with_a_close_then_an_orderly_end(
    server: Server, site: Path, kind: str, case: str
) -> None:
    """RFC 6455 §7.4.1: 1002 for a protocol error, 1007 for a reason that is not UTF-8.

    Not a TCP reset, which would leave the client without the reason.
    """
    payload, code = MALFORMED_CLOSES[case]
    tag = f"bad-close-{kind}-{case}"
    with raw_websocket(server, f"/echo?kind={kind}&tag={tag}") as sock:
        sock.sendall(masked_frame(0x8, payload))
        assert read_close_code(sock) == code
        assert sock.recv(65536) == b""
    assert wait_for(marker(site, tag).exists)


@pytest.mark.parametrize("kind", ["queue", "async"])
def test_frame_over_16_mib_closes_the_connection_with_1009(server: Server, kind: str) -> None:
    """Refused from the frame header alone: nothing that large is read, let alone kept."""
    with raw_websocket(server, f"/echo?kind={kind}") as sock:
        header = struct.pack("!BBQ", 0x82, 0x80 | 127, SIXTEEN_MIB + 1) + b"\0\0\0\0"
        sock.sendall(header + b"\0" * 1024)
        assert read_close_code(sock) == 1009


@pytest.mark.parametrize("kind", ["queue", "async"])
def test_message_over_16_mib_in_fragments_closes_the_connection_with_1009(
    server: Server, kind: str
) -> None:
    ws = connect(server, f"/echo?kind={kind}")
    first = websocket.ABNF.create_frame(b"\0" * SIXTEEN_MIB, websocket.ABNF.OPCODE_BINARY, fin=0)
    ws.send_frame(first)
    ws.send_frame(websocket.ABNF.create_frame(b"\0", websocket.ABNF.OPCODE_CONT, fin=1))
    assert close_code(ws) == 1009


def test_two_hundred_async_connections_echo_at_once(server: Server) -> None:
    sockets = [connect(server, "/async-echo") for _ in range(200)]
    try:
        for number, ws in enumerate(sockets):
            ws.send(f"message {number}")
        assert [ws.recv() for ws in sockets] == [f"message {n}" for n in range(200)]
    finally:
        for ws in sockets:
            ws.close()


def test_upgrade_gets_503_while_every_websocket_thread_is_busy(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    """Refused before the handshake, never left hanging; the thread is free again later."""
    server = serve(echo_site(tmp_path / "site"), "--ws-threads", "1")
    holder = connect(server)
    holder.send("hold")
    assert holder.recv() == "hold"
    status, _, closed = raw_upgrade(server, "/echo")
    assert status == 503
    assert closed
    holder.close()

    def upgrade_accepted() -> bool:
        return raw_upgrade(server, "/echo?kind=queue")[0] == 101

    assert wait_for(upgrade_accepted)


def test_on_start_that_runs_its_own_thread_gets_on_thread_start_once(server: Server) -> None:
    """Seed 000: on_thread_start is started by on_start; krait starts no second one."""
    ws = connect(server, "/echo?kind=own-thread")
    try:
        assert ws.recv() == "runs=1"
        ws.settimeout(0.5)
        with pytest.raises(websocket.WebSocketTimeoutException):
            ws.recv()
    finally:
        ws.close()


def test_on_start_that_skips_the_base_gets_no_on_thread_start(server: Server) -> None:
    ws = connect(server, "/echo?kind=no-base-start")
    try:
        ws.send("first")
        assert ws.recv() == "first"
        ws.settimeout(0.3)
        with pytest.raises(websocket.WebSocketTimeoutException):
            ws.recv()
    finally:
        ws.close()


def test_ws_threads_counts_connections_whatever_the_controller_overrides(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    """--ws-threads 2 admits two controllers that have a thread and on_in_message, and
    controllers with only on_in_message need no WebSocket thread at all."""
    server = serve(echo_site(tmp_path / "site"), "--ws-threads", "2")
    tickers = [connect(server, "/echo?kind=event-ticker") for _ in range(2)]
    events = [connect(server, "/echo?kind=event") for _ in range(3)]
    try:
        for number, ws in enumerate(tickers):
            assert ws.recv() == "tick"
            ws.send(f"to ticker {number}")
            assert ws.recv() == f"to ticker {number}"
        for number, ws in enumerate(events):
            ws.send(f"to event {number}")
            assert ws.recv() == f"to event {number}"
        assert raw_upgrade(server, "/echo?kind=event-ticker")[0] == 503
    finally:
        for ws in tickers + events:
            ws.close()


def test_async_connections_need_no_websocket_thread(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve(echo_site(tmp_path / "site"), "--ws-threads", "1")
    sockets = [connect(server, "/async-echo") for _ in range(5)]
    try:
        for ws in sockets:
            ws.send("hi")
            assert ws.recv() == "hi"
    finally:
        for ws in sockets:
            ws.close()


def test_stopping_the_server_closes_open_connections_with_1001_and_exits(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    site = echo_site(tmp_path / "site")
    server = serve(site)
    sockets = {kind: connect(server, f"/echo?kind={kind}&tag=stop-{kind}") for kind in KINDS}
    for ws in sockets.values():
        ws.send("ready?")
        assert ws.recv() == "ready?"
    codes: dict[str, int | None] = {}

    def read_close(kind: str, ws: websocket.WebSocket) -> None:
        codes[kind] = close_code(ws)

    readers = [threading.Thread(target=read_close, args=item) for item in sockets.items()]
    for reader in readers:
        reader.start()
    assert server.stop(timeout=15) == 0
    for reader in readers:
        reader.join(5)
    assert codes == dict.fromkeys(KINDS, 1001)
    assert all(marker(site, f"stop-{kind}").exists() for kind in KINDS)


def test_max_message_size_option_closes_bigger_messages_with_1009(
    site: Path, tmp_path: Path
) -> None:
    small = start_server(site, tmp_path / "log", "--ws-max-message-size", "1000")
    try:
        ws = connect(small)
        ws.send("x" * 1000)
        assert ws.recv() == "x" * 1000
        ws.send("x" * 1001)
        assert close_code(ws) == 1009
    finally:
        small.stop()


def test_allowed_origins_option_refuses_other_origins_with_403(site: Path, tmp_path: Path) -> None:
    guarded = start_server(site, tmp_path / "log", "--ws-allowed-origins", "https://*.example.com")
    try:
        status, _head, _closed = raw_upgrade(guarded, "/echo", Origin="https://evil.test")
        assert status == 403
        ws = connect(guarded, origin="https://app.example.com")
        ws.send("hello")
        assert ws.recv() == "hello"
    finally:
        guarded.stop()


def test_a_controller_thread_that_never_stops_does_not_hang_shutdown(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    site = echo_site(tmp_path / "site")
    server = serve(site)
    ws = connect(server, "/echo?kind=stuck")
    try:
        assert server.stop(timeout=40) == 0
    finally:
        ws.close()
    assert "leaving them behind" in server.stderr()
    assert "never checked should_stop()" in server.stderr()  # the log says which and why


def _count_marker(site: Path, tag: str, what: str) -> int:
    assert wait_for(lambda: any((site / ".markers").glob(f"{tag}.{what}-*")))
    (found,) = (site / ".markers").glob(f"{tag}.{what}-*")
    return int(found.name.rsplit("-", 1)[1])


def test_a_thread_pushing_without_pause_does_not_hold_up_other_requests(server: Server) -> None:
    ws = connect(server, "/echo?kind=tiny-pusher")
    try:
        for _ in range(5):
            page = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/echo", timeout=10)
            assert page.read() == b"plain GET: no upgrade"
    finally:
        ws.close(timeout=1)


@pytest.mark.parametrize(("kind", "what"), [("pusher", "pushed"), ("async-pusher", "sent")])
def test_a_client_that_does_not_read_makes_a_sending_controller_wait(
    server: Server, site: Path, kind: str, what: str
) -> None:
    tag = f"unread-{kind}"
    ws = connect(server, f"/echo?kind={kind}&tag={tag}")
    time.sleep(1.5)  # reads nothing meanwhile
    ws.sock.close()
    # 64 KiB messages: what fits in krait's 1 MiB and the sockets' buffers, not gigabytes.
    assert _count_marker(site, tag, what) < 400


def test_a_client_flooding_a_controller_whose_thread_returned_can_still_close(
    server: Server, site: Path
) -> None:
    ws = connect(server, "/echo?kind=push-only&tag=flooded")
    for _ in range(400):
        ws.send("f" * 4096)  # 1.6 MB: over the queue's marks, and nobody pops
    ws.close()
    assert wait_for(marker(site, "flooded").exists)
