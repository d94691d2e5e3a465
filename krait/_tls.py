"""TLS server settings: certificate chain, (encrypted) key, ALPN, and one security profile.

Every TLS port krait opens, from ``--https`` or from an ``ssl:`` endpoint string, follows
Mozilla's "intermediate" profile (https://wiki.mozilla.org/Security/Server_Side_TLS): TLS 1.2
and 1.3 only, and under TLS 1.2 only forward-secret ECDHE key exchange with AEAD ciphers.
Static-RSA key exchange (no forward secrecy) and CBC suites (padding oracles: Lucky13, POODLE's
kin) are refused. DHE is left out because it needs DH parameters krait would have to manage;
every client of the intermediate profile's era speaks ECDHE. TLS 1.3 suites are OpenSSL's
defaults, all AEAD.
"""

from __future__ import annotations

import re
from typing import Any

from krait._errors import SiteConfigError
from krait._twisted_compat import endpoint_tls_options, set_endpoint_tls_options

__all__ = ["TLS12_CIPHERS", "certificate_options", "with_krait_profile"]

TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
"""The TLS 1.2 suites offered: Mozilla intermediate's, without DHE, in its order."""

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def certificate_options(
    certificate_path: str, key_path: str, passphrase: str | None = None, http2: bool = True
) -> Any:
    """Build Twisted ``CertificateOptions`` for serving TLS with krait's profile.

    Args:
        certificate_path: a PEM file with the certificate, optionally followed by its chain.
        key_path: a PEM file with the private key.
        passphrase: the key's passphrase, or None for an unencrypted key.
        http2: offer HTTP/2 by ALPN (``--no-http2`` offers HTTP/1.1 only).

    Returns:
        A ``twisted.internet.ssl.CertificateOptions`` offering HTTP/2 and HTTP/1.1 by ALPN.

    Raises:
        SiteConfigError: a file is missing, unreadable, or the key does not fit.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from OpenSSL import crypto

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
    options = _profile_options(
        crypto.PKey.from_cryptography_key(key),  # type: ignore[arg-type]
        crypto.X509.from_cryptography(certs[0]),
        [crypto.X509.from_cryptography(c) for c in certs[1:]],
        http2,
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


def with_krait_profile(endpoint: Any, description: str, http2: bool = True) -> Any:
    """Give an ``ssl:`` endpoint krait's TLS profile instead of Twisted's default ciphers.

    Twisted's ``ssl:`` endpoint string takes no cipher list, and its defaults still accept
    static-RSA and CBC suites. Other endpoints are returned as they are.

    Args:
        endpoint: an endpoint parsed from ``description`` by ``serverFromString``.
        description: the ``--listen`` endpoint string, for the error message.
        http2: offer HTTP/2 by ALPN (``--no-http2`` offers HTTP/1.1 only).

    Returns:
        ``endpoint``, its TLS options re-made with the same certificate, chain and key.

    Raises:
        SiteConfigError: the string chose an ``sslmethod`` (an old, fixed TLS version).
    """
    from OpenSSL import SSL
    from twisted.internet.endpoints import SSL4ServerEndpoint

    if not isinstance(endpoint, SSL4ServerEndpoint):
        return endpoint
    parsed = endpoint_tls_options(endpoint)
    if parsed.method not in (SSL.TLS_METHOD, SSL.SSLv23_METHOD):
        raise SiteConfigError(
            f"--listen {description!r} fixes the TLS version with sslmethod",
            hint="drop sslmethod=: krait offers TLS 1.2 and 1.3 and nothing older",
        )
    set_endpoint_tls_options(
        endpoint,
        _profile_options(parsed.privateKey, parsed.certificate, parsed.extraCertChain, http2),
    )
    return endpoint


def _profile_options(private_key: Any, certificate: Any, chain: list[Any], http2: bool) -> Any:
    """``CertificateOptions`` with krait's profile (see the module docstring)."""
    from twisted.internet.ssl import AcceptableCiphers, CertificateOptions, TLSVersion

    return CertificateOptions(
        privateKey=private_key,
        certificate=certificate,
        extraCertChain=chain,
        raiseMinimumTo=TLSVersion.TLSv1_2,
        acceptableCiphers=AcceptableCiphers.fromOpenSSLCipherString(TLS12_CIPHERS),
        acceptableProtocols=[b"h2", b"http/1.1"] if http2 else [b"http/1.1"],
    )


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
