"""Channels end to end: real krait processes, real Redis, websocket-client subscribers.

The site has a threaded and an asynchronous controller that subscribe to the room in their
URL and obey commands (``join``, ``leave``, ``publish``, ``pid``), a page that publishes, and
an ``init.py`` that starts a thread publishing ``tick`` messages.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket
from conftest import RedisServer, Server, start_redis, start_server, wait_for, write_site

INIT = """\
import os
import threading
import time

import krait
from krait.config import Route

krait.config.routes = [
    Route("WEBSOCKET", url="/threaded", target="socket.py"),
    Route("WEBSOCKET", url="/async", target="socket.py"),
    Route("GET", url="/publish", target="publish.py"),
    Route(),
]
krait.config.pubsub_url = os.environ.get("CHANNELS_TEST_REDIS") or None


def tick():
    number = 0
    while True:
        number += 1
        krait.websockets.publish("ticks", f"tick {number}")
        time.sleep(0.1)


threading.Thread(target=tick, daemon=True).start()
"""

ROOMS = """\
import os

import krait
from krait.websockets import WebsocketsAsyncCtrlBase, WebsocketsCtrlBase


def obey(ctrl, message, answer):
    command, _, argument = message.partition(" ")
    if command == "join":
        ctrl.subscribe(argument)
    elif command == "leave":
        ctrl.unsubscribe(argument)
    elif command == "publish":
        room, _, text = argument.partition(" ")
        krait.websockets.publish(room, text)
    answer(f"{command} done by {os.getpid()}")


class ThreadedRoom(WebsocketsCtrlBase):
    def __init__(self, room):
        super().__init__(use_in_message_queue=False)
        self.subscribe(room)

    def on_in_message(self, message):
        obey(self, message, self.push_out_message)


class AsyncRoom(WebsocketsAsyncCtrlBase):
    def __init__(self, room):
        self.room = room

    def on_open(self):
        self.subscribe(self.room)

    def on_message(self, message):
        obey(self, message, self.send)
"""

SOCKET = """\
from rooms import AsyncRoom, ThreadedRoom

kind = ThreadedRoom if krait.request.url == "/threaded" else AsyncRoom
room = krait.request.query.get("room", "lobby")
krait.websockets.response = krait.websockets.WebsocketsResponse(kind(room))
"""

PUBLISH = """\
query = krait.request.query
text = query.get("text", "") * int(query.get("repeat", "1"))
message = text.encode() if query.get("binary") else text
for number in range(int(query.get("count", "1"))):
    krait.websockets.publish(query["room"], message)
krait.response = krait.ResponseJson({"published": query["room"]})
"""

KINDS = ["threaded", "async"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_site(
        tmp_path_factory.mktemp("channels_site"),
        {".py/init.py": INIT, ".py/rooms.py": ROOMS, "socket.py": SOCKET, "publish.py": PUBLISH},
    )


@pytest.fixture(scope="module")
def server(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One in-process-channels server for the tests that leave it as they found it."""
    running = start_server(site, tmp_path_factory.mktemp("channels_logs"), "--no-access-log")
    yield running
    running.stop()


def subscribe(server: Server, kind: str, room: str) -> websocket.WebSocket:
    """A connection subscribed to ``room``, once its subscription is surely made."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/{kind}?room={room}", timeout=10)
    assert command(ws, "pid").startswith("pid done")  # the subscription was made before
    return ws


def command(ws: websocket.WebSocket, text: str) -> str:
    """Send a command and return its answer, skipping channel messages before it."""
    ws.send(text)
    while True:
        answer = ws.recv()
        if isinstance(answer, str) and " done by " in answer:
            return answer


def publish(server: Server, room: str, text: str = "", **extra: str) -> None:
    query = urllib.parse.urlencode({"room": room, "text": text, **extra})
    with urllib.request.urlopen(f"{server.url}/publish?{query}", timeout=10) as answer:
        assert answer.status == 200


def receive(ws: websocket.WebSocket, count: int) -> list[str | bytes]:
    return [ws.recv() for _ in range(count)]


def read_into(ws: websocket.WebSocket, count: int, sizes: list[int]) -> None:
    """Read ``count`` messages, appending each one's size (a reader thread's progress)."""
    for _ in range(count):
        sizes.append(len(ws.recv()))


def test_a_script_publishes_text_and_binary_to_subscribers_of_both_kinds(server: Server) -> None:
    subscribers = [subscribe(server, kind, "script-room") for kind in KINDS]
    publish(server, "script-room", "hello")
    publish(server, "script-room", "bytes", binary="1")
    publish(server, "another-room", "not for them")
    publish(server, "script-room", "last")
    for ws in subscribers:
        assert receive(ws, 3) == ["hello", b"bytes", "last"]
        ws.close()


@pytest.mark.parametrize(("sender", "receiver"), [("threaded", "async"), ("async", "threaded")])
def test_controllers_publish_to_each_other(server: Server, sender: str, receiver: str) -> None:
    room = f"from-{sender}"
    listening = subscribe(server, receiver, room)
    speaking = subscribe(server, sender, "elsewhere")
    command(speaking, f"publish {room} hi from {sender}")
    assert listening.recv() == f"hi from {sender}"


def test_a_thread_started_by_init_py_publishes_to_subscribers(server: Server) -> None:
    ws = subscribe(server, "async", "ticks")
    first, second = receive(ws, 2)
    assert str(first).startswith("tick ") and str(second).startswith("tick ")
    ws.close()


@pytest.mark.parametrize("kind", KINDS)
def test_after_unsubscribing_nothing_more_arrives(server: Server, kind: str) -> None:
    leaving = subscribe(server, kind, f"leave-{kind}")
    staying = subscribe(server, kind, f"leave-{kind}")
    command(leaving, f"leave leave-{kind}")
    publish(server, f"leave-{kind}", "after")
    assert staying.recv() == "after"
    # The leaver's next frame is its own command's answer, not the message.
    assert command(leaving, "pid").startswith("pid done")
    leaving.settimeout(0.3)
    with pytest.raises(websocket.WebSocketTimeoutException):
        leaving.recv()


def test_a_closed_subscriber_leaves_the_others_served(server: Server) -> None:
    closing = [subscribe(server, kind, "closing-room") for kind in KINDS]
    staying = subscribe(server, "async", "closing-room")
    for ws in closing:
        ws.close()
    for number in range(3):
        publish(server, "closing-room", f"m{number}")
    assert receive(staying, 3) == ["m0", "m1", "m2"]


def test_a_bad_channel_name_from_a_script_fails_the_page_and_logs_the_rule(server: Server) -> None:
    with pytest.raises(urllib.error.HTTPError) as failed:
        publish(server, "")
    assert failed.value.code == 500
    assert wait_for(lambda: "1 to 256 characters" in server.stderr(), 5)


def raw_subscriber(port: int, kind: str, room: str) -> socket.socket:
    """A subscriber that never reads: a raw socket with a small receive buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET /{kind}?room={room} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    return sock


def bytes_until_dropped(sock: socket.socket) -> int:
    """Read what the server still sends until it drops the connection; how much it was.

    The Close (1008) waits behind what the client did not read, so a client that never
    reads may not see it before the server gives up on the closing handshake and resets.
    """
    sock.settimeout(10)
    total = 0
    try:
        while chunk := sock.recv(65536):
            total += len(chunk)
    except ConnectionResetError:
        pass
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("kind", KINDS)
def test_a_subscriber_that_does_not_read_is_closed_with_1008_and_memory_stays_bounded(
    site: Path, tmp_path: Path, kind: str
) -> None:
    server = start_server(
        site, tmp_path / "logs", "--no-access-log", "--ws-channel-backlog", str(256 * 1024)
    )
    try:
        reader = subscribe(server, "async", "flood")
        stalled = raw_subscriber(server.port, kind, "flood")
        time.sleep(0.3)  # the raw subscriber's subscription is made on the reactor
        sizes: list[int] = []
        reading = threading.Thread(target=read_into, args=(reader, 4000, sizes))
        reading.start()
        before = rss_kib(server.process.pid)
        # 40 MiB published, in bursts of ten 10 KiB messages, each once the reader has taken
        # the one before (so it never falls 256 KiB behind).
        for burst in range(400):
            wanted = 10 * (burst - 1)
            assert wait_for(lambda: len(sizes) >= wanted, 10), (burst, len(sizes))  # noqa: B023
            publish(server, "flood", "x", repeat="10240", count="10")
        reading.join(60)
        grown = rss_kib(server.process.pid) - before
        assert sizes == [10240] * 4000
        assert bytes_until_dropped(stalled) < 8 * 1024 * 1024  # not the 40 MiB
        assert grown < 20 * 1024, f"the server grew by {grown} KiB"
        assert "with 1008: more than 262144 bytes" in server.stderr()
        assert server.stderr().count("with 1008") == 1  # the reader was never closed
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (("--pubsub-url", "http://127.0.0.1:6379"), "must start with redis://"),
        (("--ws-channel-backlog", "0"), "ws-channel-backlog"),
    ],
)
def test_a_bad_channel_option_is_refused_at_start(
    site: Path, tmp_path: Path, option: tuple[str, str], says: str
) -> None:
    server = start_server(site, tmp_path / "logs", *option, wait=False)
    assert server.process.wait(30) != 0
    assert says in server.stderr() + server.stdout()


def test_a_bad_pubsub_url_in_init_py_stops_the_site_with_the_fix(
    site: Path, tmp_path: Path
) -> None:
    server = start_server(
        site, tmp_path / "logs", env={"CHANNELS_TEST_REDIS": "redis://:6379"}, wait=False
    )
    assert server.process.wait(30) == 1
    assert "names no host" in server.stderr()
    assert "fix: set krait.config.pubsub_url" in server.stderr()


def redis_subscribers(redis: RedisServer, channel: str) -> int:
    done = subprocess.run(
        ["redis-cli", "-p", str(redis.port), "pubsub", "numsub", channel],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return int(done.stdout.split()[1])


def test_two_workers_reach_each_others_subscribers_through_redis(
    site: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    server = start_server(
        site, tmp_path / "logs", "--workers", "2", "--pubsub-url", redis_server.url
    )
    try:
        assert wait_for(lambda: server.stderr().count("is ready") >= 2, 60)
        by_worker: dict[str, list[websocket.WebSocket]] = {}
        for attempt in range(60):
            ws = subscribe(server, KINDS[attempt % 2], "workers")
            by_worker.setdefault(command(ws, "pid").split()[-1], []).append(ws)
            if len(by_worker) == 2 and min(map(len, by_worker.values())) >= 2:
                break
        assert len(by_worker) == 2, "every connection landed on one worker"
        for number in range(5):
            publish(server, "workers", f"text {number}")
        publish(server, "workers", "\x00binary", binary="1")
        # And a controller publishes in its worker, for the other worker's subscribers too.
        speaker = subscribe(server, "threaded", "elsewhere")
        command(speaker, "publish workers from a controller")
        expected = [f"text {number}" for number in range(5)]
        expected += [b"\x00binary", "from a controller"]
        for connections in by_worker.values():
            for ws in connections:
                assert receive(ws, 7) == expected
    finally:
        server.stop()


def test_two_sites_share_redis_from_init_py_and_subscribe_only_where_needed(
    site: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    env = {"CHANNELS_TEST_REDIS": redis_server.url}
    first = start_server(site, tmp_path / "first", env=env)
    second = start_server(site, tmp_path / "second", env=env)
    try:
        listener = subscribe(second, "threaded", "shared")
        assert wait_for(lambda: redis_subscribers(redis_server, "krait:0:shared") == 1)
        publish(first, "shared", "across machines")
        assert listener.recv() == "across machines"
        listener.close()
        assert wait_for(lambda: redis_subscribers(redis_server, "krait:0:shared") == 0)
    finally:
        first.stop()
        second.stop()


def test_delivery_resumes_after_redis_restarts(site: Path, tmp_path: Path) -> None:
    redis = start_redis(tmp_path)
    server = start_server(site, tmp_path / "logs", "--pubsub-url", redis.url)
    try:
        ws = subscribe(server, "async", "restart")
        publish(server, "restart", "before")
        assert ws.recv() == "before"
        redis.process.terminate()
        redis.process.wait(10)
        assert wait_for(lambda: "lost the connection to Redis" in server.stderr())
        publish(server, "restart", "during")  # waits in krait's backlog
        redis = restart_redis(redis, tmp_path)
        assert wait_for(lambda: server.stderr().count("is back after") >= 2)
        got = [ws.recv()]
        publish(server, "restart", "after")
        got += [ws.recv()]
        assert got == ["during", "after"]
        # ("during" and the ticks init.py's thread published meanwhile)
        assert re.search(
            r"sent \d+ message\(s\) published while Redis was unreachable; 0 more", server.stderr()
        )
        assert server.process.poll() is None
    finally:
        server.stop()
        redis.process.terminate()
        redis.process.wait(10)


def restart_redis(old: RedisServer, directory: Path) -> RedisServer:
    """A new redis-server on the old one's port."""
    process = subprocess.Popen(
        [
            *("redis-server", "--port", str(old.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(directory)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return RedisServer(old.port, process)
