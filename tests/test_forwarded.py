"""The client behind trusted proxies, from plain values (RFC 7239 and X-Forwarded-*)."""

from __future__ import annotations

import pytest

from krait._forwarded import ClientOrigin, client_origin, parse_trusted_proxies

TRUSTED = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8, ::1")


def origin(peer: str, headers: dict[str, list[str]], scheme: str = "http") -> ClientOrigin:
    return client_origin(peer, 5000, scheme, headers, TRUSTED)


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_sends() -> None:
    headers = {"x-forwarded-for": ["203.0.113.9"], "x-forwarded-proto": ["https"]}
    assert origin("198.51.100.7", headers) == ClientOrigin("198.51.100.7", 5000, "http")


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client() -> None:
    headers = {
        "x-forwarded-for": ["203.0.113.9"],
        "x-forwarded-proto": ["https"],
        "x-forwarded-host": ["example.org"],
    }
    assert origin("127.0.0.1", headers) == ClientOrigin("203.0.113.9", None, "https", "example.org")


def test_the_client_is_the_last_address_no_trusted_proxy_added() -> None:
    """A client may send its own X-Forwarded-For: only what trusted proxies appended counts."""
    headers = {"x-forwarded-for": ["1.2.3.4, 203.0.113.9, 10.1.2.3"]}
    assert origin("127.0.0.1", headers).address == "203.0.113.9"


def test_forwarded_header_wins_and_carries_port_and_proto() -> None:
    headers = {
        "forwarded": ['for="[2001:db8::7]:4711";proto=https;host=example.org, for=10.0.0.2'],
        "x-forwarded-for": ["6.6.6.6"],
    }
    assert origin("::1", headers) == ClientOrigin("2001:db8::7", 4711, "https", "example.org")


@pytest.mark.parametrize("node", ["unknown", "_hidden", "not an address"])
def test_an_obfuscated_hop_stops_the_walk_at_the_last_known_proxy(node: str) -> None:
    headers = {"forwarded": [f"for={node}, for=10.0.0.5"]}
    assert origin("127.0.0.1", headers).address == "10.0.0.5"


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ValueError, match=r"'proxy\.local' is not an IP address or network"):
        parse_trusted_proxies("127.0.0.1,proxy.local")
    assert parse_trusted_proxies("").trusts("127.0.0.1") is False
    assert parse_trusted_proxies("10.0.0.0/8").trusts("10.200.3.4") is True
