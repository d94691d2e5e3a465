"""The scale-out recipe of docs/deployment.md, run as written: nginx in front of two krait
instances.

The nginx block is read out of the documentation (only the ports are changed), so the page
and this test cannot drift apart. nginx, both krait instances and the clients are real
processes on loopback. The client connects from 127.0.0.2 so that the address krait reports
can only have come from nginx's ``X-Forwarded-For``: nginx itself connects from 127.0.0.1,
the one trusted peer.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import websocket
from conftest import REPO, Server, free_port, start_server, wait_for_port, write_site

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


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    nginx_binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx_binary).exists(), "nginx is missing: `apt-get install nginx` (.ci/run does)"
    site = write_site(tmp_path / "site", SITE)
    instances: dict[str, Server] = {}
    nginx: subprocess.Popen[bytes] | None = None
    try:
        for name in ("a", "b"):
            instances[name] = start_server(
                site,
                tmp_path / f"log-{name}",
                "--workers",
                "2",
                "--trusted-proxies",
                "127.0.0.1",
                env={"INSTANCE": name},
            )
        port = free_port()
        directory = tmp_path / "nginx"
        directory.mkdir()
        upstreams = [instances["a"].port, instances["b"].port]
        config = directory / "nginx.conf"
        config.write_text(nginx_config(nginx_block_from_docs(), directory, port, upstreams))
        nginx = subprocess.Popen(
            [nginx_binary, "-c", str(config), "-p", str(directory)],
            stdout=subprocess.DEVNULL,
            stderr=open(directory / "stderr.txt", "wb"),  # noqa: SIM115
        )
        wait_for_port(port, nginx)
        yield Deployment(port, instances, nginx)
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(15)
        for server in instances.values():
            server.stop()


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


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


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
