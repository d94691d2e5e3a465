"""The client's address as scripts and the access log see it: the peer, the client a trusted
proxy names, or the one a PROXY-protocol header names (krait additions)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from conftest import Server, free_port, write_site

SITE = {
    ".py/init.py": "",
    "who.py": (
        "r = krait.request\n"
        "return {'addr': r.remote_addr, 'port': r.remote_port, 'scheme': r.scheme}\n"
    ),
}
FORWARDED = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9", "X-Forwarded-Proto": "https"}


def who(server: Server, headers: dict[str, str]) -> dict[str, object]:
    response = requests.get(server.url + "/who", headers=headers, timeout=10)
    assert response.status_code == 200
    return dict(response.json())


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_claims(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve(write_site(tmp_path / "site", SITE))
    seen = who(server, FORWARDED)
    assert seen["addr"] == "127.0.0.1"
    assert isinstance(seen["port"], int)
    assert seen["scheme"] == "http"


def test_a_trusted_proxy_names_the_client_to_scripts_and_the_access_log(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve(write_site(tmp_path / "site", SITE), "--trusted-proxies", "127.0.0.1/32,::1")
    assert who(server, FORWARDED) == {"addr": "203.0.113.9", "port": None, "scheme": "https"}
    server.stop()
    assert "203.0.113.9 - - [" in server.stdout()


def test_the_proxy_protocol_endpoint_gives_the_client_address(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    port = free_port()
    serve(
        write_site(tmp_path / "site", SITE),
        "--listen",
        f"haproxy:tcp:{port}:interface=127.0.0.1",
        port=port,
        listen=False,
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n"
            b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {
        "addr": "203.0.113.7",
        "port": 40000,
        "scheme": "http",
    }


def test_trusted_proxies_must_be_addresses(serve: Callable[..., Server], tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"'proxy\.example' is not an IP address or network"):
        serve(write_site(tmp_path / "site", SITE), "--trusted-proxies", "proxy.example")
