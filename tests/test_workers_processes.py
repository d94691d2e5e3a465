"""``--workers N`` end to end: real worker processes on shared sockets, signals and reloads.

Every test starts ``python -m krait --workers 2`` on 127.0.0.1 and talks to it with real
clients over fresh connections, so that the kernel hands them to either worker.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import trustme
import websocket
from conftest import (
    Server,
    fetch_in_background,
    free_port,
    status_of,
    wait_for,
    wait_for_port,
    write_site,
)
from tls_site import write_tls_site
from ws_site import echo_site

SITE = {
    ".py/init.py": "VERSION = 'v1'\nimport builtins\nbuiltins.VERSION = VERSION\n",
    "pid.py": "import os\nreturn f'{VERSION}:{os.getpid()}'\n",
    "slow.py": "import time\ntime.sleep(float(krait.request.query.get('s', '1')))\nreturn 'done'\n",
}
"""``/pid`` answers ``<init.py's VERSION>:<the worker's pid>``."""


def fetch(url: str) -> str:
    """GET over a fresh connection (so any worker may take it); the body, or raise."""
    response = requests.get(url, timeout=15, headers={"Connection": "close"})
    response.raise_for_status()
    return response.text


def pids_seen(server: Server, want: int, timeout: float = 30.0) -> set[str]:
    """Fetch ``/pid`` until ``want`` different answers were seen (or ``timeout`` ran out:
    workers load the site in parallel, slowly on a busy machine)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        seen.add(fetch(server.url + "/pid"))
        time.sleep(0.01)
    return seen


def is_running(pid: int) -> bool:
    """Whether process ``pid`` exists and is no zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def pid_of(answer: str) -> int:
    return int(answer.split(":")[1])


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write_site(tmp_path / "site", SITE)


def test_two_workers_serve_pages_from_two_processes(
    serve: Callable[..., Server], site: Path
) -> None:
    server = serve(site, "--workers", "2")
    seen = pids_seen(server, 2)
    assert len(seen) == 2
    assert {answer.split(":")[0] for answer in seen} == {"v1"}
    assert server.process.pid not in {pid_of(answer) for answer in seen}


def test_workers_auto_starts_one_worker_per_core(serve: Callable[..., Server], site: Path) -> None:
    server = serve(site, "--workers", "auto")
    assert len(pids_seen(server, os.cpu_count() or 1)) == (os.cpu_count() or 1)


def test_https_and_websockets_work_in_every_worker(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    authority = trustme.CA()
    routes = (echo_site(tmp_path / "tls") / ".py" / "init.py").read_text()
    tls_site = write_tls_site(tmp_path / "tls", authority)
    with (tls_site / ".py" / "init.py").open("a") as init:
        init.write(routes)
    (tls_site / "pid.py").write_text("import os\nreturn str(os.getpid())\n")
    https = free_port()
    server = serve(tls_site, "--workers", "2", "--https", str(https), "--interface", "127.0.0.1")
    wait_for_port(https, server.process)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    assert wait_for(lambda: server.stderr().count("is ready") >= 2, 30)
    seen = set()
    for _ in range(100):
        seen.add(requests.get(f"https://127.0.0.1:{https}/pid", verify=str(ca_file)).text)
        if len(seen) == 2:
            break
    assert len(seen) == 2
    for _ in range(6):  # fresh connections: both workers get some
        ws = websocket.create_connection(
            f"wss://127.0.0.1:{https}/echo?kind=async",
            sslopt={"ca_certs": str(ca_file), "cert_reqs": ssl.CERT_REQUIRED},
            timeout=10,
        )
        ws.send("hello")
        assert ws.recv() == "hello"
        ws.close()
        plain = websocket.create_connection(f"ws://127.0.0.1:{server.port}/echo", timeout=10)
        plain.send("plain")
        assert plain.recv() == "plain"
        plain.close()


def test_a_killed_worker_is_replaced_and_the_log_says_so(
    serve: Callable[..., Server], site: Path
) -> None:
    server = serve(site, "--workers", "2")
    before = {pid_of(answer) for answer in pids_seen(server, 2)}
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: f"worker {victim} died (killed by SIGKILL)" in server.stderr())
    assert wait_for(lambda: "is ready" in server.stderr().split(f"worker {victim} died")[1])
    after = {pid_of(answer) for answer in pids_seen(server, 2)}
    assert len(after) == 2
    assert victim not in after
    assert after & before == before - {victim}


def test_sigterm_answers_requests_in_flight_then_everything_exits_zero(
    serve: Callable[..., Server], site: Path
) -> None:
    server = serve(site, "--workers", "2")
    workers = {pid_of(answer) for answer in pids_seen(server, 2)}
    threads, answers = fetch_in_background(server.url + "/slow?s=1.5", 4)
    time.sleep(0.6)
    server.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(20)
    assert answers == [(200, "done")] * 4
    assert server.process.wait(30) == 0
    assert not any(is_running(pid) for pid in workers)


def sequential_load(url: str, stop: threading.Event) -> tuple[list[str], list[object]]:
    """Fetch ``url`` over fresh connections until ``stop`` is set (in a thread)."""
    answers: list[str] = []
    failures: list[object] = []

    def run() -> None:
        while not stop.is_set():
            try:
                answers.append(fetch(url))
            except Exception as error:  # every failure counts, whatever its kind
                failures.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    stop.thread = thread  # type: ignore[attr-defined]
    return answers, failures


def test_sighup_reloads_with_new_code_and_no_failed_request(
    serve: Callable[..., Server], site: Path
) -> None:
    server = serve(site, "--workers", "2")
    old = {pid_of(answer) for answer in pids_seen(server, 2)}
    stop = threading.Event()
    answers, failures = sequential_load(server.url + "/pid", stop)
    time.sleep(0.5)
    (site / ".py" / "init.py").write_text(SITE[".py/init.py"].replace("v1", "v2"))
    server.process.send_signal(signal.SIGHUP)
    try:
        assert wait_for(lambda: server.stderr().count("drains and stops") >= 2, 30)
        assert wait_for(lambda: not any(is_running(pid) for pid in old), 30)
        time.sleep(0.5)
    finally:
        stop.set()
        stop.thread.join(20)  # type: ignore[attr-defined]
    assert failures == []
    assert len(answers) > 20
    assert answers[-1].startswith("v2:")
    new = {pid_of(answer) for answer in pids_seen(server, 2)}
    assert len(new) == 2
    assert not new & old
    assert server.stop() == 0


def test_sighup_with_a_broken_init_py_keeps_the_old_workers_serving(
    serve: Callable[..., Server], site: Path
) -> None:
    server = serve(site, "--workers", "2")
    old = pids_seen(server, 2)
    (site / ".py" / "init.py").write_text("raise RuntimeError('broken on purpose')\n")
    server.process.send_signal(signal.SIGHUP)
    assert wait_for(lambda: server.stderr().count("reload failed") >= 2, 30)
    log = server.stderr()
    assert "broken on purpose" in log
    assert "init.py" in log
    assert pids_seen(server, 2) == old
    assert server.stop() == 0


def test_max_requests_recycles_workers_without_failing_a_request(
    serve: Callable[..., Server], site: Path
) -> None:
    server = serve(site, "--workers", "2", "--max-requests", "20", "--max-requests-jitter", "3")
    assert wait_for(lambda: server.stderr().count("is ready") >= 2, 30)
    answers = [fetch(server.url + "/pid") for _ in range(50)]
    # A replacement takes a moment to load the site: the retiring worker serves meanwhile.
    deadline = time.monotonic() + 30
    while len({pid_of(answer) for answer in answers}) <= 2 and time.monotonic() < deadline:
        answers.append(fetch(server.url + "/pid"))
        time.sleep(0.05)
    assert len({pid_of(answer) for answer in answers}) > 2
    assert "(see --max-requests)" in server.stderr()
    assert server.stop() == 0


def test_a_site_that_cannot_start_ends_the_supervisor_with_status_1(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    broken = write_site(tmp_path / "broken", {".py/init.py": "raise RuntimeError('nope')\n"})
    server = serve(broken, "--workers", "2", wait=False)
    assert server.process.wait(30) == 1
    assert "nope" in server.stderr()
    assert "the site cannot start" in server.stderr()


def test_a_port_in_use_fails_once_in_the_supervisor(
    serve: Callable[..., Server], site: Path
) -> None:
    first = serve(site)
    second = serve(site, "--workers", "2", port=first.port, wait=False)
    assert second.process.wait(30) == 1
    assert second.stderr().count("Address already in use") == 1


def unix_get(path: Path, target: str) -> str:
    """GET ``target`` over the UNIX socket at ``path``; the body."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(15)
        sock.connect(str(path))
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert status_of(answer) == 200
    return answer.split(b"\r\n\r\n", 1)[1].decode()


def test_a_unix_socket_keeps_serving_across_a_reload(
    serve: Callable[..., Server], site: Path, tmp_path: Path
) -> None:
    """A replaced worker lets go of the shared socket: it neither deletes nor shuts it down."""
    path = tmp_path / "krait.sock"
    server = serve(site, "--workers", "2", "--listen", f"unix:{path}")
    assert wait_for(lambda: server.stderr().count("is ready") >= 2, 30)
    before = unix_get(path, "/pid")
    server.process.send_signal(signal.SIGHUP)
    assert wait_for(lambda: server.stderr().count("drains and stops") >= 2, 30)
    assert wait_for(lambda: server.stderr().count("stopped (exit status 0)") >= 2, 30)
    assert unix_get(path, "/pid") != before
    assert path.exists()
    assert server.stop() == 0
    assert not path.exists()
