"""Nothing outside the site root, nothing hidden and no script source is ever served.

The attack paths go out over a raw socket exactly as written: real clients normalise ``..``
and escapes before sending, which would hide the server's own handling. Every file that must
stay private holds a unique marker, and no response body may contain any marker.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server, raw_exchange, start_server, status_of, write_site

MARKERS = {
    "outside": "MARKER-OUTSIDE-7f3a9c",
    "init": "MARKER-INIT-PY-51d2e8",
    "helper": "MARKER-HELPER-PY-0b6e44",
    "private": "MARKER-PRIVATE-a81c03",
    "git": "MARKER-GIT-CONFIG-2d97f1",
    "env": "MARKER-DOTENV-c4e5b6",
    "view": "MARKER-VIEW-93aa1d",
    "script": "MARKER-SCRIPT-SOURCE-6e0f2b",
    "upper": "MARKER-UPPER-SCRIPT-f01d9e",
    "boom": "MARKER-BOOM-SOURCE-388c5a",
    "leftover": "MARKER-LEFTOVER-SOURCE-5c1e07",
}

# Copies of a script's or template's source that an editor, a backup or Python leaves beside
# it, and names that Windows would open as the script itself.
LEFTOVERS = [
    "hello.py~",
    "hello.py.bak",
    "hello.py.orig",
    "hello.py.swp",
    "HELLO.PY.BAK",
    "#hello.py#",
    "index.html~",
    "hello.pyc",
    "__pycache__/hello.cpython-311.pyc",
    "hello.py.",
    "hello.py::$DATA",
]

SITE: dict[str, str | bytes] = {
    ".py/init.py": f"# {MARKERS['init']}\nimport krait\n",
    ".py/helper.py": f"SECRET = {MARKERS['helper']!r}\n",
    ".private/x": f"{MARKERS['private']}\n",
    ".git/config": f"[core]\n\tsecret = {MARKERS['git']}\n",
    ".env": f"TOKEN={MARKERS['env']}\n",
    ".view/page.html": f"<p>{MARKERS['view']}</p>\n",
    "index.html": "<h1>public home</h1>\n",
    "public.txt": "public file\n",
    "dir/inner.txt": "inner file\n",
    "run.py": (
        f"# {MARKERS['script']}\n"
        f"unused = {MARKERS['script']!r}\n"
        'krait.response = krait.Response("HTTP/1.1", 200, [], "script ran")\n'
    ),
    "Upper.PY": (
        f"# {MARKERS['upper']}\n"
        'krait.response = krait.Response("HTTP/1.1", 200, [], "upper script ran")\n'
    ),
    "boom.py": f"raise RuntimeError('{MARKERS['boom']}')  # {MARKERS['boom']}\n",
    "hello.py": 'krait.response = krait.Response("HTTP/1.1", 200, [], "hello ran")\n',
    "notes~draft.txt": "a tilde inside a name is fine\n",
    **{name: f"# {MARKERS['leftover']}\n" for name in LEFTOVERS},
}

SYMLINKS = {
    "link-out": "../",
    "link-file": "../secret.txt",
    "ok-link": ".private/x",
    "env-link.txt": ".env",
    "run-link.txt": "run.py",
}

ATTACKS = [
    "/../secret.txt",
    "/../../secret.txt",
    "/../../../../../../etc/passwd",
    "/dir/../../secret.txt",
    "/./../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/dir/%2e%2e/%2e%2e/secret.txt",
    "/..%5csecret.txt",
    "/%5c..%5csecret.txt",
    "/..\\secret.txt",
    "/dir\\..\\..\\secret.txt",
    "/%2e%2e%5csecret.txt",
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/%c0%af..%c0%afsecret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%c1%9c..%c1%9csecret.txt",
    "/%u002e%u002e/secret.txt",
    "//etc/passwd",
    "/%2fetc%2fpasswd",
    "/secret.txt%00.html",
    "/index.html%00",
    "/.%00./secret.txt",
    "/.py/init.py",
    "/.py/init.py%00",
    "/.py/init",
    "/.py/",
    "/.py",
    "/.py/helper.py",
    "/%2epy/init.py",
    "/.py%2finit.py",
    "/.py/../.py/init.py",
    "/dir/../.py/init.py",
    "/.private/x",
    "/./.private/x",
    "/.private/",
    "/.git/config",
    "/.git/",
    "/.env",
    "/%2eenv",
    "/.view/page.html",
    "/....//secret.txt",
    "/link-out",
    "/link-out/",
    "/link-out/secret.txt",
    "/link-out/site/.env",
    "/link-file",
    "/ok-link",
    "/env-link.txt",
    "../secret.txt",
    ".env",
    "http://x/../secret.txt",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outer = tmp_path_factory.mktemp("containment")
    (outer / "secret.txt").write_text(f"{MARKERS['outside']}\n")
    site = write_site(outer / "site", SITE)
    for name, target in SYMLINKS.items():
        os.symlink(target, site / name)
    return site


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    running = start_server(site, site.parent / "logs")
    yield running
    running.stop()


def send(server: Server, method: str, target: str) -> tuple[int, bytes]:
    """Send a request line exactly as written; return the status and the whole answer."""
    request = f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    received = raw_exchange(server.port, request.encode("latin-1"))
    return status_of(received), received


def leaked_markers(answer: bytes) -> list[str]:
    return [name for name, marker in MARKERS.items() if marker.encode() in answer]


def test_there_are_enough_attack_paths() -> None:
    assert len(set(ATTACKS)) >= 30


@pytest.mark.parametrize("target", ATTACKS)
def test_attack_path_is_refused_without_leaking(server: Server, target: str) -> None:
    status, answer = send(server, "GET", target)
    assert status in (400, 404)
    assert leaked_markers(answer) == []


def test_head_does_not_reach_private_files(server: Server) -> None:
    for target in ("/.env", "/.py/init.py", "/link-file", "/%2e%2e/secret.txt"):
        status, answer = send(server, "HEAD", target)
        assert status in (400, 404)
        assert leaked_markers(answer) == []


@pytest.mark.parametrize("target", ["/.env", "/.py/init.py", "/link-file", "/.git/config"])
@pytest.mark.parametrize("method", ["POST", "OPTIONS", "PUT", "DELETE"])
def test_other_methods_answer_private_files_as_missing_ones(
    server: Server, target: str, method: str
) -> None:
    """Routing answers first (405 or 204 from the default GET route), and tells nothing more."""
    status, answer = send(server, method, target)
    missing_status, missing_answer = send(server, method, "/no-such-file")
    assert status == missing_status
    assert leaked_markers(answer) == []
    assert _without_date(answer) == _without_date(missing_answer)


def _without_date(answer: bytes) -> bytes:
    return b"\r\n".join(line for line in answer.split(b"\r\n") if not line.startswith(b"Date:"))


@pytest.mark.parametrize("name", LEFTOVERS)
def test_editor_leftovers_and_bytecode_of_sources_are_never_served(
    server: Server, name: str
) -> None:
    status, answer = send(server, "GET", "/" + urllib.parse.quote(name))
    assert status == 404
    assert leaked_markers(answer) == []


@pytest.mark.parametrize("target", ["/hello.py%00", "/hello.py%20", "/hello.p%79~"])
def test_spelling_a_leftover_otherwise_does_not_reach_it(server: Server, target: str) -> None:
    status, answer = send(server, "GET", target)
    assert status in (400, 404)
    assert leaked_markers(answer) == []


@pytest.mark.parametrize("target", ["/public.txt", "/dir/inner.txt", "/", "/notes~draft.txt"])
def test_ordinary_files_are_served(server: Server, target: str) -> None:
    """The refusals above are not vacuous: the same server serves its public files."""
    status, _ = send(server, "GET", target)
    assert status == 200


@pytest.mark.parametrize("target", ["/index.html?/../../secret.txt", "/public.txt?.env"])
def test_query_strings_do_not_reach_files(server: Server, target: str) -> None:
    status, answer = send(server, "GET", target)
    assert status == 200
    assert leaked_markers(answer) == []


@pytest.mark.parametrize(
    ("target", "text"),
    [
        ("/run.py", b"script ran"),
        ("/run", b"script ran"),
        ("/run-link.txt", b"script ran"),
        ("/Upper.PY", b"upper script ran"),
        ("/hello", b"hello ran"),
    ],
)
def test_scripts_are_executed_never_sent(server: Server, target: str, text: bytes) -> None:
    status, answer = send(server, "GET", target)
    assert status == 200
    assert answer.endswith(text)
    assert leaked_markers(answer) == []


@pytest.mark.parametrize(
    "headers",
    ["Range: bytes=0-10", "If-None-Match: *", "Accept: text/x-python"],
)
def test_request_headers_do_not_turn_a_script_into_a_file(server: Server, headers: str) -> None:
    request = f"GET /run.py HTTP/1.1\r\nHost: x\r\n{headers}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request.encode())
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    assert leaked_markers(answer) == []


@pytest.mark.parametrize("target", ["/run.py/", "/run.py.", "/run.py%20", "/RUN.PY", "/run.p%79"])
def test_script_name_variants_never_send_source(server: Server, target: str) -> None:
    _, answer = send(server, "GET", target)
    assert leaked_markers(answer) == []


def test_failing_script_does_not_show_its_source(server: Server) -> None:
    status, answer = send(server, "GET", "/boom.py")
    assert status == 500
    assert leaked_markers(answer) == []


def test_server_still_serves_after_the_attacks(server: Server) -> None:
    status, _ = send(server, "GET", "/public.txt")
    assert status == 200
    assert server.process.poll() is None


def test_markers_are_on_disk_where_the_attacks_aim(site: Path) -> None:
    """So a leak would show."""
    assert MARKERS["env"] in (site / ".env").read_text()
    assert MARKERS["outside"] in (site / "link-file").read_text()
    assert MARKERS["private"] in (site / "ok-link").read_text()
