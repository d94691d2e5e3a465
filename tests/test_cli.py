"""The original command line, ``krait -p HTTP/HTTPS [--stdout F --stderr F] [-s] DIR``, beside
krait's own options; and ``--interface`` for the ports krait binds itself."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
import trustme
from conftest import REPO, Server, free_port, start_server, wait_for_port, write_site
from tls_site import client_context, write_tls_site
from twisted.copyright import version as twisted_version
from twisted.internet.endpoints import serverFromString
from twisted.internet.testing import MemoryReactor
from twisted.python import usage

from krait import __version__ as krait_version
from krait.__main__ import CommandOptions
from krait.tap import ORIGINAL, Options, PortSpecError, build_service

INSTALLED_KRAIT = Path(sys.executable).parent / "krait"


def parse(*args: str, options: Options | None = None) -> Options:
    """Options parsed from ``args`` as twistd (or, given CommandOptions, the command) would."""
    parsed = Options() if options is None else options
    parsed.parseOptions(list(args))
    return parsed


def test_p_with_an_http_port_is_listen_tcp() -> None:
    options = parse("-p", "8080/", "site")
    assert (options["listen"], options["https"], options["site"]) == (["tcp:8080"], None, "site")


def test_p_with_an_https_port_is_https_and_drops_the_default_http_port() -> None:
    options = parse("-p", "/8443", "site")
    assert (options["listen"], options["https"]) == ([], 8443)


def test_p_with_both_ports_serves_both() -> None:
    options = parse("--port", "80/443", "site")
    assert (options["listen"], options["https"]) == (["tcp:80"], 443)


def test_p_adds_to_listen_endpoints() -> None:
    options = parse("--listen", "unix:/run/krait.sock", "-p", "80/", "site")
    assert options["listen"] == ["unix:/run/krait.sock", "tcp:80"]


def test_https_port_in_p_and_in_https_is_refused() -> None:
    with pytest.raises(usage.UsageError, match="either in -p or as --https"):
        parse("-p", "80/443", "--https", "8443", "site")


def test_invalid_p_is_a_port_spec_error_naming_the_forms() -> None:
    with pytest.raises(PortSpecError, match=r"exactly one '/'.*'80/443'"):
        parse("-p", "8080", "site")


def test_interface_binds_the_ports_of_p() -> None:
    options = parse("-p", "80/443", "--interface", "127.0.0.1", "site")
    assert options["listen"] == ["tcp:80:interface=127.0.0.1"]
    assert options["interface"] == "127.0.0.1"


def test_interface_binds_the_default_port() -> None:
    assert parse("--interface", "127.0.0.1", "site")["listen"] == ["tcp:8080:interface=127.0.0.1"]


def test_ipv6_interface_survives_the_endpoint_string() -> None:
    (endpoint,) = parse("-p", "80/", "--interface", "::1", "site")["listen"]
    assert serverFromString(MemoryReactor(), endpoint)._interface == "::1"


def test_interface_with_no_port_to_bind_is_refused() -> None:
    with pytest.raises(usage.UsageError, match=re.escape("tcp:8080:interface=127.0.0.1")):
        parse("--listen", "tcp:80", "--interface", "127.0.0.1", "site")


def test_interface_must_be_an_ip_address() -> None:
    with pytest.raises(usage.UsageError, match=r"IP address.*'localhost'"):
        parse("-p", "80/", "--interface", "localhost", "site")


def test_s_is_single_process_and_takes_no_value() -> None:
    options = parse("-s", "-p", "8080/", "site")
    assert (options["single-process"], options["site"]) == (True, "site")


@pytest.mark.parametrize("given", [["--stdout", "out.log"], ["--stderr", "err.log"]])
def test_stdout_and_stderr_go_together(given: list[str]) -> None:
    with pytest.raises(usage.UsageError, match="--stdout and --stderr go together"):
        parse(*given, "-p", "8080/", "site", options=CommandOptions())


def test_twistd_leaves_output_files_to_its_own_logfile_option() -> None:
    with pytest.raises(usage.UsageError, match="stdout"):
        parse("--stdout", "out.log", "--stderr", "err.log", "site")


def test_help_marks_the_original_forms_and_only_them() -> None:
    lines = str(CommandOptions()).splitlines()

    def line_of(option: str) -> str:
        (line,) = [line for line in lines if line.lstrip().startswith(option)]
        return line

    for option in ("-p, --port=", "-s, --single-process", "--stdout=", "--stderr="):
        assert ORIGINAL in line_of(option)
    for option in ("-l, --listen=", "--https=", "--interface=", "-t, --threads=", "--site="):
        assert ORIGINAL not in line_of(option)


def test_https_and_p_ports_are_bound_to_the_interface(tmp_path: Path) -> None:
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    site = write_site(tmp_path / "site", {"index.html": "hi"})
    options = parse(
        *("-p", "8080/8443", "--interface", "127.0.0.1"),
        *("--certificate", str(tmp_path / "cert.pem"), "--privkey", str(tmp_path / "key.pem")),
        str(site),
    )
    reactor = MemoryReactor()
    service = build_service(options, reactor)
    service.privilegedStartService()
    try:
        assert [(port, interface) for port, *_, interface in reactor.tcpServers] == [
            (8080, "127.0.0.1")
        ]
        assert [(port, interface) for port, *_, interface in reactor.sslServers] == [
            (8443, "127.0.0.1")
        ]
    finally:
        service.stopService()


def krait_command(*args: str) -> list[str]:
    """The ``krait`` console script with ``args``, or its entry point where it is not installed.

    PYTHONPATH puts this checkout first either way (``test_plugin`` checks the script itself).
    """
    if INSTALLED_KRAIT.is_file():
        return [str(INSTALLED_KRAIT), *args]
    entry_point = "import sys; from krait.__main__ import main; sys.exit(main())"
    return [sys.executable, "-c", entry_point, *args]


def command_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


def refused_on_another_loopback_address(port: int) -> bool:
    """Whether 127.0.0.2:``port`` refuses, i.e. the server did not bind every interface."""
    try:
        with socket.create_connection(("127.0.0.2", port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


class StartKrait(Protocol):
    def __call__(self, *args: str, port: int) -> Server: ...


@pytest.fixture
def krait(tmp_path: Path) -> Iterator[StartKrait]:
    """Start ``krait ARGS...`` and wait for ``port``; every server is stopped after."""
    servers: list[Server] = []

    def start(*args: str, port: int) -> Server:
        log_dir = tmp_path / f"krait{len(servers)}"
        log_dir.mkdir()
        process = subprocess.Popen(
            krait_command(*args),
            stdout=open(log_dir / "stdout.txt", "wb"),  # noqa: SIM115
            stderr=open(log_dir / "stderr.txt", "wb"),  # noqa: SIM115
            env=command_env(),
            cwd=log_dir,
        )
        server = Server(process=process, port=port, log_dir=log_dir)
        servers.append(server)
        try:
            wait_for_port(port, process)
        except RuntimeError:
            server.stop()
            raise RuntimeError(f"krait did not start:\n{server.stderr()}") from None
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.stop()


def test_krait_p_http_port_serves_pages_on_the_interface(krait: StartKrait, tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"index.html": "home"})
    port = free_port()
    server = krait("-s", "-p", f"{port}/", "--interface", "127.0.0.1", str(site), port=port)
    assert urllib.request.urlopen(server.url + "/", timeout=10).read() == b"home"
    assert refused_on_another_loopback_address(port)
    assert server.stop() == 0
    assert server.stderr().count("-s/--single-process is ignored") == 1


def test_krait_p_https_port_serves_tls_with_the_certificate_of_init_py(
    krait: StartKrait, tmp_path: Path
) -> None:
    authority = trustme.CA()
    site = write_tls_site(tmp_path / "site", authority)
    port = free_port()
    krait("-p", f"/{port}", "--interface", "127.0.0.1", str(site), port=port)
    body = urllib.request.urlopen(
        f"https://127.0.0.1:{port}/", context=client_context(authority), timeout=10
    ).read()
    assert body == b"secure hello"
    assert refused_on_another_loopback_address(port)


def test_https_binds_only_the_interface_given(krait: StartKrait, tmp_path: Path) -> None:
    authority = trustme.CA()
    site = write_tls_site(tmp_path / "site", authority)
    port = free_port()
    krait(str(site), "--https", str(port), "--interface", "127.0.0.1", port=port)
    secure = urllib.request.urlopen(
        f"https://127.0.0.1:{port}/", context=client_context(authority), timeout=10
    )
    assert secure.read() == b"secure hello"
    assert refused_on_another_loopback_address(port)


@pytest.mark.parametrize("spec", ["8080", "/", "http/", "80/80"])
def test_invalid_port_spec_exits_with_status_10(spec: str, tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"index.html": "home"})
    done = subprocess.run(
        krait_command("-p", spec, str(site)),
        capture_output=True,
        text=True,
        env=command_env(),
        timeout=60,
    )
    assert done.returncode == 10
    assert f"krait: -p {spec!r}" in done.stderr
    assert "Traceback" not in done.stderr


def test_stdout_and_stderr_files_take_the_output(krait: StartKrait, tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "site", {"index.html": "home", "hello.py": "print('printed')\nreturn 'hi'"}
    )
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    port = free_port()
    server = krait(
        *("-p", f"{port}/", "--interface", "127.0.0.1"),
        *("--stdout", str(out), "--stderr", str(err), str(site)),
        port=port,
    )
    assert urllib.request.urlopen(server.url + "/hello", timeout=10).read() == b"hi"
    assert server.stop() == 0
    assert (server.stdout(), server.stderr()) == ("", "")
    assert '"GET /hello HTTP/1.1" 200 2' in out.read_text()
    assert f"starting on {port}" in err.read_text()
    assert "printed" in err.read_text()  # a script's print() goes to the server log


def test_twistd_krait_takes_p(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"index.html": "served by twistd"})
    port = free_port()
    server = start_server(
        site,
        tmp_path / "log",
        *("-p", f"{port}/", "--interface", "127.0.0.1"),
        port=port,
        listen=False,
        twistd=True,
    )
    try:
        assert urllib.request.urlopen(server.url + "/", timeout=10).read() == b"served by twistd"
    finally:
        server.stop()


VERSION_LINE = re.compile(r"krait (\S+) \(Twisted (\S+), Python (\S+)\)\n")


def test_version_names_krait_twisted_and_python() -> None:
    done = subprocess.run(
        krait_command("--version"), capture_output=True, text=True, env=command_env(), timeout=60
    )
    assert done.returncode == 0
    match = VERSION_LINE.fullmatch(done.stdout)
    assert match is not None, done.stdout
    assert match[1] == krait_version
    assert match[2] == twisted_version
    assert match[3] == platform.python_version()


def test_twistd_krait_version_is_krait_s_too() -> None:
    twistd_bin = str(Path(sys.executable).parent / "twistd")
    done = subprocess.run(
        [twistd_bin, "krait", "--version"],
        capture_output=True,
        text=True,
        env=command_env(),
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.startswith(f"krait {krait_version} (Twisted ")
