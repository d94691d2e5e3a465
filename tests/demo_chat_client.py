"""A client of site_demo's chat, as a browser is: requests for the name form, websocket-client
for the room. Shared by the demo's own tests and the scale-out test, which runs the demo behind
nginx."""

from __future__ import annotations

import json
import struct

import requests
import websocket


def sign_in(base_url: str, name: str) -> requests.Session:
    """A browser-like session that has chosen ``name`` on the chat page."""
    session = requests.Session()
    answer = session.post(base_url + "/chat/name", data={"name": name}, timeout=10)
    assert answer.status_code == 200 and answer.url.endswith("/chat")
    return session


def cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)


def connect(ws_url: str, session: requests.Session | None) -> websocket.WebSocket:
    cookie = cookie_header(session) if session is not None else None
    return websocket.create_connection(ws_url, timeout=10, cookie=cookie)


def say(client: websocket.WebSocket, text: str) -> None:
    client.send(json.dumps({"text": text}))


def receive_until(client: websocket.WebSocket, expected: dict[str, str]) -> None:
    """Read chat messages until ``expected`` arrives (others may join meanwhile)."""
    while (message := json.loads(client.recv())) != expected:
        assert message["text"].endswith(" joined"), f"unexpected {message!r}"


def wait_until_in_the_room(client: websocket.WebSocket, name: str) -> None:
    """Say hello until the client hears it, so that it hears whatever is said afterwards.

    With Redis a subscription takes effect a round trip after the connection opens, and a
    hello published before that is lost: it is said again, each try bounded by a second.
    """
    hello = {"name": name, "text": f"{name} joined"}
    client.settimeout(1)
    try:
        for _ in range(20):
            say(client, hello["text"])
            try:
                receive_until(client, hello)
            except websocket.WebSocketTimeoutException:
                continue
            return
    finally:
        client.settimeout(10)
    raise AssertionError(f"{name} never heard its own hello")


def close_frame(client: websocket.WebSocket) -> tuple[int, str]:
    """Read up to the server's Close frame and return its status code and reason."""
    while True:
        opcode, data = client.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int(struct.unpack("!H", data[:2])[0]), data[2:].decode()
