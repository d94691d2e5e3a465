"""TLS: --https with krait.config.ssl_* (encrypted keys too), ssl: endpoints, the profile, h2."""

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
from twisted.internet.endpoints import serverFromString
from twisted.internet.testing import MemoryReactor
from ws_site import echo_site

from krait._errors import SiteConfigError
from krait._tls import with_krait_profile


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


# Suites the old defaults accepted and Mozilla's intermediate profile does not: static-RSA key
# exchange (no forward secrecy), and CBC whatever the key exchange.
WEAK_TLS12_SUITES = ["AES128-SHA", "AES256-SHA256", "AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA"]


@pytest.fixture(scope="module")
def rsa_authority() -> trustme.CA:
    """A CA issuing RSA certificates: the suites with static-RSA key exchange need one."""
    return trustme.CA(key_type=trustme.KeyType.RSA)


@pytest.fixture(scope="module")
def rsa_ports(
    tmp_path_factory: pytest.TempPathFactory, rsa_authority: trustme.CA
) -> Iterator[dict[str, int]]:
    """One server with an RSA certificate on an ``ssl:`` endpoint and on ``--https``."""
    root = tmp_path_factory.mktemp("rsa-tls")
    cert = rsa_authority.issue_cert("127.0.0.1", key_type=trustme.KeyType.RSA)
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    site = write_site(root / "site", {"index.html": "secure hello"})
    ports = {"ssl-endpoint": free_port(), "https": free_port()}
    endpoint = (
        f"ssl:{ports['ssl-endpoint']}:interface=127.0.0.1"
        f":privateKey={root / 'key.pem'}:certKey={root / 'cert.pem'}"
    )
    server = start_server(
        site,
        root / "log",
        *("--listen", endpoint, "--https", str(ports["https"])),
        *("--certificate", str(root / "cert.pem"), "--privkey", str(root / "key.pem")),
        listen=False,
        wait=False,
    )
    try:
        for port in ports.values():
            wait_for_port(port, server.process)
        yield ports
    finally:
        assert server.stop() == 0


def handshake(
    port: int, authority: trustme.CA, tls12_suite: str | None = None
) -> tuple[str | None, str]:
    """The TLS version and suite a Python client gets, offering ``tls12_suite`` alone if given."""
    context = ssl.create_default_context()
    authority.configure_trust(context)
    if tls12_suite is not None:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(tls12_suite)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        cipher = tls.cipher()
        assert cipher is not None
        return tls.version(), cipher[0]


@pytest.mark.parametrize("kind", ["ssl-endpoint", "https"])
@pytest.mark.parametrize("suite", WEAK_TLS12_SUITES)
def test_static_rsa_and_cbc_suites_are_refused(
    rsa_ports: dict[str, int], rsa_authority: trustme.CA, kind: str, suite: str
) -> None:
    with pytest.raises(ssl.SSLError, match=r"HANDSHAKE_FAILURE|NO_SHARED_CIPHER"):
        handshake(rsa_ports[kind], rsa_authority, suite)


@pytest.mark.parametrize("kind", ["ssl-endpoint", "https"])
def test_tls12_client_gets_ecdhe_with_aes_gcm(
    rsa_ports: dict[str, int], rsa_authority: trustme.CA, kind: str
) -> None:
    suite = "ECDHE-RSA-AES128-GCM-SHA256"
    assert handshake(rsa_ports[kind], rsa_authority, suite) == ("TLSv1.2", suite)


@pytest.mark.parametrize("kind", ["ssl-endpoint", "https"])
def test_tls13_is_chosen_when_the_client_offers_it(
    rsa_ports: dict[str, int], rsa_authority: trustme.CA, kind: str
) -> None:
    version, _suite = handshake(rsa_ports[kind], rsa_authority)
    assert version == "TLSv1.3"


def test_ecdsa_certificate_gets_ecdhe_ecdsa_aead_and_refuses_cbc(
    tls_site: Path, tmp_path: Path, authority: trustme.CA
) -> None:
    """trustme's default keys are ECDSA, as many real certificates are."""
    with https_site(tls_site, tmp_path) as port:
        for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"):
            assert handshake(port, authority, suite) == ("TLSv1.2", suite)
        with pytest.raises(ssl.SSLError):
            handshake(port, authority, "ECDHE-ECDSA-AES128-SHA")


def s_client(port: int, *args: str) -> tuple[str, str]:
    """The protocol and cipher ``openssl s_client`` negotiates; the cipher is "(NONE)" if none."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command (.ci/run installs it)")
    done = subprocess.run(
        [openssl, "s_client", "-connect", f"127.0.0.1:{port}", *args],
        input=b"",
        capture_output=True,
        timeout=20,
    )
    lines = done.stdout.decode(errors="replace").splitlines()
    new = next(line for line in lines if line.startswith("New, "))  # "New, TLSv1.2, Cipher is X"
    protocol, _, cipher = new.removeprefix("New, ").partition(", Cipher is ")
    return protocol, cipher


@pytest.mark.parametrize("kind", ["ssl-endpoint", "https"])
def test_openssl_s_client_sees_the_intermediate_profile(
    rsa_ports: dict[str, int], kind: str
) -> None:
    port = rsa_ports[kind]
    for suite in WEAK_TLS12_SUITES:
        assert s_client(port, "-tls1_2", "-cipher", suite)[1] == "(NONE)", suite
    good = "ECDHE-RSA-CHACHA20-POLY1305"
    assert s_client(port, "-tls1_2", "-cipher", good) == ("TLSv1.2", good)
    assert s_client(port)[0] == "TLSv1.3"
    # SECLEVEL=0 lets this OpenSSL offer TLS 1.1 at all; the server must still say no.
    assert s_client(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")[1] == "(NONE)"


def test_ssl_endpoint_with_a_fixed_sslmethod_is_a_config_error(
    tmp_path: Path, authority: trustme.CA
) -> None:
    cert = authority.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    description = f"ssl:0:privateKey={tmp_path / 'server.pem'}:sslmethod=TLSv1_METHOD"
    with pytest.warns(DeprecationWarning):
        endpoint = serverFromString(MemoryReactor(), description)
    with pytest.raises(SiteConfigError, match="drop sslmethod"):
        with_krait_profile(endpoint, description)


def test_endpoints_without_tls_are_left_as_they_are() -> None:
    endpoint = serverFromString(MemoryReactor(), "tcp:0")
    assert with_krait_profile(endpoint, "tcp:0") is endpoint
