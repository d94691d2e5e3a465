"""The demo site's chat without a browser: its page, its name form and its room at
``/chat/socket``, driven by requests and websocket-client over a real krait server (and a real
Redis, for the room across workers).

A client's name lives in its session: :func:`sign_in` posts it to ``/chat/name`` and the
session cookie goes with the WebSocket upgrade."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import websocket
from conftest import REPO, RedisServer, Server, start_server
from demo_chat_client import (
    close_frame,
    connect,
    receive_until,
    say,
    sign_in,
    wait_until_in_the_room,
)

Join = Callable[[str], websocket.WebSocket]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(REPO / "site_demo", tmp_path_factory.mktemp("chat-logs"))
    yield server
    server.stop()


def make_join(ws_url: str, base_url: str) -> tuple[Join, list[websocket.WebSocket]]:
    clients: list[websocket.WebSocket] = []

    def _join(name: str) -> websocket.WebSocket:
        client = connect(ws_url, sign_in(base_url, name))
        clients.append(client)
        wait_until_in_the_room(client, name)
        return client

    return _join, clients


@pytest.fixture
def join(demo: Server) -> Iterator[Join]:
    """A function that signs a client in under a name and connects it to the room; every
    client is closed after the test."""
    _join, clients = make_join(f"ws://127.0.0.1:{demo.port}/chat/socket", demo.url)
    yield _join
    for client in clients:
        client.close()


def test_chat_page_asks_for_a_name_before_it_loads_the_client(demo: Server) -> None:
    response = requests.get(demo.url + "/chat", timeout=10)
    assert response.status_code == 200
    page = response.text
    assert "<title>Chat &middot; Krait demo</title>" in page
    assert '<a href="/chat" aria-current="page">Chat</a>' in page
    assert "served by ChatCtrl</footer>" in page
    assert '<form id="name-form" method="post" action="/chat/name">' in page
    assert '<script src="/js/chat.js">' not in page
    assert "Cookie" in response.headers["Vary"]


def test_a_chosen_name_is_kept_in_the_session_and_shown_escaped(demo: Server) -> None:
    session = sign_in(demo.url, "  <i>Ann</i>  ")
    page = session.get(demo.url + "/chat", timeout=10).text
    assert "You are <strong>&lt;i&gt;Ann&lt;/i&gt;</strong>." in page
    assert 'data-socket="/chat/socket"' in page
    assert '<script src="/js/chat.js"></script>' in page
    script = requests.get(demo.url + "/js/chat.js", timeout=10)
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "textContent" in script.text
    assert "innerHTML" not in script.text


def test_a_blank_name_changes_nothing(demo: Server) -> None:
    session = sign_in(demo.url, "Ann")
    session.post(demo.url + "/chat/name", data={"name": "   "}, timeout=10)
    assert "You are <strong>Ann</strong>." in session.get(demo.url + "/chat", timeout=10).text


def test_every_client_in_the_room_receives_a_message_under_the_sender_s_name(
    join: Join,
) -> None:
    ann, bob = join("Ann"), join("Bob")
    receive_until(ann, {"name": "Bob", "text": "Bob joined"})
    say(ann, "hello <b>x</b>")
    expected = {"name": "Ann", "text": "hello <b>x</b>"}
    assert json.loads(bob.recv()) == expected
    assert json.loads(ann.recv()) == expected
    say(bob, "hi Ann")
    assert json.loads(ann.recv()) == {"name": "Bob", "text": "hi Ann"}


def test_a_client_cannot_speak_under_another_name(join: Join) -> None:
    ann, bob = join("Ann"), join("Bob")
    receive_until(ann, {"name": "Bob", "text": "Bob joined"})
    bob.send(json.dumps({"name": "Ann", "text": "I am Ann, honest"}))
    expected = {"name": "Bob", "text": "I am Ann, honest"}
    assert json.loads(ann.recv()) == expected
    assert json.loads(bob.recv()) == expected


def test_a_socket_without_a_name_in_its_session_is_closed_with_the_reason(demo: Server) -> None:
    for session in (None, requests.Session()):
        client = connect(f"ws://127.0.0.1:{demo.port}/chat/socket", session)
        assert close_frame(client) == (1008, "no name: choose one on the /chat page first")


def test_the_room_goes_on_when_clients_leave_or_drop(join: Join) -> None:
    ann, bob, cy, dee = (join(name) for name in ["Ann", "Bob", "Cy", "Dee"])
    receive_until(ann, {"name": "Dee", "text": "Dee joined"})
    bob.close()
    cy.sock.shutdown(socket.SHUT_RDWR)  # gone without a Close frame
    say(dee, "anyone left?")
    expected = {"name": "Dee", "text": "anyone left?"}
    assert json.loads(ann.recv()) == expected
    assert json.loads(dee.recv()) == expected


def test_blank_texts_are_not_sent_and_long_ones_are_cut(join: Join) -> None:
    ann = join("Ann")
    say(ann, "   ")
    say(ann, "spaces kept ")
    say(ann, "x" * 1500)
    assert json.loads(ann.recv()) == {"name": "Ann", "text": "spaces kept "}
    assert json.loads(ann.recv()) == {"name": "Ann", "text": "x" * 1000}


@pytest.mark.parametrize(
    ("message", "code"),
    [("not json", 1008), ('["a list"]', 1008), ('{"text": 1}', 1008), (b"\x00", 1003)],
)
def test_a_message_that_is_not_a_chat_message_closes_the_connection(
    join: Join, message: str | bytes, code: int
) -> None:
    ann = join("Ann")
    if isinstance(message, bytes):
        ann.send_binary(message)
    else:
        ann.send(message)
    assert close_frame(ann)[0] == code


@pytest.mark.parametrize("path", ["/chat/socket", "/chat_socket.py"])
def test_a_plain_get_of_the_socket_asks_for_an_upgrade(demo: Server, path: str) -> None:
    response = requests.get(demo.url + path, timeout=10)
    assert response.status_code == 426
    assert response.headers["Upgrade"] == "websocket"
    assert "open /chat in a browser" in response.text


def worker_holding(server: Server, client: websocket.WebSocket) -> int:
    """The pid of the worker process that holds the server end of ``client``'s connection.

    Found in /proc: the kernel's TCP table gives the socket's inode from the two ports, and
    the worker that has that inode among its file descriptors holds it.
    """
    client_port = client.sock.getsockname()[1]
    inode = None
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
            if (local, remote) == (server.port, client_port) and fields[3] == "01":
                inode = fields[9]
    assert inode is not None, f"no server socket for client port {client_port}"
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    for pid in children.read_text().split():
        if f"socket:[{inode}]" in open_files(int(pid)):
            return int(pid)
    raise AssertionError(f"no worker holds socket {inode}")


def open_files(pid: int) -> set[str]:
    """What process ``pid``'s file descriptors point at, skipping any closed while listed.

    A worker opens and closes descriptors all the time (its Redis connection, other clients),
    so one listed by ``/proc/<pid>/fd`` may be gone a moment later.
    """
    targets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            targets.add(os.readlink(fd))
        except FileNotFoundError:
            continue
    return targets


@pytest.mark.parametrize("named_by", ["--pubsub-url", "KRAIT_DEMO_PUBSUB_URL"])
def test_the_room_spans_the_workers_through_redis(
    tmp_path: Path, redis_server: RedisServer, named_by: str
) -> None:
    """With ``--workers 2`` each worker has its own connections: the room joins them, with
    Redis named on the command line or in the demo's environment variable.

    Clients are added until both workers hold one (the kernel picks the worker). The session
    key is the demo's fallback, which both workers must share for either to read the names.
    """
    url = redis_server.url.removesuffix("/0") + "/7"
    flag = [named_by, url] if named_by.startswith("--") else []
    env = {} if flag else {named_by: url}
    server = start_server(REPO / "site_demo", tmp_path / "logs", "--workers", "2", *flag, env=env)
    join, clients = make_join(f"ws://127.0.0.1:{server.port}/chat/socket", server.url)
    try:
        ann = join("Ann")
        other = None
        for number in range(50):
            client = join(f"guest{number}")
            if worker_holding(server, client) != worker_holding(server, ann):
                other = client
                break
        assert other is not None, "the kernel gave every connection to the same worker"
        say(ann, "hello, every worker")
        for client in (ann, other):
            receive_until(client, {"name": "Ann", "text": "hello, every worker"})
    finally:
        for client in clients:
            client.close()
        server.stop()
