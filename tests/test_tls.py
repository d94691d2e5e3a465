"""TLS: --https with krait.config.ssl_* (encrypted keys too), ssl: endpoints, TLS 1.2+, HTTP/2."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
import websocket
from conftest import Server, free_port, start_server, wait_for_port, write_site
from tls_site import client_context, write_tls_site
from ws_site import echo_site


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_site(tmp_path: Path, authority: trustme.CA) -> Path:
    """A site whose init.py names an encrypted key and reads its passphrase from .private/."""
    return write_tls_site(tmp_path / "site", authority)


@dataclass
class TlsServer:
    """A krait server on an ``ssl:`` endpoint, and the CA file that trusts it."""

    server: Server
    port: int
    ca_file: Path

    def curl(
        self, path: str, *args: str, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Fetch ``path`` with curl over HTTP/2."""
        url = f"https://127.0.0.1:{self.port}{path}"
        command = ["curl", "-s", "--http2", "--cacert", str(self.ca_file), *args, url]
        return subprocess.run(command, input=stdin, capture_output=True, timeout=60)


@contextlib.contextmanager
def tls_server(
    tmp_path: Path, authority: trustme.CA, site: Path, *args: str
) -> Iterator[TlsServer]:
    """Serve ``site`` on an ``ssl:`` endpoint with a certificate from ``authority``."""
    cert = authority.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    port = free_port()
    endpoint = (
        f"ssl:{port}:interface=127.0.0.1"
        f":privateKey={tmp_path / 'key.pem'}:certKey={tmp_path / 'cert.pem'}"
    )
    server = start_server(
        site, tmp_path / "log", "--listen", endpoint, *args, listen=False, wait=False
    )
    try:
        wait_for_port(port, server.process)
        yield TlsServer(server, port, ca_file)
    finally:
        assert server.stop() == 0


@contextlib.contextmanager
def https_site(site: Path, tmp_path: Path) -> Iterator[int]:
    """Serve ``site`` with ``--https`` on a free port (its certificate from krait.config)."""
    port = free_port()
    server = start_server(
        site,
        tmp_path / "log",
        "--https",
        str(port),
        "--interface",
        "127.0.0.1",
        listen=False,
        wait=False,
    )
    try:
        wait_for_port(port, server.process)
        yield port
    finally:
        assert server.stop() == 0


def test_https_port_uses_config_certificate_and_encrypted_key(
    tls_site: Path, tmp_path: Path, authority: trustme.CA
) -> None:
    with https_site(tls_site, tmp_path) as port:
        body = urllib.request.urlopen(
            f"https://127.0.0.1:{port}/", context=client_context(authority)
        ).read()
        assert body == b"secure hello"


def test_https_serves_beside_plain_http(
    tls_site: Path, tmp_path: Path, authority: trustme.CA
) -> None:
    port = free_port()
    server = start_server(
        tls_site, tmp_path / "log", "--https", str(port), "--interface", "127.0.0.1"
    )
    try:
        wait_for_port(port, server.process)
        assert urllib.request.urlopen(server.url + "/").read() == b"secure hello"
        secure = urllib.request.urlopen(
            f"https://127.0.0.1:{port}/", context=client_context(authority)
        )
        assert secure.read() == b"secure hello"
    finally:
        server.stop()


def test_ssl_endpoint_string(tls_site: Path, tmp_path: Path, authority: trustme.CA) -> None:
    with tls_server(tmp_path, authority, tls_site) as tls:
        body = urllib.request.urlopen(
            f"https://127.0.0.1:{tls.port}/", context=client_context(authority)
        ).read()
        assert body == b"secure hello"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_older_than_1_2_is_refused(
    tls_site: Path, tmp_path: Path, authority: trustme.CA
) -> None:
    with https_site(tls_site, tmp_path) as port:
        context = client_context(authority)
        try:
            context.minimum_version = ssl.TLSVersion.TLSv1_1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        except ValueError:
            pytest.skip("this OpenSSL cannot even offer TLS 1.1")
        with socket.create_connection(("127.0.0.1", port)) as raw, pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="127.0.0.1").do_handshake()
        modern = client_context(authority)
        modern.minimum_version = ssl.TLSVersion.TLSv1_2
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            modern.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_http2_is_negotiated_by_alpn(tls_site: Path, tmp_path: Path, authority: trustme.CA) -> None:
    with https_site(tls_site, tmp_path) as port:
        context = client_context(authority)
        context.set_alpn_protocols(["h2", "http/1.1"])
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.selected_alpn_protocol() == "h2"
        curl = shutil.which("curl")
        if (
            curl is None
            or "HTTP2" not in subprocess.run([curl, "-V"], capture_output=True, text=True).stdout
        ):
            return
        ca_file = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(ca_file))
        done = subprocess.run(
            [
                curl,
                "-s",
                "--http2",
                "--cacert",
                str(ca_file),
                "-w",
                "%{http_version}",
                f"https://127.0.0.1:{port}/",
            ],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert done.stdout == "secure hello2"


@pytest.mark.parametrize("kind", ["queue", "async"])
def test_websockets_work_over_tls(tmp_path: Path, authority: trustme.CA, kind: str) -> None:
    with tls_server(tmp_path, authority, echo_site(tmp_path / "ws-site")) as tls:
        ws = websocket.create_connection(
            f"wss://127.0.0.1:{tls.port}/echo?kind={kind}",
            sslopt={"ca_certs": str(tls.ca_file)},
            timeout=10,
        )
        ws.send("over tls")
        ws.send_binary(b"\x00\x01" * 40_000)
        assert ws.recv() == "over tls"
        assert ws.recv() == b"\x00\x01" * 40_000
        ws.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_http2_stream_of_a_generator_failing_midway_is_reset(
    tmp_path: Path, authority: trustme.CA
) -> None:
    site = write_site(
        tmp_path / "h2-site",
        {
            "fails.py": (
                "def parts():\n    yield 'first'\n    raise ValueError('midway')\nreturn parts()\n"
            ),
            "works.py": "def parts():\n    yield 'all'\n    yield ' of it'\nreturn parts()\n",
        },
    )
    with tls_server(tmp_path, authority, site) as tls:
        works = tls.curl("/works")
        assert (works.returncode, works.stdout) == (0, b"all of it")
        assert tls.curl("/fails").returncode != 0  # a reset stream, not a short "complete" body


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_http2_oversized_uploads_are_refused(tmp_path: Path, authority: trustme.CA) -> None:
    site = write_site(tmp_path / "h2-site", {"echo.py": "return 'ok'\n"})
    with tls_server(tmp_path, authority, site, "--max-body-size", "100000") as tls:
        known = tls.curl(
            "/echo",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--data-binary",
            "@-",
            stdin=b"x" * 300_000,
        )
        assert known.stdout == b"413"
        # Of unknown length (it might never end): the stream is reset once over the limit.
        unknown = tls.curl("/echo", "-o", "/dev/null", "-T", "-", stdin=b"x" * 3_000_000)
        assert unknown.returncode != 0
        assert tls.curl("/echo").stdout == b"ok"  # and the server goes on serving
