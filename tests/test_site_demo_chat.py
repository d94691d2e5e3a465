"""The demo site's chat without a browser: its page, and its room at ``/chat/socket`` driven by
websocket-client over a real krait server."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator

import pytest
import requests
import websocket
from conftest import REPO, Server, start_server


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(REPO / "site_demo", tmp_path_factory.mktemp("chat-logs"))
    yield server
    server.stop()


@pytest.fixture
def join(demo: Server) -> Iterator[object]:
    """A function that connects a client to the room; every client is closed after the test.

    A client is in the room once it has heard its own hello, so whatever is sent afterwards
    reaches it (the room broadcasts in order, on the server's event loop).
    """
    clients: list[websocket.WebSocket] = []

    def _join(name: str) -> websocket.WebSocket:
        client = websocket.create_connection(f"ws://127.0.0.1:{demo.port}/chat/socket", timeout=10)
        clients.append(client)
        say(client, name, f"{name} joined")
        receive_until(client, {"name": name, "text": f"{name} joined"})
        return client

    yield _join
    for client in clients:
        client.close()


def say(client: websocket.WebSocket, name: str, text: str) -> None:
    client.send(json.dumps({"name": name, "text": text}))


def receive_until(client: websocket.WebSocket, expected: dict[str, str]) -> None:
    """Read chat messages until ``expected`` arrives (others may join meanwhile)."""
    while (message := json.loads(client.recv())) != expected:
        assert message["text"].endswith(" joined"), f"unexpected {message!r}"


def close_code(client: websocket.WebSocket) -> int:
    """Read up to the server's Close frame and return its status code."""
    while True:
        opcode, data = client.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int(struct.unpack("!H", data[:2])[0])


def test_chat_page_has_the_shared_header_and_loads_the_client(demo: Server) -> None:
    response = requests.get(demo.url + "/chat")
    assert response.status_code == 200
    page = response.text
    assert "<title>Chat &middot; Krait demo</title>" in page
    assert '<a href="/chat" aria-current="page">Chat</a>' in page
    assert "served by ChatCtrl</footer>" in page
    assert 'data-socket="/chat/socket"' in page
    assert '<script src="/js/chat.js"></script>' in page
    script = requests.get(demo.url + "/js/chat.js")
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "textContent" in script.text
    assert "innerHTML" not in script.text


def test_every_client_in_the_room_receives_a_message_the_sender_included(join: object) -> None:
    ann, bob = join("Ann"), join("Bob")  # type: ignore[operator]
    receive_until(ann, {"name": "Bob", "text": "Bob joined"})
    say(ann, "Ann", "hello <b>x</b>")
    expected = {"name": "Ann", "text": "hello <b>x</b>"}
    assert json.loads(bob.recv()) == expected
    assert json.loads(ann.recv()) == expected


def test_the_room_goes_on_when_clients_leave_or_drop(join: object) -> None:
    ann, bob, cy, dee = (join(name) for name in ["Ann", "Bob", "Cy", "Dee"])  # type: ignore[operator]
    receive_until(ann, {"name": "Dee", "text": "Dee joined"})
    bob.close()
    cy.sock.shutdown(socket.SHUT_RDWR)  # gone without a Close frame
    say(dee, "Dee", "anyone left?")
    expected = {"name": "Dee", "text": "anyone left?"}
    assert json.loads(ann.recv()) == expected
    assert json.loads(dee.recv()) == expected


def test_names_are_trimmed_and_blank_texts_are_not_sent(join: object) -> None:
    ann = join("Ann")  # type: ignore[operator]
    say(ann, "   ", "   ")
    say(ann, "  Ann  ", "spaces kept ")
    say(ann, " ", "who?")
    assert json.loads(ann.recv()) == {"name": "Ann", "text": "spaces kept "}
    assert json.loads(ann.recv()) == {"name": "anonymous", "text": "who?"}


@pytest.mark.parametrize(
    ("message", "code"),
    [("not json", 1008), ('["a list"]', 1008), ('{"name": 1, "text": "x"}', 1008), (b"\x00", 1003)],
)
def test_a_message_that_is_not_a_chat_message_closes_the_connection(
    join: object, message: str | bytes, code: int
) -> None:
    ann = join("Ann")  # type: ignore[operator]
    if isinstance(message, bytes):
        ann.send_binary(message)
    else:
        ann.send(message)
    assert close_code(ann) == code


@pytest.mark.parametrize("path", ["/chat/socket", "/chat_socket.py"])
def test_a_plain_get_of_the_socket_asks_for_an_upgrade(demo: Server, path: str) -> None:
    response = requests.get(demo.url + path)
    assert response.status_code == 426
    assert response.headers["Upgrade"] == "websocket"
    assert "open /chat in a browser" in response.text
