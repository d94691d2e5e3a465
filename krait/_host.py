"""The Host header check of RFC 9112 §3.2, from plain values.

A request without a Host (HTTP/1.1), with two, or with one that is not a ``host[:port]`` is
answered 400 by ``KraitRequest.process``. Values already found valid are remembered: a server
sees few of them, and a regex per request showed in profiles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["host_problem"]

# RFC 9110 §7.2 / RFC 3986 §3.2.2: uri-host [ ":" port ], empty allowed.
_VALID_HOST = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:[0-9]*)?")


_GOOD_HOSTS: set[bytes] = set()
"""Host values already found valid: a server sees few, and a regex per request showed."""


def host_problem(values: Sequence[bytes] | None, version: bytes) -> str | None:
    """Why a request's Host header fields are unacceptable (RFC 9112 §3.2), or None."""
    if values and len(values) == 1 and values[0] in _GOOD_HOSTS:
        return None
    if not values:
        return "an HTTP/1.1 request needs a Host header" if version == b"HTTP/1.1" else None
    # HTTP/2 may carry both :authority and Host (RFC 9113 §8.3.1); twisted.web turns the
    # first into a Host too, so the same value twice is fine there.
    if len(values) > 1 and (version != b"HTTP/2" or len(set(values)) > 1):
        return "more than one Host header"
    if not _VALID_HOST.fullmatch(values[0]):
        return "the Host header is not a host[:port]"
    if len(values) == 1 and len(_GOOD_HOSTS) < 256:
        _GOOD_HOSTS.add(values[0])
    return None
