"""Who the client is behind trusted proxies: ``Forwarded`` and ``X-Forwarded-*``, from plain values.

A proxy in front of krait connects from its own address; the client's address, the scheme and
the host it asked for come in headers the proxy adds. Anyone can send those headers, so krait
believes them only from peers in ``--trusted-proxies``, and only as far as the chain of
trusted proxies goes: the client is the last address added by a proxy that krait does not
trust (RFC 7239 §7.4, and what nginx's ``real_ip_recursive on`` does).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ClientOrigin", "TrustedProxies", "client_origin", "parse_trusted_proxies"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ClientOrigin:
    """Where a request came from, as far as krait can tell.

    Attributes:
        address: the client's IP address (the peer's, unless a trusted proxy said otherwise).
        port: the client's port, when known.
        scheme: ``"http"`` or ``"https"`` as the client used it.
        host: the Host the client asked for, when a trusted proxy passed it on.
    """

    address: str
    port: int | None
    scheme: str
    host: str | None = None


@dataclass(frozen=True)
class TrustedProxies:
    """The networks whose forwarding headers krait believes (empty: none)."""

    networks: tuple[_Network, ...] = ()

    def trusts(self, address: str) -> bool:
        """Whether ``address`` (an IP, maybe ``[v6]`` or with a zone) is a trusted proxy."""
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.networks)


def parse_trusted_proxies(text: str | None) -> TrustedProxies:
    """``--trusted-proxies``: comma-separated addresses or CIDR networks.

    Raises:
        ValueError: an entry is not an address or network (the message names it).
    """
    networks: list[_Network] = []
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"--trusted-proxies: {entry!r} is not an IP address or network "
                "(write e.g. 127.0.0.1,10.0.0.0/8,::1)"
            ) from None
    return TrustedProxies(tuple(networks))


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    try:
        return ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None


def _node_address(node: str) -> tuple[str, int | None] | None:
    """An RFC 7239 node (``192.0.2.1:80``, ``"[2001:db8::1]:80"``, ``unknown``) as
    (address, port); None when it names no address."""
    node = node.strip().strip('"')
    port: int | None = None
    if node.startswith("["):
        address, _, rest = node[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif node.count(":") == 1:
        address, _, tail = node.partition(":")
        port = int(tail) if tail.isdigit() else None
    else:
        address = node
    ip = _ip(address)
    return (str(ip), port) if ip is not None else None


def _forwarded_elements(values: Sequence[str]) -> list[dict[str, str]]:
    """The ``Forwarded`` header's elements, oldest (nearest the client) first."""
    elements: list[dict[str, str]] = []
    for value in values:
        for element in value.split(","):
            pairs: dict[str, str] = {}
            for pair in element.split(";"):
                name, _, token = pair.partition("=")
                if name.strip():
                    pairs[name.strip().lower()] = token.strip().strip('"')
            elements.append(pairs)
    return elements


def client_origin(
    peer: str,
    peer_port: int | None,
    scheme: str,
    headers: Mapping[str, Sequence[str]],
    trusted: TrustedProxies,
) -> ClientOrigin:
    """The request's origin: the peer's, or what the trusted proxies in front of it say.

    Args:
        peer: the address of the connection's other end.
        peer_port: its port, if any.
        scheme: ``"https"`` for a TLS connection, else ``"http"``.
        headers: the request's headers by lower-case name, every value of each.
        trusted: the proxies whose headers count.

    Returns:
        The client's address, port, scheme and host.
    """
    origin = ClientOrigin(peer, peer_port, scheme)
    if not trusted.trusts(peer):
        return origin
    forwarded = headers.get("forwarded")
    if forwarded:
        hops = [
            (element.get("for", ""), element.get("proto"), element.get("host"))
            for element in _forwarded_elements(forwarded)
        ]
    else:
        chain = [
            address.strip()
            for value in headers.get("x-forwarded-for", ())
            for address in value.split(",")
        ]
        proto = _last(headers.get("x-forwarded-proto"))
        host = _last(headers.get("x-forwarded-host"))
        hops = [(address, None, None) for address in chain]
        if hops:
            hops[-1] = (hops[-1][0], proto, host)
    for node, proto, host in reversed(hops):
        found = _node_address(node)
        if found is None:
            break
        address, port = found
        origin = ClientOrigin(
            address,
            port,
            proto.lower() if proto in ("http", "https", "HTTP", "HTTPS") else origin.scheme,
            host or origin.host,
        )
        if not trusted.trusts(address):
            break
    return origin


def _last(values: Sequence[str] | None) -> str | None:
    if not values:
        return None
    return values[-1].split(",")[-1].strip() or None
