"""A site that serves TLS the original's way, shared by the TLS and command-line tests.

Its ``.py/init.py`` names a certificate and an encrypted key in ``krait.config`` and reads the
key's passphrase from ``.private/ssl/pk_passphrase``, as the original demo site does.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme
from conftest import write_site
from cryptography.hazmat.primitives import serialization

PASSPHRASE = "correct horse battery staple"

INIT = """\
import krait
krait.config.ssl_certificate_path = krait.get_full_path('.private/ssl/cert.pem')
krait.config.ssl_private_key_path = krait.get_full_path('.private/ssl/key.pem')
with open(krait.get_full_path('.private/ssl/pk_passphrase')) as f:
    krait.config.ssl_key_passphrase = f.read().strip()
"""


def write_tls_site(root: Path, authority: trustme.CA, index: str = "secure hello") -> Path:
    """Create the site in ``root`` with a certificate for 127.0.0.1 from ``authority``."""
    cert = authority.issue_cert("127.0.0.1", "localhost")
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )
    return write_site(
        root,
        {
            ".py/init.py": INIT,
            ".private/ssl/cert.pem": b"".join(b.bytes() for b in cert.cert_chain_pems),
            ".private/ssl/key.pem": encrypted,
            ".private/ssl/pk_passphrase": PASSPHRASE + "\n",
            "index.html": index,
        },
    )


def client_context(authority: trustme.CA) -> ssl.SSLContext:
    """A client TLS context that trusts ``authority``."""
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context
