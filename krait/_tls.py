"""TLS server settings from PEM files: certificate chain, (encrypted) key, TLS 1.2+, ALPN."""

from __future__ import annotations

import re
from typing import Any

from krait._errors import SiteConfigError

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def certificate_options(certificate_path: str, key_path: str, passphrase: str | None = None) -> Any:
    """Build Twisted ``CertificateOptions`` for serving TLS 1.2 or newer.

    Args:
        certificate_path: a PEM file with the certificate, optionally followed by its chain.
        key_path: a PEM file with the private key.
        passphrase: the key's passphrase, or None for an unencrypted key.

    Returns:
        A ``twisted.internet.ssl.CertificateOptions`` offering HTTP/2 and HTTP/1.1 by ALPN.

    Raises:
        SiteConfigError: a file is missing, unreadable, or the key does not fit.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from OpenSSL import crypto
    from twisted.internet.ssl import CertificateOptions, TLSVersion

    cert_pem = _read(certificate_path, "certificate")
    key_pem = _read(key_path, "private key")
    blocks = _PEM_CERT.findall(cert_pem)
    if not blocks:
        raise SiteConfigError(
            "no PEM certificate found in the file",
            filename=certificate_path,
            hint="give a PEM file that starts with -----BEGIN CERTIFICATE-----",
        )
    try:
        key = load_pem_private_key(
            key_pem, password=passphrase.encode() if passphrase is not None else None
        )
    except TypeError as error:
        raise SiteConfigError(
            f"the private key cannot be loaded: {error}",
            filename=key_path,
            hint="set krait.config.ssl_key_passphrase for an encrypted key (and only then)",
        ) from None
    except ValueError as error:
        raise SiteConfigError(
            f"the private key cannot be loaded: {error}",
            filename=key_path,
            hint="check the passphrase and that the file is a PEM private key",
        ) from None
    certs = [x509.load_pem_x509_certificate(block) for block in blocks]
    options = CertificateOptions(
        privateKey=crypto.PKey.from_cryptography_key(key),  # type: ignore[arg-type]
        certificate=crypto.X509.from_cryptography(certs[0]),
        extraCertChain=[crypto.X509.from_cryptography(c) for c in certs[1:]],
        raiseMinimumTo=TLSVersion.TLSv1_2,
        acceptableProtocols=[b"h2", b"http/1.1"],
    )
    try:
        options.getContext()
    except Exception as error:
        raise SiteConfigError(
            f"the certificate and the private key do not work together: {error}",
            filename=certificate_path,
            hint=f"check that {key_path} is the key of this certificate",
        ) from None
    return options


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise SiteConfigError(
            f"cannot read the TLS {what}: {error.strerror}",
            filename=path,
            hint=f"set the {what} path in krait.config (ssl_*) or with --certificate/--privkey",
        ) from None
