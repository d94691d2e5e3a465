"""Pages under load and out of control: 503 with Retry-After, 504 with the stuck line logged,
and no work for clients that left."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests
from conftest import Server, fetch_in_background, status_of, write_site

SITE = {
    ".py/init.py": "",
    "spin.py": "while True:\n    pass\n",
    "nap.py": (
        "import time\ntime.sleep(float(krait.request.query.get('s', '1')))\nreturn 'rested'\n"
    ),
    "fast.py": "return 'fast'\n",
    "count.py": (
        "import os\n"
        "with open(os.path.join(krait.site_root, 'runs.txt'), 'a') as runs:\n"
        "    runs.write('x')\n"
        "return 'counted'\n"
    ),
    "hello.txt": "static\n",
}


def site(tmp_path: Path) -> Path:
    return write_site(tmp_path / "site", SITE)


def in_background(url: str) -> tuple[threading.Thread, list[object]]:
    threads, answers = fetch_in_background(url)
    return threads[0], answers


def test_a_runaway_page_gets_504_its_line_logged_and_its_thread_back(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve(site(tmp_path), "--threads", "1", "--page-timeout", "1")
    started = time.monotonic()
    response = requests.get(server.url + "/spin", timeout=20)
    assert response.status_code == 504
    assert time.monotonic() - started < 5
    # The one page thread was freed: the next page runs.
    assert requests.get(server.url + "/fast", timeout=10).text == "fast"
    log = server.stderr()
    assert "504 for /spin" in log
    assert "spin.py" in log and "while True" in log


def test_a_full_page_queue_answers_503_with_retry_after_at_once(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    """One thread, a queue of two: of six 3-second pages sent at once, one runs, two wait,
    and three are refused at once (whatever order they arrive in)."""
    server = serve(site(tmp_path), "--threads", "1", "--page-queue", "2")
    sockets = []
    for _ in range(6):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        sock.sendall(b"GET /nap?s=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sockets.append(sock)
    assert requests.get(server.url + "/hello.txt", timeout=10).status_code == 200  # static
    answers = []
    for sock in sockets:
        with sock:
            started = time.monotonic()
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            answers.append((status_of(answer), answer, time.monotonic() - started))
    assert sorted(status for status, _, _ in answers) == [200, 200, 200, 503, 503, 503]
    for status, answer, _ in answers:
        if status == 503:
            assert b"\r\nRetry-After: 1\r\n" in answer


def test_a_page_that_waited_too_long_for_a_thread_gets_503_and_never_runs(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    root = site(tmp_path)
    server = serve(root, "--threads", "1", "--page-queue-time", "0.5")
    holder, held = in_background(server.url + "/nap?s=2")
    time.sleep(0.3)
    started = time.monotonic()
    late = requests.get(server.url + "/count", timeout=10)
    assert late.status_code == 503
    assert 0.1 < time.monotonic() - started < 1.8  # at the limit, not when a thread frees
    holder.join(20)
    assert held == [(200, "rested")]
    assert requests.get(server.url + "/fast", timeout=10).text == "fast"
    assert not (root / "runs.txt").exists()


def test_pages_of_clients_that_left_while_waiting_are_not_run(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    root = site(tmp_path)
    server = serve(root, "--threads", "1")
    holder, held = in_background(server.url + "/nap?s=1.5")
    time.sleep(0.3)
    for _ in range(10):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as gone:
            gone.sendall(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n")
    holder.join(20)
    assert held == [(200, "rested")]
    assert requests.get(server.url + "/count", timeout=10).text == "counted"
    assert (root / "runs.txt").read_text() == "x"  # only the last, whose client stayed


def test_page_limit_options_must_be_numbers(serve: Callable[..., Server], tmp_path: Path) -> None:
    for option, value, message in (
        ("--page-timeout", "forever", "--page-timeout takes a number of seconds"),
        ("--page-queue", "0", "--page-queue must be positive"),
    ):
        try:
            serve(site(tmp_path), option, value)
        except RuntimeError as error:
            assert message in str(error)
        else:
            raise AssertionError(f"{option} {value} was accepted")
