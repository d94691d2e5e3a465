"""Starting a site: command line, init.py, and the one clear message of a site that cannot start."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, free_port, start_server, write_site


def run_krait(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``python -m krait`` expecting it to stop on its own."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "krait", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def assert_one_clear_message(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_missing_site_folder_exits_with_a_message(tmp_path: Path) -> None:
    done = run_krait(str(tmp_path / "nope"))
    assert_one_clear_message(done, "does not exist", "fix:")


def test_exception_in_init_names_file_and_line(tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "site", {".py/init.py": "x = 1\n\nraise RuntimeError('bad config')\n"}
    )
    done = run_krait(str(site))
    assert_one_clear_message(done, "init.py:3", "RuntimeError: bad config")


def test_syntax_error_in_init_names_file_and_line(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {".py/init.py": "import krait\nif True\n    pass\n"})
    done = run_krait(str(site))
    assert_one_clear_message(done, "init.py:2", "syntax")


def test_route_with_unknown_verb_names_the_line_and_the_verbs(tmp_path: Path) -> None:
    init = "from krait.config import Route\nimport krait\nkrait.config.routes = [Route('GETT')]\n"
    site = write_site(tmp_path / "site", {".py/init.py": init})
    done = run_krait(str(site))
    assert_one_clear_message(done, "init.py:3", "'GETT'", "WEBSOCKET")


def test_route_with_bad_regex_names_the_route_and_regex(tmp_path: Path) -> None:
    init = (
        "from krait.config import Route\nimport krait\nkrait.config.routes = [Route(regex='/(a')]\n"
    )
    site = write_site(tmp_path / "site", {".py/init.py": init})
    done = run_krait(str(site))
    assert_one_clear_message(done, "routes[0]", "/(a")


def test_bad_cache_regex_is_reported(tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "site", {".py/init.py": "import krait\nkrait.config.cache_public = ['(']\n"}
    )
    done = run_krait(str(site))
    assert_one_clear_message(done, "cache")


def test_https_without_certificate_is_reported(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"index.html": "hi"})
    done = run_krait(str(site), "--https", str(free_port()))
    assert_one_clear_message(done, "certificate")


def test_missing_certificate_file_is_reported(tmp_path: Path) -> None:
    init = (
        "import krait\n"
        "krait.config.ssl_certificate_path = 'nope.pem'\n"
        "krait.config.ssl_private_key_path = 'nope.key'\n"
    )
    site = write_site(tmp_path / "site", {".py/init.py": init})
    done = run_krait(str(site), "--https", str(free_port()))
    assert_one_clear_message(done, "nope.pem")


def test_port_in_use_is_reported(tmp_path: Path) -> None:
    import socket

    site = write_site(tmp_path / "site", {"index.html": "hi"})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_krait(str(site), "--listen", f"tcp:{port}:interface=127.0.0.1")
    assert_one_clear_message(done, f"{port}", "fix:")


def test_invalid_endpoint_string_is_reported(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"index.html": "hi"})
    done = run_krait(str(site), "--listen", "carrier-pigeon:9")
    assert_one_clear_message(done, "carrier-pigeon")


def test_init_runs_once_with_site_root_and_py_dir_on_path(tmp_path: Path) -> None:
    files = {
        ".py/helper_mod_startup.py": "VALUE = 'from-helper'\n",
        ".py/init.py": (
            "import krait, helper_mod_startup\n"
            "open(krait.get_full_path('ran.txt'), 'a').write(helper_mod_startup.VALUE + '\\n')\n"
        ),
        "index.html": "home",
    }
    site = write_site(tmp_path / "site", files)
    server = start_server(site, tmp_path / "log")
    try:
        for _ in range(3):
            assert urllib.request.urlopen(server.url + "/").read() == b"home"
    finally:
        assert server.stop() == 0
    assert (site / "ran.txt").read_text() == "from-helper\n"


def test_init_sees_krait_os_and_sys_without_importing_them(tmp_path: Path) -> None:
    files = {
        ".py/init.py": (
            "krait.config.routes = [krait.config.Route(url='/home', target='index.html')]\n"
            "krait.config.cache_public = [os.path.basename('x.css'), sys.platform and 'y']\n"
        ),
        "index.html": "home",
    }
    server = start_server(write_site(tmp_path / "site", files), tmp_path / "log")
    try:
        assert urllib.request.urlopen(server.url + "/home").read() == b"home"
    finally:
        server.stop()


def test_config_changes_after_init_are_ignored(tmp_path: Path) -> None:
    files = {
        ".py/init.py": "import krait\nkrait.config.routes = [krait.config.Route()]\n",
        "change.py": "krait.config.routes = []\nkrait.set_content_type('text/plain')\nreturn 'ok'",
        "index.html": "home",
    }
    site = write_site(tmp_path / "site", files)
    server = start_server(site, tmp_path / "log")
    try:
        assert urllib.request.urlopen(server.url + "/change").read() == b"ok"
        assert urllib.request.urlopen(server.url + "/").read() == b"home"
    finally:
        server.stop()


@pytest.mark.parametrize("flag", [[], ["--no-access-log"]])
def test_access_log_goes_to_stdout_in_combined_format(tmp_path: Path, flag: list[str]) -> None:
    site = write_site(tmp_path / "site", {"index.html": "home"})
    server = start_server(site, tmp_path / "log", *flag)
    request = urllib.request.Request(
        server.url + "/?q=1", headers={"User-Agent": 'probe "x"', "Referer": "http://r/"}
    )
    urllib.request.urlopen(request).read()
    assert server.stop() == 0
    lines = server.stdout().splitlines()
    if flag:
        assert lines == []
        return
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("127.0.0.1 - - [")
    assert '"GET /?q=1 HTTP/1.1" 200 4 "http://r/" "probe \\"x\\""' in line


def test_access_log_to_file(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"index.html": "home"})
    log_file = tmp_path / "access.log"
    server = start_server(site, tmp_path / "log", "--access-log", str(log_file))
    try:
        urllib.request.urlopen(server.url + "/nothing-here")
    except urllib.error.HTTPError as error:
        assert error.code == 404
    assert server.stop() == 0
    assert '"GET /nothing-here HTTP/1.1" 404' in log_file.read_text()


def test_unix_socket_endpoint(tmp_path: Path) -> None:
    import http.client
    import socket
    import time

    site = write_site(tmp_path / "site", {"index.html": "over unix"})
    sock_path = tmp_path / "krait.sock"
    server = start_server(
        site, tmp_path / "log", "--listen", f"unix:{sock_path}", listen=False, wait=False
    )

    def connect_when_listening() -> socket.socket:
        deadline = time.monotonic() + 20
        while True:
            sock = socket.socket(socket.AF_UNIX)
            try:
                sock.connect(str(sock_path))
                return sock
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = connect_when_listening()

    try:
        connection = UnixConnection("localhost")
        connection.request("GET", "/")
        assert connection.getresponse().read() == b"over unix"
    finally:
        server.stop()
    assert f"serving {site} on http on the unix socket {sock_path}\n" in server.stderr()


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"index.html": "home"})
    server = start_server(site, tmp_path / "log")
    assert urllib.request.urlopen(server.url + "/").read() == b"home"
    assert server.stop(timeout=10) == 0


def test_systemd_socket_activation(tmp_path: Path) -> None:
    """A listening socket handed over as systemd does (fd 3 and the LISTEN_* variables)."""
    import socket

    site = write_site(tmp_path / "site", {"index.html": "activated"})
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    handover = (
        "import os, sys\n"
        "os.dup2(int(sys.argv[1]), 3)\n"
        "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1', LISTEN_FDNAMES='http')\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'krait', *sys.argv[2:]])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [
        sys.executable,
        "-c",
        handover,
        str(listener.fileno()),
        str(site),
        "--listen",
        "systemd:domain=INET:index=0",
    ]
    process = subprocess.Popen(
        command,
        pass_fds=(listener.fileno(),),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "stderr.txt", "wb"),  # noqa: SIM115
    )
    listener.close()
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20).read()
        assert body == b"activated"
    finally:
        process.terminate()
        process.wait(10)
    ready = f"serving {site} on http://127.0.0.1:{port} (a socket from systemd)\n"
    assert ready in (tmp_path / "stderr.txt").read_text()


def test_systemd_endpoint_without_a_socket_is_reported(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"index.html": "hi"})
    done = run_krait(str(site), "--listen", "systemd:domain=INET:index=0")
    assert_one_clear_message(done, "systemd:domain=INET:index=0")
