"""Listening sockets shared by worker processes: bound once by the supervisor, adopted by
every worker.

With ``--workers N`` the supervisor binds each ``--listen`` endpoint and the ``--https``
port once (so a port that is taken fails start-up once, with one message) and passes the
listening sockets to its workers as inherited file descriptors, in the order of
:func:`listener_names`. Every worker accepts from the same sockets, and the kernel hands
each new connection to one of the workers waiting in ``accept``. A worker that stops
listening closes only its own copy, so the sockets stay open across reloads and recycled
workers: no connection is refused while workers come and go.

TLS is a worker's business, as without workers: the supervisor only binds, and a worker
wraps the adopted socket in the same ``TLSMemoryBIOFactory`` and krait profile
(:mod:`krait._tls`) that ``ssl:`` endpoints and ``--https`` use in a single process.
"""

from __future__ import annotations

import os
import socket
from typing import Any, cast

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import TCP4ServerEndpoint, serverFromString
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.protocol import Factory
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from krait._errors import SiteConfigError
from krait._tls import certificate_options, with_krait_profile
from krait._twisted_compat import endpoint_tls_options, share_adopted_unix_port

__all__ = [
    "InheritedEndpoint",
    "bind_listeners",
    "https_tls_options",
    "inherited_endpoints",
    "listener_names",
]


def listener_names(options: Any) -> list[str]:
    """The listeners of ``options`` in the order their sockets are passed to workers."""
    names = list(options["listen"])
    if options["https"] is not None:
        names.append(f"--https {options['https']}")
    return names


def parse_endpoint(reactor: Any, description: str) -> Any:
    """``serverFromString``, with an error that says what a valid endpoint looks like."""
    try:
        return serverFromString(reactor, description)
    except Exception as error:  # each endpoint parser fails in its own way
        reason = str(error) or type(error).__name__
        if description.startswith("systemd:"):
            reason += " (no socket was passed by systemd at that index)"
        raise SiteConfigError(
            f"--listen {description!r} is not a valid endpoint: {reason}",
            hint="use a Twisted endpoint string, e.g. tcp:8080:interface=127.0.0.1",
        ) from None


def bind_listeners(reactor: Any, options: Any) -> list[IListeningPort]:
    """Bind every listener of ``options`` without accepting on it (the supervisor's part).

    Returns:
        The listening ports, in :func:`listener_names` order. They are not read by this
        process's reactor: their connections wait in the kernel for a worker's ``accept``.

    Raises:
        SiteConfigError: an endpoint is invalid or its port cannot be bound.
    """
    endpoints = [parse_endpoint(reactor, d) for d in options["listen"]]
    if options["https"] is not None:
        endpoints.append(
            TCP4ServerEndpoint(reactor, options["https"], interface=options["interface"] or "")
        )
    ports = []
    for endpoint in endpoints:
        port = _listen_now(endpoint)
        cast(Any, port).stopReading()
        ports.append(port)
    return ports


def _listen_now(endpoint: Any) -> IListeningPort:
    outcome: list[Any] = []
    quiet = Factory()
    quiet.noisy = False
    endpoint.listen(quiet).addBoth(outcome.append)
    result = outcome[0]  # these endpoints listen synchronously
    if isinstance(result, Failure):
        if result.check(CannotListenError):
            error: Any = result.value
            raise SiteConfigError(
                f"cannot listen on {error.interface or '*'}:{error.port}: {error.socketError}",
                hint="choose another port (--listen, -p, --https), or stop what listens there",
            )
        result.raiseException()
    port: IListeningPort = result
    return port


def https_tls_options(options: Any, site_config: Any) -> Any:
    """The TLS options of ``--https``: the certificate from the options or krait.config.

    Raises:
        SiteConfigError: no certificate or key is set, or they cannot be used.
    """
    cert = options["certificate"] or site_config.ssl_certificate_path
    key = options["privkey"] or site_config.ssl_private_key_path
    if not cert or not key:
        raise SiteConfigError(
            "HTTPS (--https, or -p with an HTTPS port) needs a certificate and a private key",
            hint="set krait.config.ssl_certificate_path and ssl_private_key_path in "
            ".py/init.py, or pass --certificate and --privkey",
        )
    passphrase = None if options["certificate"] else site_config.ssl_key_passphrase
    return certificate_options(cert, key, passphrase, http2=not options["no-http2"])


def inherited_endpoints(
    reactor: Any, options: Any, site_config: Any, fds: list[int]
) -> list[InheritedEndpoint]:
    """Endpoints for the sockets a worker inherited, with TLS where the listener has it.

    Raises:
        SiteConfigError: the descriptors do not match the listeners, or TLS cannot start.
    """
    names = listener_names(options)
    if len(fds) != len(names):
        raise SiteConfigError(
            f"--worker-fds gives {len(fds)} socket(s) for {len(names)} listener(s)",
            hint="--worker-fds is set by the supervisor (--workers); do not pass it by hand",
        )
    http2 = not options["no-http2"]
    endpoints = []
    for fd, name in zip(fds, names, strict=True):
        tls = None
        if name.startswith("ssl:"):
            profiled = with_krait_profile(parse_endpoint(reactor, name), name, http2=http2)
            tls = endpoint_tls_options(profiled)
        elif name.startswith("--https"):
            tls = https_tls_options(options, site_config)
        endpoints.append(InheritedEndpoint(reactor, fd, tls))
    return endpoints


@implementer(IStreamServerEndpoint)
class InheritedEndpoint:
    """A listening socket inherited as file descriptor ``fd``, with TLS if ``tls`` is set.

    Args:
        reactor: the reactor that adopts the socket.
        fd: the inherited descriptor; closed once adopted (the port keeps a duplicate).
        tls: Twisted TLS options (``CertificateOptions``), or None for plain TCP or UNIX.
    """

    def __init__(self, reactor: Any, fd: int, tls: Any = None) -> None:
        self.reactor = reactor
        self.fd = fd
        self.tls = tls

    def listen(self, factory: Any) -> Deferred[IListeningPort]:
        """Adopt the socket and accept connections for ``factory``."""
        if self.tls is not None:
            factory = TLSMemoryBIOFactory(self.tls, False, factory)
        try:
            family = _family_of(self.fd)
            os.set_blocking(self.fd, False)
            port = self.reactor.adoptStreamPort(self.fd, family, factory)
            os.close(self.fd)
        except OSError as error:
            return fail(CannotListenError(None, f"inherited fd {self.fd}", error))
        if family == socket.AF_UNIX:
            # The socket and its file belong to the supervisor: this worker only lets go.
            share_adopted_unix_port(port)
        return succeed(port)


def _family_of(fd: int) -> socket.AddressFamily:
    probe = socket.socket(fileno=fd)
    try:
        return probe.family
    finally:
        probe.detach()
