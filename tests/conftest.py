"""Shared fixtures: start the real server as a subprocess on 127.0.0.1 and talk to it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPResponse
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parent.parent

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium, which the browser tests drive through Playwright (.ci/run installs it)."""
# launch() gives Chromium a fresh temporary profile of its own (and refuses --user-data-dir).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def shared_tool(name: str, variable: str) -> Path:
    """An external tool: from the environment variable ``variable``, else ``../shared/tools``.

    The shared folder lies beside the checkout, on a developer's machine as in CI.
    """
    return Path(os.environ.get(variable) or REPO.parent / "shared" / "tools" / name)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Wait until something accepts connections on ``port``, or the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the server did not listen on port {port} within {timeout}s")


def raw_exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes to 127.0.0.1:``port`` and read until the server closes the connection.

    Real clients normalise what they send (``..``, missing Host, odd request lines); tests of
    what the server does with such input speak the wire themselves.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    return bytes(received)


def status_of(answer: bytes) -> int:
    """The status code of a raw HTTP answer."""
    return int(answer.split(b"\r\n", 1)[0].split()[1])


@dataclass
class Server:
    """A krait server process and how to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    log_dir: Path
    scheme: str = "http"
    extra_ports: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return (self.log_dir / "stdout.txt").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.log_dir / "stderr.txt").read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """Stop with SIGTERM and return the exit status (kills after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


def start_server(
    site: Path | str,
    log_dir: Path,
    *args: str,
    port: int | None = None,
    listen: bool = True,
    scheme: str = "http",
    env: dict[str, str] | None = None,
    wait: bool = True,
    twistd: bool = False,
    twistd_args: Sequence[str] = (),
) -> Server:
    """Start ``python -m krait`` (or ``twistd -n [twistd_args] krait``) on 127.0.0.1 and wait
    for it."""
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    if twistd:
        twistd_bin = str(Path(sys.executable).parent / "twistd")
        command = [twistd_bin, "-n", "--pidfile=", *twistd_args, "krait", "--site", str(site)]
    else:
        command = [sys.executable, "-m", "krait", str(site)]
    if listen:
        command += ["--listen", f"tcp:{port}:interface=127.0.0.1"]
    command += list(args)
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [environment.get("PYTHONPATH")])]
    )
    environment.update(env or {})
    process = subprocess.Popen(
        command,
        stdout=open(log_dir / "stdout.txt", "wb"),  # noqa: SIM115
        stderr=open(log_dir / "stderr.txt", "wb"),  # noqa: SIM115
        env=environment,
        cwd=log_dir,
    )
    server = Server(process=process, port=port, log_dir=log_dir, scheme=scheme)
    if wait:
        try:
            wait_for_port(port, process)
        except RuntimeError:
            server.stop()
            raise RuntimeError(f"krait did not start:\n{server.stderr()}") from None
    return server


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """A keep-alive HTTP client session for the tests of one module."""
    with requests.Session() as session:
        yield session


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    """A function that starts a server for a site folder; every server is stopped after."""
    servers: list[Server] = []

    def _serve(site: Path | str, *args: str, **kwargs: object) -> Server:
        server = start_server(site, tmp_path / f"server{len(servers)}", *args, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield _serve
    for server in servers:
        if server.process.poll() is None:
            server.stop()


def fetch_in_background(url: str, count: int = 1) -> tuple[list[threading.Thread], list[object]]:
    """Start ``count`` GET requests to ``url`` in threads; each answer lands in the returned
    list as ``(status, text)``, or as the exception the client raised."""
    answers: list[object] = []

    def fetch() -> None:
        try:
            response = requests.get(url, timeout=30)
            answers.append((response.status_code, response.text))
        except requests.RequestException as error:
            answers.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, answers


def fetch(server: Server, path: str, method: str = "GET", **headers: str) -> HTTPResponse:
    """One request on a connection of its own (``Accept_Encoding="br"`` sends
    ``Accept-Encoding``); the answer, its body already read (see :func:`body`)."""
    connection = HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
    answer = connection.getresponse()
    answer.body = answer.read()  # type: ignore[attr-defined]
    connection.close()
    return answer


def body(answer: HTTPResponse) -> bytes:
    """The body :func:`fetch` read."""
    return answer.body  # type: ignore[attr-defined,no-any-return]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds ran out (its last answer).

    A bound against hangs, never a measurement: a busy machine only makes it poll longer.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def write_site(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create a site folder from a ``{relative path: content}`` mapping."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def pytest_configure(config: pytest.Config) -> None:
    """Let the servers the tests start see SIGINT, even when pytest itself ignores it.

    A command started in the background by a shell without job control (``cmd &`` in a
    script, as CI runners and ``nohup`` wrappers do) inherits SIGINT ignored, and so does every
    process it starts; Python then installs no SIGINT handler and neither does Twisted, so a
    server under test would not drain on SIGINT and the shutdown tests would wait for nothing.
    Restoring Python's handler here makes the children start with the default disposition.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _is_trial_case(item: pytest.Item) -> bool:
    from twisted.trial.unittest import TestCase

    cls = getattr(item, "cls", None)
    return isinstance(cls, type) and issubclass(cls, TestCase)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run twisted.trial test cases first.

    trial runs the reactor itself for each test, which it cannot do once pytest-twisted has
    started the reactor in its greenlet (for the first ``@pytest_twisted`` test); the other way
    round both work.
    """
    items.sort(key=lambda item: not _is_trial_case(item))


@dataclass
class RedisServer:
    """A real ``redis-server`` this test run started on a free loopback port."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The ``redis://`` URL krait's ``pubsub_url`` and session store take."""
        return f"redis://127.0.0.1:{self.port}/0"


def start_redis(directory: Path) -> RedisServer:
    """Start Debian's ``redis-server`` on 127.0.0.1 with no persistence, in ``directory``.

    ``.ci/run`` installs the package; on a developer machine without it, the message says so.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is missing: `apt-get install redis-server` (.ci/run does)")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process)
    return RedisServer(port, process)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real Redis for the whole run; tests keep apart by their own keys and channels."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright: one per test module that asks for it.

    Each test opens its own context (cookies and storage of its own) in it.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
