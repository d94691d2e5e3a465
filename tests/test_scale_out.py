"""The scale-out recipe of docs/deployment.md, run as written: nginx in front of two krait
instances whose channels meet on one Redis.

The nginx block is read out of the documentation (only the ports are changed), so the page
and this test cannot drift apart. nginx, redis-server, both krait instances and the clients
are real processes on loopback; the last test runs site_demo's chat across the instances.
The client connects from 127.0.0.2 so that the address krait reports can only have come from
nginx's ``X-Forwarded-For``: nginx itself connects from 127.0.0.1, the one trusted peer.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import websocket
from conftest import (
    REPO,
    RedisServer,
    Server,
    free_port,
    start_server,
    wait_for,
    wait_for_port,
    write_site,
)
from demo_chat_client import connect, receive_until, say, sign_in, wait_until_in_the_room

CLIENT_ADDRESS = "127.0.0.2"
"""The client's source address: on loopback, but not the proxy's."""

INIT = """\
import krait
from krait.config import Route

krait.config.routes = [Route("WEBSOCKET", url="/socket", target="socket.py"), Route()]
"""

SOCKET = """\
import os
import krait
from krait.websockets import WebsocketsAsyncCtrlBase


class Hello(WebsocketsAsyncCtrlBase):
    def on_open(self):
        self.send(os.environ["INSTANCE"])

    def on_message(self, message):
        self.send(os.environ["INSTANCE"] + ":" + message)


krait.websockets.response = krait.websockets.WebsocketsResponse(Hello())
"""

SITE = {
    ".py/init.py": INIT,
    "whoami.py": (
        "import os\nreturn os.environ['INSTANCE'] + ' ' + krait.request.remote_addr + ' '"
        " + krait.request.scheme\n"
    ),
    "socket.py": SOCKET,
}
"""``/whoami`` answers ``<instance> <client address> <scheme>``; ``/socket`` greets with the
instance's name and echoes with it."""


def nginx_block_from_docs() -> str:
    """The ```` ```nginx ```` block of docs/deployment.md's scale-out section."""
    text = (REPO / "docs" / "deployment.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1, "docs/deployment.md should hold exactly one nginx block"
    return str(blocks[0])


def nginx_config(block: str, directory: Path, port: int, upstreams: list[int]) -> str:
    """A whole nginx.conf around the documented block: our ports, files under ``directory``."""
    block = block.replace("listen 80;", f"listen 127.0.0.1:{port};")
    for documented, actual in zip(("8001", "8002"), upstreams, strict=True):
        assert f"127.0.0.1:{documented};" in block
        block = block.replace(f"127.0.0.1:{documented};", f"127.0.0.1:{actual};")
    user = "user root;\n" if os.geteuid() == 0 else ""
    paths = "".join(
        f"    {name}_temp_path {directory / name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} info;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n    access_log {directory / 'access.log'};\n{paths}{block}}}\n"
    )


@dataclass
class Deployment:
    """nginx on ``port`` in front of the krait ``instances``."""

    port: int
    instances: dict[str, Server]
    nginx: subprocess.Popen[bytes]


@contextmanager
def deploy(
    directory: Path, site: Path, pubsub_url: str, env: dict[str, str]
) -> Iterator[Deployment]:
    """Two krait instances of ``site`` (``--workers 2`` each, channels on ``pubsub_url``) and
    nginx in front of them, as docs/deployment.md says; everything is stopped afterwards."""
    nginx_binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx_binary).exists(), "nginx is missing: `apt-get install nginx` (.ci/run does)"
    instances: dict[str, Server] = {}
    nginx: subprocess.Popen[bytes] | None = None
    try:
        for name in ("a", "b"):
            instances[name] = start_server(
                site,
                directory / f"log-{name}",
                "--workers",
                "2",
                "--trusted-proxies",
                "127.0.0.1",
                "--pubsub-url",
                pubsub_url,
                env={**env, "INSTANCE": name},
            )
        port = free_port()
        nginx_directory = directory / "nginx"
        nginx_directory.mkdir()
        upstreams = [instances["a"].port, instances["b"].port]
        config = nginx_directory / "nginx.conf"
        config.write_text(nginx_config(nginx_block_from_docs(), nginx_directory, port, upstreams))
        nginx = subprocess.Popen(
            [nginx_binary, "-c", str(config), "-p", str(nginx_directory)],
            stdout=subprocess.DEVNULL,
            stderr=open(nginx_directory / "stderr.txt", "wb"),  # noqa: SIM115
        )
        wait_for_port(port, nginx)
        yield Deployment(port, instances, nginx)
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(15)
        for server in instances.values():
            server.stop()


@pytest.fixture
def deployment(tmp_path: Path, redis_server: RedisServer) -> Iterator[Deployment]:
    site = write_site(tmp_path / "site", SITE)
    with deploy(tmp_path, site, redis_server.url, {}) as running:
        yield running


@pytest.fixture
def demo_deployment(tmp_path: Path, redis_server: RedisServer) -> Iterator[Deployment]:
    """site_demo itself behind nginx: both instances share the session key and, in Redis
    (a database of their own), the chat's channel."""
    pubsub_url = redis_server.url.removesuffix("/0") + "/8"
    with deploy(
        tmp_path, REPO / "site_demo", pubsub_url, {"KRAIT_DEMO_SECRET_KEY": "scale"}
    ) as running:
        yield running


def get(port: int, path: str) -> tuple[int, str]:
    """GET through nginx from :data:`CLIENT_ADDRESS`, on a connection of its own."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=15, source_address=(CLIENT_ADDRESS, 0)
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_nginx_spreads_requests_over_both_instances_and_krait_sees_the_client(
    deployment: Deployment,
) -> None:
    answers = {get(deployment.port, "/whoami") for _ in range(6)}
    assert answers == {
        (200, f"a {CLIENT_ADDRESS} http"),
        (200, f"b {CLIENT_ADDRESS} http"),
    }
    for server in deployment.instances.values():
        assert wait_for(lambda server=server: f"{CLIENT_ADDRESS} - -" in server.stdout(), 10)
        assert "127.0.0.1 - -" not in server.stdout()


def test_websockets_upgrade_through_nginx_to_both_instances(deployment: Deployment) -> None:
    url = f"ws://127.0.0.1:{deployment.port}/socket"
    clients = [websocket.create_connection(url, timeout=10) for _ in range(4)]
    try:
        greetings = [client.recv() for client in clients]
        assert sorted(set(greetings)) == ["a", "b"]
        for client, greeting in zip(clients, greetings, strict=True):
            client.send("ping")
            assert client.recv() == f"{greeting}:ping"
    finally:
        for client in clients:
            client.close()


def test_sighup_of_one_instance_under_load_loses_no_request(deployment: Deployment) -> None:
    answers: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                status, body = get(deployment.port, "/whoami")
            except OSError as error:
                failures.append(repr(error))
                continue
            if status == 200:
                answers.append(body)
            else:
                failures.append(f"{status}: {body[:200]}")

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    instance = deployment.instances["a"]
    try:
        assert wait_for(lambda: len(answers) > 20)
        instance.process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: instance.stderr().count("drains and stops") >= 2)
        served_before = len(answers)
        assert wait_for(lambda: len(answers) > served_before + 20)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failures == []
    assert {answer.split()[0] for answer in answers} == {"a", "b"}


def instance_of(deployment: Deployment, path: str) -> str:
    """The instance whose access log shows a request for ``path`` (a unique one)."""
    found: list[str] = []

    def logged() -> bool:
        found[:] = [
            name
            for name, server in deployment.instances.items()
            if f"GET {path} HTTP/1.1" in server.stdout()
        ]
        return bool(found)

    assert wait_for(logged, 10), f"no instance logged {path}"
    assert len(found) == 1
    return found[0]


def test_a_chat_message_sent_through_one_instance_reaches_a_client_of_the_other(
    demo_deployment: Deployment,
) -> None:
    """site_demo's chat behind nginx: names are read by either instance (one session key),
    and the room spans both through Redis. A query field, ignored by the demo, marks each
    socket's line in the access logs, which tell the instance it landed on."""
    base = f"http://127.0.0.1:{demo_deployment.port}"
    members: dict[str, tuple[str, websocket.WebSocket]] = {}
    clients: list[websocket.WebSocket] = []
    try:
        for number in range(20):
            name = f"guest{number}"
            path = f"/chat/socket?who={name}"
            client = connect(f"ws://127.0.0.1:{demo_deployment.port}{path}", sign_in(base, name))
            clients.append(client)
            wait_until_in_the_room(client, name)
            members.setdefault(instance_of(demo_deployment, path), (name, client))
            if len(members) == 2:
                break
        assert sorted(members) == ["a", "b"], "nginx sent every socket to the same instance"
        (name_a, on_a), (name_b, on_b) = members["a"], members["b"]
        from_a = {"name": name_a, "text": f"hello from {name_a} on a"}
        say(on_a, from_a["text"])
        receive_until(on_b, from_a)
        receive_until(on_a, from_a)  # its own, heard through Redis too
        say(on_b, f"hello from {name_b} on b")
        receive_until(on_a, {"name": name_b, "text": f"hello from {name_b} on b"})
    finally:
        for client in clients:
            client.close()
